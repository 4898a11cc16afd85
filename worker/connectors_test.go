package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestAutomatedSourceOnDevServer runs a deletion with an automated source
// on the dev server: the request's workflow starts the source's child on
// the source's own task queue, where a worker runs the child and its
// steps; bad credentials put the task in needs attention, a retry
// completes it (identify, erase, verify), and the request completes. Its
// history is recorded for the replay test (dsar_connectors.json).
func TestAutomatedSourceOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db := l.app.DB
	owner := l.orgOwner()
	queue := "crm-" + l.app.Config.Temporal.TaskQueue
	crm, err := db.CreateDataSourceWith(l.ctx, "CRM", "", []string{owner.ID}, store.SourceSettings{Mode: dsar.SourcePostgres, TaskQueue: queue})
	if err != nil {
		t.Fatal(err)
	}
	var wrongPassword atomic.Bool
	wrongPassword.Store(true)
	w := sdkworker.New(l.app.Temporal, queue, sdkworker.Options{})
	workflows.RegisterSource(w)
	w.RegisterActivityWithOptions(func(_ context.Context, in workflows.StepInput) (workflows.StepResult, error) {
		if wrongPassword.Load() {
			return workflows.StepResult{}, temporal.NewNonRetryableApplicationError("password authentication failed", workflows.ErrConnectorAuth, nil)
		}
		switch in.Step {
		case workflows.StepIdentify:
			return workflows.StepResult{Step: in.Step, Subjects: 1}, nil
		case workflows.StepErase:
			return workflows.StepResult{Step: in.Step, Rows: 3}, nil
		}
		return workflows.StepResult{Step: in.Step}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityConnectorStep})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	requester := store.PII{FirstName: "Rita", LastName: "Requester", Email: "rita@example.net", Description: "delete me"}
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := insertRequest(t, db, l.app.Keys, requester, now, now.Add(time.Hour))
	run := l.start(id, l.input(id, now, now.Add(time.Hour)))
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm.ID}, By: owner.ID,
		Sources: []workflows.AssignedSource{{ID: crm.ID, Mode: dsar.SourcePostgres, TaskQueue: queue}}})
	automation := func() string {
		st := l.state(id)
		task, _ := st.Task(crm.ID)
		if task == nil || task.Automation == nil {
			return ""
		}
		return task.Automation.State
	}
	eventually(t, "the task needs attention", func() bool { return automation() == workflows.AutomationNeedsAttention })
	wrongPassword.Store(false)
	l.signal(id, workflows.SignalAutomationRetry, workflows.AutomationRetry{DataSourceID: crm.ID, By: owner.ID})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	task, _ := final.Task(crm.ID)
	if final.Status != dsar.StatusCompleted || task.Outcome != dsar.TaskErased || *task.RecordCount != 3 || task.Automation.State != workflows.AutomationDone {
		t.Fatalf("final %s, task %+v", final.Status, task)
	}
	var steps int
	if err := db.Get(&steps, `SELECT count(*) FROM audit_events WHERE request_id = $1 AND action = $2`, id, dsar.AuditConnectorStep); err != nil || steps != 3 {
		t.Errorf("%d connector steps audited (%v), want identify, erase, verify", steps, err)
	}
	l.export(id, "dsar_baseline_connectors.json")
}
