package worker_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestSeedFlowOnDevServer runs the daily-use steps on the dev server, and
// records the history for the replay test: a mistyped address corrected,
// verified, identity verified, two sources assigned, one task declined and
// given to one person, both completed with outcomes, then the requester
// withdraws the request ready to close.
func TestSeedFlowOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	carl, err := db.CreateUser(l.ctx, store.User{Email: "carl@example.com", Name: "Carl", Role: dsar.RoleSourceOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	bea, err := db.CreateUser(l.ctx, store.User{Email: "bea@example.com", Name: "Bea", Role: dsar.RoleSourceOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	crm, err := db.CreateDataSource(l.ctx, "CRM", "", []string{carl.ID})
	if err != nil {
		t.Fatal(err)
	}
	billing, err := db.CreateDataSource(l.ctx, "Billing", "", []string{carl.ID})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(time.Hour)
	id := insertRequest(t, db, keys, store.PII{FirstName: "Pat", Email: "pat@exmaple.net"}, now, deadline)
	in := l.input(id, now, deadline)
	in.Periods.VerificationReminderAfter = time.Hour // no reminder in this run
	run := l.start(id, in)
	eventually(t, "the first verification mail", func() bool { return len(l.mailsTo("pat@exmaple.net")) > 0 })

	fix := uuid.NewString()
	if err := db.StageEmailCorrection(l.ctx, keys, id, "pat@example.net", fix); err != nil {
		t.Fatal(err)
	}
	l.signal(id, workflows.SignalEmailCorrected, workflows.EmailCorrection{Action: workflows.Action{ID: fix, At: time.Now()}, By: owner.ID})
	eventually(t, "a link to the corrected address", func() bool { return len(l.mailsTo("pat@example.net")) > 0 })
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm.ID, billing.ID}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)

	l.signal(id, workflows.SignalTaskDeclined, workflows.TaskDecline{DataSourceID: crm.ID, Reason: "not in the CRM", By: carl.ID})
	eventually(t, "the task declined", func() bool { st := l.state(id); tk, _ := st.Task(crm.ID); return tk.Status == workflows.TaskDeclined })
	l.signal(id, workflows.SignalTaskReassigned, workflows.TaskReassignment{DataSourceID: crm.ID, UserID: bea.ID, By: owner.ID})
	eventually(t, "the task given to Bea", func() bool { st := l.state(id); tk, _ := st.Task(crm.ID); return tk.AssigneeID == bea.ID })
	three := int64(3)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm.ID, By: bea.ID, Outcome: dsar.TaskErased, RecordCount: &three})
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: billing.ID, By: carl.ID, Outcome: dsar.TaskNoData})
	l.waitStatus(id, dsar.StatusReadyToClose)

	l.signal(id, workflows.SignalWithdrawn, workflows.Withdrawal{Action: workflows.Action{At: time.Now()}})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusWithdrawn {
		t.Fatalf("final status %s", final.Status)
	}
	if tk, _ := final.Task(crm.ID); tk.Outcome != dsar.TaskErased || tk.AssigneeID != bea.ID {
		t.Errorf("the reassigned task ended %+v", tk)
	}
	if _, err := db.RequestPII(l.ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("the PII after withdrawal: %v", err)
	}
	eventually(t, "the withdrawal confirmation", func() bool { return l.hasMail("pat@example.net", "withdrawn") })
	l.export(id, "dsar_baseline_seed_flow.json")
}

// TestManualIntakeOnDevServer records a request staff took on the phone
// with the requester's identity checked: it starts identity-verified (no
// link to click), is assigned, completed and closed; its history joins
// the replay corpus.
func TestManualIntakeOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	crm, err := db.CreateDataSource(l.ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	received := time.Now().UTC().Truncate(time.Millisecond).Add(-48 * time.Hour)
	deadline := received.Add(30 * 24 * time.Hour)
	id := insertRequest(t, db, keys, store.PII{FirstName: "Lou", Email: "lou@example.net"}, received, deadline)
	in := l.input(id, received, deadline)
	in.Manual = &workflows.ManualIntake{Channel: dsar.ChannelPhone, RecordedBy: owner.ID, IdentityChecked: true, IdentityNote: "security questions"}
	run := l.start(id, in)
	l.waitStatus(id, dsar.StatusIdentityVerified)
	if l.hasMail("lou@example.net", "confirm") {
		t.Error("a verification link went out for a request whose identity staff checked")
	}
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm.ID}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm.ID, By: owner.ID, Outcome: dsar.TaskErased})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted || final.IdentityNote != "security questions" || !final.Deadline.Equal(deadline) {
		t.Errorf("final: %s, note %q, deadline %v (want %v)", final.Status, final.IdentityNote, final.Deadline, deadline)
	}
	l.export(id, "dsar_baseline_manual_intake.json")
}
