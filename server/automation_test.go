package server

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// TestDataSourceModeFields: a data source's fulfilment fields are set on
// create and patch, answered on read, and a bad value is a 422 naming its
// field, with nothing stored.
func TestDataSourceModeFields(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	owner, admin := e.user(dsar.RoleOrgOwner)
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"name": "CRM", "owner_ids": []string{owner.ID}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for field, bad := range map[string]any{"mode": "oracle", "time_limit": "soon", "task_queue": "  ", "dry_run": "yes"} {
		res := e.want(e.do("POST", "/api/v1/data-sources", admin, base(map[string]any{field: bad})), http.StatusUnprocessableEntity, "bad "+field)
		errJSON, _ := res.JSON(t)["error"].(map[string]any)
		if fields, _ := errJSON["fields"].(map[string]any); fields[field] == nil {
			t.Errorf("bad %s answered %s", field, res.Body)
		}
	}
	if list := e.want(e.do("GET", "/api/v1/data-sources", admin, nil), http.StatusOK, "list").JSON(t)["items"].([]any); len(list) != 0 {
		t.Fatalf("a refused source was stored: %v", list)
	}
	plain := e.want(e.do("POST", "/api/v1/data-sources", admin, base(nil)), http.StatusCreated, "manual source").JSON(t)
	id := plain["id"].(string)
	if plain["mode"] != "manual" || plain["task_queue"] != "dsar-source-"+id[:8] || plain["dry_run"] != false || plain["time_limit"] != "72h0m0s" {
		t.Errorf("defaults: %v", plain)
	}
	got := e.want(e.do("PATCH", "/api/v1/data-sources/"+id, admin, map[string]any{"mode": "webhook", "time_limit": "2h", "dry_run": true,
		"webhook_url": "https://crm.example.com/dsar"}),
		http.StatusOK, "patch").JSON(t)
	if got["mode"] != "webhook" || got["time_limit"] != "2h0m0s" || got["dry_run"] != true || got["name"] != "CRM" {
		t.Errorf("patched: %v", got)
	}
	e.want(e.do("PATCH", "/api/v1/data-sources/"+id, admin, map[string]any{"time_limit": "1000h0m0s0"}), http.StatusUnprocessableEntity, "bad limit")
	read := e.want(e.do("GET", "/api/v1/data-sources/"+id, admin, nil), http.StatusOK, "read").JSON(t)
	if read["mode"] != "webhook" || read["time_limit"] != "2h0m0s" {
		t.Errorf("read back: %v", read)
	}
}

