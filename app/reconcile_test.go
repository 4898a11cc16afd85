package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// TestReconcilerSettlesUnacceptedRows covers the crash window of intake: a
// row written, its workflow started (or not), and the process gone before
// it marked the row accepted.
func TestReconcilerSettlesUnacceptedRows(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.Config(t, testenv.DatabaseURL(t), testenv.TemporalAddress(t), nil)
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	newRow := func() string {
		id := uuid.NewString()
		sealed, err := store.NewSealedRequest(a.Keys, id, store.PII{FirstName: "Ann", LastName: "Lee", Email: "ann@example.com"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		if err := a.DB.CreateRequest(ctx, store.NewRequest{ID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer,
			Country: "DE", SubmittedAt: now, Deadline: now.AddDate(0, 1, 0), DeadlineRule: "gdpr", DeadlineRuleName: "GDPR",
			Sealed: sealed}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	orphan := newRow()  // the workflow never started
	started := newRow() // the workflow started, the process died before accepting
	if _, err := a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(started), TaskQueue: cfg.Temporal.TaskQueue},
		workflows.WorkflowName, workflows.Input{RequestID: started}); err != nil {
		t.Fatal(err)
	}
	var cutoff time.Time
	if err := a.DB.Get(&cutoff, `SELECT clock_timestamp()`); err != nil {
		t.Fatal(err)
	}
	fresh := newRow() // an intake call still in flight: left alone

	acc, disc, err := a.Reconcile(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 1 || disc != 1 {
		t.Fatalf("accepted %d, discarded %d; want 1 and 1", acc, disc)
	}
	count := func(id string, accepted bool) int {
		var n int
		_ = a.DB.Get(&n, `SELECT count(*) FROM requests WHERE id = $1 AND accepted = $2`, id, accepted)
		return n
	}
	if count(orphan, false)+count(orphan, true) != 0 {
		t.Error("the orphan row (no workflow) should be gone")
	}
	if count(started, true) != 1 {
		t.Error("the row whose workflow exists should be accepted")
	}
	if count(fresh, false) != 1 {
		t.Error("a row newer than the cutoff must be left to its intake call")
	}
	_ = a.Temporal.TerminateWorkflow(ctx, workflows.WorkflowID(started), "", "test over")
}
