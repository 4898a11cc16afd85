package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// reconcileEnv is an app with a running worker on its own task queue, and
// an idle queue nobody serves, for workflows that must exist but not move.
type reconcileEnv struct {
	t    *testing.T
	ctx  context.Context
	app  *app.App
	idle string
}

func newReconcileEnv(t *testing.T) *reconcileEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cfg := testenv.Config(t, testenv.DatabaseURL(t), testenv.TemporalAddress(t), nil)
	a, err := app.Open(ctx, cfg, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	w := worker.New(a.Temporal, cfg.Temporal.TaskQueue, a.Activities())
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &reconcileEnv{t: t, ctx: ctx, app: a, idle: cfg.Temporal.TaskQueue + "-idle"}
}

// row inserts a request as intake does, unaccepted, and returns its id.
func (e *reconcileEnv) row() string {
	e.t.Helper()
	id := uuid.NewString()
	sealed, err := store.NewSealedRequest(e.app.Keys, id, store.PII{FirstName: "Ann", LastName: "Lee", Email: "ann@example.com"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.app.DB.CreateRequest(e.ctx, store.NewRequest{ID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer,
		Country: "DE", SubmittedAt: now, Deadline: now.AddDate(0, 1, 0), DeadlineRule: "gdpr", DeadlineRuleName: "GDPR",
		Sealed: sealed}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// accepted inserts an accepted request and returns its id.
func (e *reconcileEnv) accepted() string {
	e.t.Helper()
	id := e.row()
	if err := e.app.DB.AcceptRequest(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// exec runs a statement, to stage what a fault left behind.
func (e *reconcileEnv) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.app.DB.Exec(q, args...); err != nil {
		e.t.Fatal(err)
	}
}

// start starts request id's workflow on queue; verifyFor is how long its
// email verification stays open.
func (e *reconcileEnv) start(id, queue string, verifyFor time.Duration) {
	e.t.Helper()
	now := time.Now().UTC()
	in := workflows.Input{RequestID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer, Country: "DE",
		SubmittedAt: now, Deadline: now.AddDate(0, 1, 0), DeadlineRule: "gdpr", MaxExtension: dsar.Period{Months: 2},
		Periods: workflows.Periods{ReminderEvery: time.Hour, StallAfter: time.Hour, DeadlineWarningBefore: time.Hour,
			OverdueAlertEvery: time.Hour, VerificationReminderAfter: verifyFor / 2, VerificationExpiry: verifyFor,
			AssignmentAlertEvery: time.Hour}}
	if _, err := e.app.Temporal.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(id), TaskQueue: queue},
		workflows.WorkflowName, in); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = e.app.Temporal.TerminateWorkflow(context.Background(), workflows.WorkflowID(id), "", "test over")
	})
}

// running reports whether request id's workflow runs.
func (e *reconcileEnv) running(id string) bool {
	e.t.Helper()
	d, err := e.app.Temporal.DescribeWorkflowExecution(e.ctx, workflows.WorkflowID(id), "")
	if err != nil {
		e.t.Fatal(err)
	}
	return d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// reconcile runs the reconciliation once, as its Schedule would.
func (e *reconcileEnv) reconcile() workflows.ReconcileReport {
	e.t.Helper()
	run, err := e.app.Temporal.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{
		ID: "reconcile-test-" + uuid.NewString(), TaskQueue: e.app.Config.Temporal.TaskQueue,
	}, workflows.ReconcileWorkflowName)
	if err != nil {
		e.t.Fatal(err)
	}
	var rep workflows.ReconcileReport
	if err := run.Get(e.ctx, &rep); err != nil {
		e.t.Fatalf("reconciliation: %v", err)
	}
	return rep
}

// until runs the reconciliation until cond, given the last run's report,
// holds (visibility lags a little behind the workflows), at most 30 times.
func (e *reconcileEnv) until(what string, cond func(last workflows.ReconcileReport) bool) {
	e.t.Helper()
	var rep workflows.ReconcileReport
	for i := 0; !cond(rep); i++ {
		if i == 30 {
			e.t.Fatalf("after 30 reconciliations: %s", what)
		}
		rep = e.reconcile()
		e.t.Logf("reconciliation: %+v", rep)
		time.Sleep(200 * time.Millisecond)
	}
}

// quiet waits until request id's workflow has written its first steps
// (the verification mail in the timeline): it then writes nothing more
// for a while.
func (e *reconcileEnv) quiet(id string) {
	e.t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var done bool
		if err := e.app.DB.Get(&done, `SELECT timeline @> $2 FROM requests WHERE id = $1`, id,
			fmt.Sprintf(`[{"event": %q}]`, workflows.EventVerificationSent)); err != nil {
			e.t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the request's workflow did not write its first steps")
		}
	}
}

