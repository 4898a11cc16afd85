package server

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// TestAdminStory walks the seed's admin story through the API, against
// Postgres and the real workflow on the Temporal dev server: users, data
// sources, the queue, the identity document, verification, assignment, a
// task completed by its owner (and refused to another owner), completion.
func TestAdminStory(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, _ := e.user(dsar.RoleOrgOwner)

	// The org owner signs in with a password.
	login := e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": boss.Email, "password": "correct horse battery"}),
		http.StatusCreated, "login").JSON(t)
	admin := login["token"].(string)
	if u := login["user"].(map[string]any); u["role"] != "org_owner" || u["email"] != boss.Email {
		t.Fatalf("login user = %v", u)
	}

	// Two source owners.
	newOwner := func(name string) (id, email string) {
		email = strings.ToLower(name) + "@example.com"
		u := e.want(e.do("POST", "/api/v1/users", admin, map[string]string{"email": email, "name": name,
			"role": "source_owner", "password": "a long enough password"}), http.StatusCreated, "create "+name).JSON(t)
		return u["id"].(string), email
	}
	ownerID, ownerEmail := newOwner("Olivia")
	_, otherEmail := newOwner("Oscar")

	// A data source owned by Olivia; one owned by a user who does not exist is refused.
	ds := e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "CRM", "description": "Customer records",
		"owner_ids": []string{ownerID}}), http.StatusCreated, "create data source").JSON(t)
	dsID := ds["id"].(string)
	if owners := ds["owners"].([]any); len(owners) != 1 || owners[0].(map[string]any)["id"] != ownerID {
		t.Fatalf("owners = %v", ds["owners"])
	}
	ghost := "5f0c3b7e-2a4d-4c8e-9f1a-000000000000"
	bad := e.want(e.do("POST", "/api/v1/data-sources", admin, map[string]any{"name": "Mail tool", "owner_ids": []string{ghost}}),
		http.StatusUnprocessableEntity, "data source with a non-user owner").JSON(t)
	if f := bad["error"].(map[string]any)["fields"].(map[string]any)["owner_ids"].(string); !strings.Contains(f, ghost) {
		t.Fatalf("the 422 does not name the unknown owner: %s", f)
	}

	// Requests: one verified (from Germany), one still waiting for its email link.
	id := e.request(newRequest{Document: pngDocument, Country: "DE"})
	waiting := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)

	// The verified one is found in the queue by filter; the other is not.
	q := e.want(e.do("GET", "/api/v1/requests?status=awaiting_identity&country=DE&request_type=info", admin, nil),
		http.StatusOK, "queue").JSON(t)
	items := q["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Fatalf("queue by filter = %v, want only %s (not %s)", items, id, waiting)
	}

	// The detail: PII decrypted, the deadline and the rule that set it.
	d := e.want(e.do("GET", "/api/v1/requests/"+id, admin, nil), http.StatusOK, "detail").JSON(t)
	if d["first_name"] != "Ada" || d["status"] != "awaiting_identity" {
		t.Fatalf("detail = %v", d)
	}
	if rule := d["deadline_rule"].(map[string]any); rule["id"] != "gdpr" || rule["name"] == "" {
		t.Fatalf("deadline rule = %v", rule)
	}

	// The identity document, viewed (and audited), then verified.
	doc := e.want(e.do("GET", "/api/v1/requests/"+id+"/identity-document", admin, nil), http.StatusOK, "identity document")
	if doc.Header.Get("Content-Type") != "image/png" || !bytes.Equal(doc.Body, pngDocument) ||
		doc.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(doc.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Fatalf("document answer: %v", doc.Header)
	}
	// Opened from its URL, an uploaded file (a PDF may hold script) runs
	// sandboxed, apart from the console's origin.
	if csp := doc.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("document CSP: %q", csp)
	}
	v := e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", admin, map[string]any{"verified": true, "note": "passport matches"}),
		http.StatusOK, "verify identity").JSON(t)
	if v["status"] != "identity_verified" {
		t.Fatalf("verification answer = %v", v)
	}
	e.want(e.do("GET", "/api/v1/requests/"+id+"/identity-document", admin, nil), http.StatusGone, "document after the decision")
	e.wantStatus(admin, id, "identity_verified")
	if d := e.want(e.do("GET", "/api/v1/requests/"+id, admin, nil), http.StatusOK, "detail").JSON(t); d["identity_note"] != "passport matches" {
		t.Fatalf("the request does not keep the identity note: %v", d["identity_note"])
	}

	// Assign the CRM; the request is in progress with one open task.
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", admin, map[string]any{"data_source_ids": []string{ghost}}),
		http.StatusUnprocessableEntity, "assign an unknown data source")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", admin, map[string]any{"data_source_ids": []string{dsID}}),
		http.StatusOK, "assign")
	d = e.wantStatus(admin, id, "in_progress")
	tasks := d["tasks"].([]any)
	if len(tasks) != 1 || tasks[0].(map[string]any)["name"] != "CRM" || tasks[0].(map[string]any)["status"] != "open" {
		t.Fatalf("tasks = %v", tasks)
	}

	// The deadline is extended, within what the GDPR allows.
	before := d["deadline"].(string)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/extension", admin, map[string]any{"days": 100, "reason": "complex"}),
		http.StatusUnprocessableEntity, "extend beyond the rule")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/extension", admin, map[string]any{"days": 10}),
		http.StatusUnprocessableEntity, "extend without a reason")
	ext := e.want(e.do("POST", "/api/v1/requests/"+id+"/extension", admin, map[string]any{"days": 10, "reason": "many systems"}),
		http.StatusOK, "extend").JSON(t)
	d = e.want(e.do("GET", "/api/v1/requests/"+id, admin, nil), http.StatusOK, "detail").JSON(t)
	if d["extended"] != true || d["deadline"] == before {
		t.Fatalf("the detail does not show the extension: %v", d)
	}
	if got, _ := time.Parse(time.RFC3339, d["deadline"].(string)); !got.Equal(mustTime(t, ext["deadline"])) {
		t.Fatalf("deadline %v, the answer said %v", d["deadline"], ext["deadline"])
	}

	// The request still waiting for its email link is rejected as a duplicate.
	e.want(e.do("POST", "/api/v1/requests/"+waiting+"/rejection", admin, map[string]any{"reasons": []string{"bored"}}),
		http.StatusUnprocessableEntity, "reject with an unknown reason")
	e.want(e.do("POST", "/api/v1/requests/"+waiting+"/rejection", admin, map[string]any{"reasons": []string{"duplicate"}, "note": "same as " + id}),
		http.StatusOK, "reject")
	e.wantStatus(admin, waiting, "rejected")

	// Completing the request with the task open is refused.
	conflict := e.want(e.do("POST", "/api/v1/requests/"+id+"/completion", admin, map[string]any{"note": "done?"}),
		http.StatusConflict, "complete with an open task").JSON(t)
	if msg := conflict["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "in_progress") {
		t.Fatalf("the 409 does not name the status: %s", msg)
	}

	// Oscar owns nothing here: the request and the task do not exist for him.
	oscar := e.loginAs(otherEmail)
	e.want(e.do("GET", "/api/v1/requests/"+id, oscar, nil), http.StatusNotFound, "someone else's request")
	e.want(e.do("POST", fmt.Sprintf("/api/v1/requests/%s/tasks/%s/completion", id, dsID), oscar, map[string]string{"note": "x"}),
		http.StatusNotFound, "someone else's task")

	// Olivia sees her task and completes it.
	olivia := e.loginAs(ownerEmail)
	mine := e.want(e.do("GET", "/api/v1/tasks?status=open", olivia, nil), http.StatusOK, "my tasks").JSON(t)["items"].([]any)
	e.eventually("the owner's task list shows the task", func() bool {
		mine = e.want(e.do("GET", "/api/v1/tasks?status=open", olivia, nil), http.StatusOK, "my tasks").JSON(t)["items"].([]any)
		return len(mine) == 1
	})
	if mine[0].(map[string]any)["request_id"] != id {
		t.Fatalf("my tasks = %v", mine)
	}
	done := e.want(e.do("POST", fmt.Sprintf("/api/v1/requests/%s/tasks/%s/completion", id, dsID), olivia, map[string]string{"note": "exported"}),
		http.StatusOK, "complete my task").JSON(t)
	if done["status"] != "ready_to_close" {
		t.Fatalf("task completion answer = %v", done)
	}
	e.wantStatus(admin, id, "ready_to_close")

	// The access package is built from the (no) exports; the org owner
	// approves it, then completes the request.
	e.eventually("the access package is built", func() bool {
		a := e.do("GET", "/api/v1/requests/"+id+"/package", admin, nil)
		return a.Status == http.StatusOK && a.JSON(t)["status"] == "ready"
	})
	e.want(e.do("POST", "/api/v1/requests/"+id+"/package/approval", admin, map[string]any{}), http.StatusOK, "approve the package")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/completion", admin, map[string]any{"note": "all sent"}),
		http.StatusOK, "complete")
	e.wantStatus(admin, id, "completed")
	e.eventually("the projection shows the request completed and its PII erased", func() bool {
		d := e.want(e.do("GET", "/api/v1/requests/"+id, admin, nil), http.StatusOK, "detail").JSON(t)
		erased := false // the erasure is in the timeline once its audit event is written
		for _, ev := range d["timeline"].([]any) {
			erased = erased || ev.(map[string]any)["event"] == workflows.EventPIIScrubbed
		}
		return d["status"] == "completed" && d["pii_erased"] == true && d["source"] == "projection" && erased
	})
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", admin, map[string]any{"reasons": []string{"other"}}),
		http.StatusConflict, "reject a completed request")

	// The audit trail holds who did what, with the document view.
	evs := e.want(e.do("GET", "/api/v1/requests/"+id+"/audit", admin, nil), http.StatusOK, "audit").JSON(t)["items"].([]any)
	seen := map[string]bool{}
	for _, ev := range evs {
		m := ev.(map[string]any)
		seen[m["action"].(string)] = true
		if l, _ := m["label"].(string); l == "" || l == m["action"] {
			t.Errorf("audit action %s has no words: %q", m["action"], l)
		}
	}
	for _, a := range []string{"identity_document.viewed", "request.pii_viewed", "request.identity_verified", "request.data_sources_assigned",
		"task.completed", "request.completed", "mail.sent", "request.pii_scrubbed"} {
		if !seen[a] {
			t.Errorf("audit has no %s: %v", a, seen)
		}
	}
	// The timeline says what happened in words.
	var labels []string
	for _, ev := range e.want(e.do("GET", "/api/v1/requests/"+id, admin, nil), http.StatusOK, "detail").JSON(t)["timeline"].([]any) {
		labels = append(labels, ev.(map[string]any)["label"].(string))
	}
	for _, want := range []string{"Identity verified", "Task completed", "Request completed", "Personal data erased"} {
		if !slices.Contains(labels, want) {
			t.Errorf("timeline %q lacks %q", labels, want)
		}
	}
	e.replay(id)
}

