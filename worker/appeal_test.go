package worker_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestAppealReversedOnDevServer runs an appeal on the dev server, and
// records the history for the replay test: a Virginia request answered in
// part keeps the requester's name and email at close; their appeal is its
// own workflow; a colleague reverses it; the request reopens, is completed
// again, and everything, the contact details included, is erased.
func TestAppealReversedOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	reviewer, err := db.CreateUser(l.ctx, store.User{Email: "rev@example.com", Name: "Rex Reviewer", Role: dsar.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	crm := uuid.NewString()
	if _, err := db.Exec(`INSERT INTO data_sources (id, name) VALUES ($1, 'CRM')`, crm); err != nil {
		t.Fatal(err)
	}
	rule, ok := dsar.DefaultRules.Match("US", "US-VA")
	if !ok || rule.Appeal == nil {
		t.Fatal("no Virginia rule with an appeal right")
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(time.Hour)
	email := "vera@example.net"
	id := insertRequest(t, db, keys, store.PII{FirstName: "Vera", LastName: "Virginia", Email: email, Description: "delete me"}, now, deadline)
	in := l.input(id, now, deadline)
	in.Country, in.Region, in.DeadlineRule, in.Rule = "US", "US-VA", rule.ID, &rule
	in.Periods.VerificationReminderAfter = time.Hour
	run := l.start(id, in)
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskNotApplicable, By: owner.ID})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})
	l.waitStatus(id, dsar.StatusCompleted)
	eventually(t, "the contact kept for the appeal", func() bool {
		c, err := db.RequestContact(l.ctx, keys, id)
		return err == nil && c.Email == email
	})

	l.signal(id, workflows.SignalAppealFiled, workflows.AppealFiling{Action: workflows.Action{ID: "appeal", At: time.Now()}})
	eventually(t, "the appeal taken", func() bool { return l.state(id).Appeal != nil })
	eventually(t, "the appeal's workflow", func() bool { // started once the appeal is taken: a moment later
		_, err := l.app.Temporal.DescribeWorkflowExecution(l.ctx, workflows.AppealWorkflowID(id), "")
		return err == nil
	})
	if err := l.app.Temporal.SignalWorkflow(l.ctx, workflows.AppealWorkflowID(id), "", workflows.SignalAppealDecided, workflows.AppealDecision{
		Action:  workflows.Action{ID: "decision", At: time.Now(), RequestID: id},
		Outcome: dsar.AppealReversed, Explanation: "The CRM holds your orders after all.", By: reviewer.ID}); err != nil {
		t.Fatal(err)
	}
	l.waitStatus(id, dsar.StatusInProgress)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskErased, By: reviewer.ID})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: reviewer.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted || final.Appeal == nil || final.Appeal.Status != dsar.AppealReversed || final.ContactKept {
		t.Fatalf("final: %s, appeal %+v, contact kept %v", final.Status, final.Appeal, final.ContactKept)
	}
	if _, err := db.RequestContact(l.ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("the contact details after the last close: %v", err)
	}
	if ap, err := db.AppealOfRequest(l.ctx, id); err != nil || ap.Status != dsar.AppealReversed || ap.DecidedBy == nil || *ap.DecidedBy != reviewer.ID {
		t.Errorf("the appeal's row: %+v, %v", ap, err)
	}
	if !l.hasMail(email, "The decision on your appeal") {
		t.Error("no appeal decision mail")
	}
	l.export(id, "dsar_baseline_appeal_reversed.json")
}