// status reads a request row: its status, whether it is accepted, closed
// and scrubbed; ok false when the row is gone.
func (e *reconcileEnv) status(id string) (st struct {
	Status   dsar.Status `db:"status"`
	Accepted bool        `db:"accepted"`
	Closed   bool        `db:"closed"`
	Scrubbed bool        `db:"scrubbed"`
}, ok bool) {
	e.t.Helper()
	err := e.app.DB.Get(&st, `SELECT status, accepted, closed_at IS NOT NULL AS closed,
		scrubbed_at IS NOT NULL AND pii IS NULL AS scrubbed FROM requests WHERE id = $1`, id)
	if dsar.ErrorCode(store.Translate(err)) == dsar.ENOTFOUND {
		return st, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return st, true
}

// operatorSignals returns the operator signals request id's workflow got.
func (e *reconcileEnv) operatorSignals(id string) []workflows.OperatorAction {
	e.t.Helper()
	dc := codec.DataConverter(e.app.Keys)
	var got []workflows.OperatorAction
	it := e.app.Temporal.GetWorkflowHistory(e.ctx, workflows.WorkflowID(id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			e.t.Fatal(err)
		}
		s := ev.GetWorkflowExecutionSignaledEventAttributes()
		if s == nil || s.SignalName != workflows.SignalOperator {
			continue
		}
		var op workflows.OperatorAction
		if err := dc.FromPayloads(s.Input, &op); err != nil {
			e.t.Fatal(err)
		}
		got = append(got, op)
	}
	return got
}

// TestReconciliationRepairsWhatFaultsLeft seeds each finding the
// reconciliation looks for, as a fault would leave it, and runs the
// reconciliation until each is repaired.
func TestReconciliationRepairsWhatFaultsLeft(t *testing.T) {
	e := newReconcileEnv(t)
	backdate := `UPDATE requests SET created_at = now() - interval '3 minutes' WHERE id = $1`

	// Intake: the workflow never started; it started but the row was never
	// accepted; an intake call still in flight.
	orphanRow := e.row()
	e.exec(backdate, orphanRow)
	unaccepted := e.row()
	e.start(unaccepted, e.idle, time.Hour)
	e.exec(backdate, unaccepted)
	fresh := e.row()

	// Closed, not erased: its workflow has ended; its workflow still runs.
	closedEnded := e.accepted()
	e.start(closedEnded, e.idle, time.Hour)
	if err := e.app.Temporal.TerminateWorkflow(e.ctx, workflows.WorkflowID(closedEnded), "", "ended before its scrub"); err != nil {
		t.Fatal(err)
	}
	closedRunning := e.accepted()
	e.start(closedRunning, e.idle, time.Hour)
	for _, id := range []string{closedEnded, closedRunning} {
		e.exec(`UPDATE requests SET status = 'completed', closed_at = now() - interval '10 minutes' WHERE id = $1`, id)
	}
	// The ended one had an access package past its date, which its
	// workflow will never erase; the running one's is its workflow's.
	for _, id := range []string{closedEnded, closedRunning} {
		e.exec(`INSERT INTO packages (id, request_id, status, key_id, wrapped_key, published_at, expires_at)
			VALUES ($1, $2, 'published', 'k1', '\x00', now() - interval '2 days', now() - interval '1 hour')`, uuid.NewString(), id)
	}
	// Both kept the requester's contact for an appeal whose window has
	// passed: the ended one's is shredded here, the running one's is left
	// to its workflow.
	for _, id := range []string{closedEnded, closedRunning} {
		e.exec(`INSERT INTO request_contacts (request_id, key_id, wrapped_key, sealed, keep_until)
			VALUES ($1, 'k1', '\x00', '\x00', now() - interval '1 hour')`, id)
	}
	contactKept := func(id string) bool {
		var n int
		if err := e.app.DB.Get(&n, `SELECT count(*) FROM request_contacts WHERE request_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	packageStatus := func(id string) string {
		var st string
		if err := e.app.DB.Get(&st, `SELECT status FROM packages WHERE request_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return st
	}

	// A projection that disagrees with its ended workflow: the request
	// expired, but its final projection was lost.
	lostFinal := e.accepted()
	e.start(lostFinal, e.app.Config.Temporal.TaskQueue, 2*time.Second)
	for deadline := time.Now().Add(time.Minute); e.running(lostFinal); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the expiring request's workflow did not end")
		}
	}
	e.exec(`UPDATE requests SET status = 'pending_email_verification', closed_at = NULL,
		updated_at = now() - interval '5 minutes' WHERE id = $1`, lostFinal)

	// A projection that disagrees with its running workflow.
	stale := e.accepted()
	e.start(stale, e.app.Config.Temporal.TaskQueue, time.Hour)
	e.quiet(stale)
	e.exec(`UPDATE requests SET status = 'awaiting_identity', updated_at = now() - interval '5 minutes' WHERE id = $1`, stale)

	// A projection still open whose workflow was terminated: it left no
	// final state, so it is reported for a person, not rewritten.
	unfinished := e.accepted()
	e.start(unfinished, e.app.Config.Temporal.TaskQueue, time.Hour)
	e.quiet(unfinished)
	if err := e.app.Temporal.TerminateWorkflow(e.ctx, workflows.WorkflowID(unfinished), "", "stopped by hand"); err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE requests SET updated_at = now() - interval '5 minutes' WHERE id = $1`, unfinished)

	// A running workflow whose request row is gone.
	orphanWorkflow := uuid.NewString()
	e.start(orphanWorkflow, e.app.Config.Temporal.TaskQueue, time.Hour)

	reported := false
	e.until("every finding repaired", func(last workflows.ReconcileReport) bool {
		reported = reported || slices.Contains(last.Survey.Unfinished, unfinished)
		_, orphanRowLeft := e.status(orphanRow)
		u, _ := e.status(unaccepted)
		ce, _ := e.status(closedEnded)
		lf, _ := e.status(lostFinal)
		s, _ := e.status(stale)
		return !orphanRowLeft && u.Accepted && ce.Scrubbed && len(e.operatorSignals(closedRunning)) > 0 &&
			packageStatus(closedEnded) == "expired" && slices.Contains(last.Erase.Expired, closedEnded) &&
			!contactKept(closedEnded) && slices.Contains(last.Erase.Shredded, closedEnded) &&
			lf.Status == dsar.StatusExpired && lf.Closed && s.Status == dsar.StatusPendingEmailVerification &&
			!e.running(orphanWorkflow) && reported
	})
	if u, _ := e.status(unfinished); u.Status != dsar.StatusPendingEmailVerification {
		t.Errorf("the terminated workflow's request is %s, want it left as it was", u.Status)
	}

	if f, ok := e.status(fresh); !ok || f.Accepted {
		t.Error("an unaccepted row younger than two minutes must be left to its intake call")
	}
	if st := packageStatus(closedRunning); st != "published" {
		t.Errorf("the package of a request whose workflow runs is %s, want it left to its workflow", st)
	}
	if !contactKept(closedRunning) {
		t.Error("the contact details of a request whose workflow runs must be left to its workflow")
	}
	if cr, _ := e.status(closedRunning); cr.Scrubbed {
		t.Error("a closed request whose workflow runs must be left to its workflow (it may still mail the requester)")
	}
	if ops := e.operatorSignals(closedRunning); ops[0].Action != workflows.OperatorRetry || ops[0].By != workflows.ReconcileBy {
		t.Errorf("signal to the closing workflow = %+v, want a retry by the reconciliation", ops[0])
	}
	if ops := e.operatorSignals(orphanWorkflow); len(ops) == 0 || ops[0].Action != workflows.OperatorAbandon || ops[0].Reason == "" {
		t.Errorf("signals to the workflow without a row = %+v, want an abandon with a reason", ops)
	}
	events, err := e.app.DB.RequestAudit(e.ctx, closedEnded)
	if err != nil {
		t.Fatal(err)
	}
	var scrubbed []string
	for _, ev := range events {
		var detail map[string]string
		_ = json.Unmarshal(ev.Detail, &detail)
		if ev.Action == dsar.AuditPIIScrubbed {
			scrubbed = append(scrubbed, ev.ActorKind+" by "+detail["by"])
		}
	}
	if len(scrubbed) != 1 || scrubbed[0] != "system by reconciliation" {
		t.Errorf("audit of the reconciliation's scrub: %q, want one system event by reconciliation", scrubbed)
	}

	// Nothing left: a further run finds nothing to do for these requests.
	rep := e.reconcile()
	b, _ := json.Marshal(rep)
	for _, id := range []string{orphanRow, unaccepted, closedEnded, lostFinal, stale, orphanWorkflow} { // not unfinished: it stays for a person
		if strings.Contains(string(b), id) {
			t.Errorf("a run after the repairs still reports %s: %s", id, b)
		}
	}
}

// TestReconcileScheduleOncePerCluster: two workers starting at once make
// one Schedule; a worker with the same interval leaves it as it is, one
// with another interval updates it.
func TestReconcileScheduleOncePerCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testenv.Config(t, testenv.DatabaseURL(t), testenv.TemporalAddress(t), map[string]any{"reconcile.every": "7m"})
	apps := make([]*app.App, 2)
	for i := range apps {
		a, err := app.Open(ctx, cfg, testenv.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		apps[i] = a
	}
	var wg sync.WaitGroup
	errs := make([]error, len(apps))
	for i, a := range apps {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = a.Prepare(ctx) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("prepare: %v", err)
		}
	}
	h := apps[0].Temporal.ScheduleClient().GetHandle(ctx, workflows.ReconcileScheduleID)
	defer func() { _ = h.Delete(context.Background()) }()
	describe := func() *client.ScheduleDescription {
		t.Helper()
		d, err := h.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := describe()
	act, _ := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if len(d.Schedule.Spec.Intervals) != 1 || d.Schedule.Spec.Intervals[0].Every != 7*time.Minute ||
		act == nil || act.Workflow != workflows.ReconcileWorkflowName || act.TaskQueue != cfg.Temporal.TaskQueue ||
		d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
		t.Fatalf("schedule %s = spec %+v, action %+v, policy %+v", workflows.ReconcileScheduleID, d.Schedule.Spec, act, d.Schedule.Policy)
	}
	updated := d.Info.LastUpdateAt
	if err := apps[1].Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if d := describe(); !d.Info.LastUpdateAt.Equal(updated) {
		t.Errorf("a worker with the same interval updated the schedule (at %v, before %v)", d.Info.LastUpdateAt, updated)
	}
	if err := worker.EnsureReconcileSchedule(ctx, apps[1].Temporal, cfg.Temporal.TaskQueue, 20*time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := describe(); len(d.Schedule.Spec.Intervals) != 1 || d.Schedule.Spec.Intervals[0].Every != 20*time.Minute {
		t.Errorf("after a worker with reconcile.every 20m the spec is %+v", d.Schedule.Spec)
	}
}