// replay replays the request's workflow history against the workflow code,
// as a worker that lost its cache does: a failure is a determinism bug.
func (e *staffEnv) replay(id string) {
	e.t.Helper()
	h := historypb.History{Events: e.history(id)}
	dc := codec.DataConverter(e.keys)
	r, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
		DataConverter: dc, FailureConverter: codec.FailureConverter(dc),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	worker.RegisterWorkflows(r)
	if err := r.ReplayWorkflowHistory(nil, &h); err != nil {
		e.t.Errorf("the story's history (%d events) does not replay: %v", len(h.Events), err)
	}
}

// history is the request's workflow history so far.
func (e *staffEnv) history(id string) []*historypb.HistoryEvent {
	e.t.Helper()
	var evs []*historypb.HistoryEvent
	it := e.temporal.GetWorkflowHistory(e.ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			e.t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// wantStatus reads the request detail and wants it to show status: an
// action is answered once the workflow has applied it and written the
// projection the detail reads, so the first read after the answer has it.
func (e *staffEnv) wantStatus(token, id, status string) map[string]any {
	e.t.Helper()
	d := e.want(e.do("GET", "/api/v1/requests/"+id, token, nil), http.StatusOK, "detail").JSON(e.t)
	if d["status"] != status {
		e.t.Fatalf("the detail shows %v, want %s", d["status"], status)
	}
	return d
}

// mustTime reads an RFC 3339 time from a JSON value.
func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("not a time: %v", v)
	}
	return tm
}

