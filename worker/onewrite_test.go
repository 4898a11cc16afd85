package worker_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestStaffActionsWriteOnceOnDevServer runs a request through its life on
// the dev server with ids on its actions, as the API sends them, each
// answered once its outcome is recorded (versionOneWrite: with its audit
// row, in one write). The trail holds every event of the run once and the
// chain verifies. It records the history for
// the replay test.
func TestStaffActionsWriteOnceOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	crm, err := db.CreateDataSource(l.ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(time.Hour)
	id := insertRequest(t, db, keys, store.PII{FirstName: "Wes", Email: "wes@example.net"}, now, deadline)
	in := l.input(id, now, deadline)
	in.Periods.VerificationReminderAfter = time.Hour // no reminder in this run
	in.Periods.DeadlineWarningBefore = 0
	run := l.start(id, in)
	eventually(t, "the verification mail", func() bool { return len(l.mailsTo("wes@example.net")) > 0 })

	// act sends an action and waits for its outcome, as the API does.
	n := 0
	act := func(signal string, payload func(workflows.Action) any, want dsar.Status, applied bool) {
		t.Helper()
		n++
		a := workflows.Action{ID: fmt.Sprintf("action-%d", n), RequestID: id, At: time.Now()}
		if err := l.app.Temporal.SignalWorkflow(l.ctx, workflows.WorkflowID(id), "", signal, payload(a)); err != nil {
			t.Fatal(err)
		}
		o, ok, err := db.AwaitAction(l.ctx, id, a.ID)
		if err != nil || !ok || o.Applied != applied || o.Status != want {
			t.Fatalf("%s: outcome %+v (%v, %v); want applied %v, %s", signal, o, ok, err, applied, want)
		}
	}
	act(workflows.SignalEmailVerified, func(a workflows.Action) any { return workflows.EmailVerified{Action: a} },
		dsar.StatusAwaitingIdentity, true)
	act(workflows.SignalIdentityDecided, func(a workflows.Action) any {
		return workflows.IdentityDecision{Action: a, Verified: true, Note: "passport", By: owner.ID}
	}, dsar.StatusIdentityVerified, true)
	act(workflows.SignalSourcesAssigned, func(a workflows.Action) any {
		return workflows.Assignment{Action: a, DataSourceIDs: []string{crm.ID}, By: owner.ID}
	}, dsar.StatusInProgress, true)
	act(workflows.SignalRequestClosed, func(a workflows.Action) any { // a task is open: refused
		return workflows.Closure{Action: a, Outcome: workflows.OutcomeCompleted, By: owner.ID}
	}, dsar.StatusInProgress, false)
	act(workflows.SignalDeadlineExtended, func(a workflows.Action) any {
		return workflows.Extension{Action: a, Days: 3, Reason: "volume", By: owner.ID}
	}, dsar.StatusInProgress, true)
	act(workflows.SignalTaskCompleted, func(a workflows.Action) any {
		return workflows.TaskCompletion{Action: a, DataSourceID: crm.ID, Note: "deleted", Outcome: dsar.TaskErased, By: owner.ID}
	}, dsar.StatusReadyToClose, true)
	act(workflows.SignalRequestClosed, func(a workflows.Action) any {
		return workflows.Closure{Action: a, Outcome: workflows.OutcomeCompleted, By: owner.ID}
	}, dsar.StatusCompleted, true)

	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted {
		t.Fatalf("final status %s", final.Status)
	}
	evs, err := db.RequestAudit(l.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The trail is whole: the run's own count of events (each action's,
	// the refusal's, the erasure's, and a mail.sent for each mail the
	// requester got), each under one of the keys 1..that count. The mail's
	// records, written beside the main loop, may commit before or after the
	// step they run beside, so the order is not checked.
	want := []string{dsar.AuditEmailVerified, dsar.AuditIdentityVerified, dsar.AuditSourcesAssigned,
		dsar.AuditSignalIgnored, dsar.AuditDeadlineExtended, dsar.AuditTaskCompleted, dsar.AuditClosed(dsar.StatusCompleted),
		dsar.AuditPIIScrubbed}
	for range l.mailsTo("wes@example.net") {
		want = append(want, dsar.AuditMailSent)
	}
	var actions []string
	stored := map[string]bool{}
	closingMail := false
	for _, ev := range evs {
		actions = append(actions, ev.Action)
		if ev.Key != nil {
			stored[*ev.Key] = true
		}
		var d struct{ Kind string }
		_ = json.Unmarshal(ev.Detail, &d)
		closingMail = closingMail || (ev.Action == dsar.AuditMailSent && d.Kind == activities.MailCompleted)
	}
	slices.Sort(actions)
	slices.Sort(want)
	if !slices.Equal(actions, want) {
		t.Errorf("the trail holds %v; want %v", actions, want)
	}
	for i := range want {
		if key := fmt.Sprintf("%s#%d", workflows.WorkflowID(id), i+1); !stored[key] {
			t.Errorf("the trail %v has no row keyed %s", actions, key)
		}
	}
	if len(stored) != len(want) {
		t.Errorf("%d keys in the trail, want %d", len(stored), len(want))
	}
	if !closingMail {
		t.Errorf("the trail %v does not record the closing mail", actions)
	}
	if _, brk, err := db.VerifyAudit(l.ctx); err != nil || brk != nil {
		t.Errorf("audit chain: %v %v", brk, err)
	}
	l.export(id, "dsar_baseline_actions.json")
}