// TestAutomationActions: a deletion's automated source runs on its own
// task queue; bad credentials put the task in needs attention (shown on
// the request), completing it by hand or approving is 409, a retry after
// the fix is 200 and the dry run then waits for the approval of the rows
// it matched; approved, the task is erased by the system. Another source's
// automated task is switched to manual (422 without a reason, 409 twice).
func TestAutomationActions(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	owner, manager := e.user(dsar.RoleManager)
	_, admin := e.user(dsar.RoleAdmin)
	queue := "crm-connector-" + e.cfg.Temporal.TaskQueue
	crmID := e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "CRM", "owner_ids": []string{owner.ID},
		"mode": "postgres", "task_queue": queue, "dry_run": true}), http.StatusCreated, "crm").JSON(t)["id"].(string)
	billingID := e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "Billing", "owner_ids": []string{owner.ID},
		"mode": "mysql", "task_queue": "nobody-polls-" + e.cfg.Temporal.TaskQueue}), http.StatusCreated, "billing").JSON(t)["id"].(string)

	// The connector next to the CRM: its password is wrong until fixed.
	var fixed atomic.Bool
	w := sdkworker.New(e.temporal, queue, sdkworker.Options{})
	workflows.RegisterSource(w)
	w.RegisterActivityWithOptions(func(_ context.Context, in workflows.StepInput) (workflows.StepResult, error) {
		if !fixed.Load() {
			return workflows.StepResult{}, temporal.NewNonRetryableApplicationError("password authentication failed", workflows.ErrConnectorAuth, nil)
		}
		switch in.Step {
		case workflows.StepIdentify:
			return workflows.StepResult{Step: in.Step, Subjects: 1}, nil
		case workflows.StepCount, workflows.StepErase:
			return workflows.StepResult{Step: in.Step, Rows: 7}, nil
		}
		return workflows.StepResult{Step: in.Step}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityConnectorStep})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	id := e.request(newRequest{Type: dsar.RequestDeletion, Document: pngDocument})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", manager, map[string]any{"data_source_ids": []string{crmID, billingID}}),
		http.StatusOK, "assign")

	automation := func(ds string) map[string]any {
		d := e.want(e.do("GET", "/api/v1/requests/"+id, manager, nil), http.StatusOK, "detail").JSON(t)
		for _, tk := range d["tasks"].([]any) {
			if tk := tk.(map[string]any); tk["data_source_id"] == ds {
				a, _ := tk["automation"].(map[string]any)
				if a == nil {
					a = map[string]any{}
				}
				a["task_status"], a["mode"], a["outcome"], a["record_count"] = tk["status"], tk["mode"], tk["outcome"], tk["record_count"]
				return a
			}
		}
		return map[string]any{}
	}
	task := "/api/v1/requests/" + id + "/tasks/" + crmID
	e.eventually("the CRM's task needs attention", func() bool { return automation(crmID)["state"] == "needs_attention" })
	if a := automation(crmID); a["error_type"] != workflows.ErrConnectorAuth || a["mode"] != "postgres" || a["step"] != "identify" {
		t.Errorf("needs attention: %v", a)
	}
	e.want(e.do("POST", task+"/completion", manager, map[string]any{"outcome": "erased"}), http.StatusConflict, "complete by hand")
	e.want(e.do("POST", task+"/automation/approval", manager, map[string]any{"approved": true}), http.StatusConflict, "approve with nothing to approve")
	fixed.Store(true)
	e.want(e.do("POST", task+"/automation/retry", manager, nil), http.StatusOK, "retry")
	e.eventually("the dry run waits for approval", func() bool { return automation(crmID)["state"] == "waiting_approval" })
	if a := automation(crmID); a["matched"] != float64(7) {
		t.Errorf("dry run: %v", a)
	}
	e.want(e.do("POST", task+"/automation/retry", manager, nil), http.StatusConflict, "retry while waiting for approval")
	e.want(e.do("POST", task+"/automation/approval", manager, map[string]any{}), http.StatusUnprocessableEntity, "approval without a decision")
	e.want(e.do("POST", task+"/automation/approval", manager, map[string]any{"approved": true, "note": "7 rows is right"}), http.StatusOK, "approve")
	e.eventually("the CRM's task is erased by the system", func() bool { return automation(crmID)["task_status"] == "completed" })
	if a := automation(crmID); a["outcome"] != "erased" || a["record_count"] != float64(7) || a["state"] != "done" {
		t.Errorf("done: %v", a)
	}

	billing := "/api/v1/requests/" + id + "/tasks/" + billingID
	if a := automation(billingID); a["state"] != "running" || a["mode"] != "mysql" {
		t.Errorf("billing before its connector runs: %v", a)
	}
	e.want(e.do("POST", billing+"/automation/manual", manager, map[string]any{"reason": " "}), http.StatusUnprocessableEntity, "no reason")
	e.want(e.do("POST", billing+"/automation/manual", manager, map[string]any{"reason": "the connector is not deployed yet"}), http.StatusOK, "manual")
	if a := automation(billingID); a["state"] != "manual" || a["task_status"] != "open" {
		t.Errorf("billing after the switch: %v", a)
	}
	e.want(e.do("POST", billing+"/automation/manual", manager, map[string]any{"reason": "again"}), http.StatusConflict, "manual twice")
	e.want(e.do("POST", billing+"/completion", manager, map[string]any{"outcome": "no_data"}), http.StatusOK, "complete by hand")
	e.wantStatus(manager, id, "ready_to_close")
	trail := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", manager, nil), http.StatusOK, "audit")
	for _, want := range []string{dsar.AuditConnectorStep, dsar.AuditAutomationAttention, dsar.AuditAutomationRetried, dsar.AuditAutomationApproval, dsar.AuditAutomationManual} {
		if !strings.Contains(string(trail.Body), `"`+want+`"`) {
			t.Errorf("no %s in the trail", want)
		}
	}
}