// loginAs signs in a user created through the API.
func (e *staffEnv) loginAs(email string) string {
	e.t.Helper()
	a := e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "a long enough password"}),
		http.StatusCreated, "login "+email).JSON(e.t)
	return a["token"].(string)
}

// TestIdentityRefusedRejectsTheRequest: a refused identity rejects the
// request and deletes the document; deciding before the email is verified,
// or twice, is 409 naming the status.
func TestIdentityRefusedRejectsTheRequest(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	id := e.request(newRequest{Document: pngDocument, Country: "US"})

	early := e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": true}),
		http.StatusConflict, "decide before the email is verified").JSON(t)
	if msg := early["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "pending_email_verification") {
		t.Fatalf("the 409 does not name the status: %s", msg)
	}
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"note": "no decision"}),
		http.StatusUnprocessableEntity, "no verified field")

	e.verifyEmail(id)
	d := e.want(e.do("GET", "/api/v1/requests/"+id, manager, nil), http.StatusOK, "detail").JSON(t)
	if rule := d["deadline_rule"].(map[string]any); rule["id"] != "default" {
		t.Fatalf("a requester in a country without a rule: rule %v, want default", rule)
	}
	if d["identity_document"] == nil {
		t.Fatal("the detail does not show the uploaded document")
	}
	refused := e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": false, "note": "blurred"}),
		http.StatusOK, "refuse").JSON(t)
	if refused["status"] != "rejected" {
		t.Fatalf("refusal answer = %v", refused)
	}
	e.wantStatus(manager, id, "rejected")
	e.want(e.do("GET", "/api/v1/requests/"+id+"/identity-document", manager, nil), http.StatusGone, "document after refusal")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", manager, map[string]any{"verified": true}),
		http.StatusConflict, "decide twice")
}
