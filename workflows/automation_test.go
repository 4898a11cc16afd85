package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// connector is the connector's activity in the workflow tests: each step
// answers from answer (nil: a default for one subject with 3 rows).
type connector struct {
	h      *harness
	steps  []string        // the steps run, in order
	at     []time.Duration // when each ran
	answer func(step string, n int) (StepResult, error)
	// pollers answers the watch of the source's task queue (nil: a
	// connector polls it).
	pollers func(in activities.QueuePollersInput) (activities.QueuePollers, error)
	watched []time.Duration // when the queue was checked
}

// withConnector makes crm a postgres source (mail stays manual) and
// registers the child workflow and a connector step in the harness.
func withConnector(h *harness) *connector {
	c := &connector{h: h}
	h.env.OnActivity(ActivityConnectorStep, mock.Anything, mock.Anything).Return(func(_ context.Context, in StepInput) (StepResult, error) {
		n := 0
		for _, s := range c.steps {
			if s == in.Step {
				n++
			}
		}
		c.steps = append(c.steps, in.Step)
		c.at = append(c.at, h.env.Now().Sub(start))
		if c.answer != nil {
			return c.answer(in.Step, n)
		}
		return defaultStep(in.Step), nil
	})
	var a *activities.Activities
	h.env.OnActivity(a.QueuePollers, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.QueuePollersInput) (activities.QueuePollers, error) {
		c.watched = append(c.watched, h.env.Now().Sub(start))
		if c.pollers != nil {
			return c.pollers(in)
		}
		return activities.QueuePollers{Known: true, Seen: true, LastSeen: h.env.Now()}, nil
	})
	// The test suite delivers signals to children only: the child's
	// progress reaches the request's workflow through this mock.
	h.env.OnSignalExternalWorkflow(mock.Anything, WorkflowID(h.in.RequestID), "", SignalSourceProgress, mock.Anything).Return(
		func(_, _, _, _ string, p any) error {
			h.env.SignalWorkflow(SignalSourceProgress, p)
			return nil
		})
	return c
}

func defaultStep(step string) StepResult {
	switch step {
	case StepIdentify:
		return StepResult{Step: step, Subjects: 1}
	case StepExport:
		return StepResult{Step: step, Rows: 3, FileID: fileA, SHA256: "ab", Size: 99}
	case StepCount, StepErase:
		return StepResult{Step: step, Rows: 7}
	}
	return StepResult{Step: step}
}

// assignAutomated verifies the request and assigns crm as a postgres source
// (and mail, manual) at 3h.
func (h *harness) assignAutomated(dryRun bool) {
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff})
	h.at(3*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm, mail}, By: staff,
		Sources: []AssignedSource{{ID: crm, Mode: dsar.SourcePostgres, TaskQueue: "dsar-source-crm", DryRun: dryRun}}})
}

// reject ends the request at d.
func (h *harness) rejectAt(d time.Duration) {
	h.at(d, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
}

// taskAt reads crm's task at offset d.
func (h *harness) taskAt(d time.Duration) *TaskState {
	var st State
	h.queryAt(d, &st)
	t := &TaskState{}
	h.env.RegisterDelayedCallback(func() {
		if got, ok := st.Task(crm); ok {
			*t = *got
		}
	}, d+time.Second)
	return t
}

// connectorSteps lists the audited connector steps.
func (h *harness) connectorSteps() []string {
	var out []string
	for _, a := range h.audits {
		if a.Action == dsar.AuditConnectorStep {
			out = append(out, a.Detail["step"].(string))
		}
	}
	return out
}

// answer is the answer recorded for action id.
func (h *harness) answer(id string) (store.ActionOutcome, bool) {
	for _, p := range h.projections {
		for _, o := range p.Actions {
			if o.ActionID == id {
				return o, true
			}
		}
	}
	return store.ActionOutcome{}, false
}

// TestAutomatedAccessExportCompletesTheTask: an access request's automated
// source identifies the subject and exports their rows; the task completes
// by the system with data_provided, the row count and the export file,
// every step in the audit trail; the manual source stays with its owners.
func TestAutomatedAccessExportCompletesTheTask(t *testing.T) {
	h := newHarness(t)
	withPackages(h)
	c := withConnector(h)
	h.assignAutomated(false)
	h.rejectAt(5 * day)
	st := h.run()
	equal(t, "steps", c.steps, []string{StepIdentify, StepExport})
	task, _ := st.Task(crm)
	if task.Status != TaskCompleted || task.Outcome != dsar.TaskDataProvided || task.RecordCount == nil || *task.RecordCount != 3 ||
		task.CompletedBy != "" || task.Mode != dsar.SourcePostgres || task.Automation == nil || task.Automation.State != AutomationDone {
		t.Fatalf("crm task %+v automation %+v", task, task.Automation)
	}
	equal(t, "audited steps", h.connectorSteps(), []string{StepIdentify, StepExport})
	var done map[string]any
	for _, a := range h.audits {
		if a.Action == dsar.AuditConnectorStep && a.Detail["step"] == StepExport && (a.Detail["file_id"] != fileA || a.Detail["sha256"] != "ab") {
			t.Errorf("export audited as %v", a.Detail)
		}
		if a.Action == dsar.AuditTaskCompleted {
			done = a.Detail
		}
	}
	if ids, _ := done["file_ids"].([]string); len(ids) != 1 || ids[0] != fileA || done["outcome"] != string(dsar.TaskDataProvided) {
		t.Errorf("completion audited as %v", done)
	}
	if m, _ := st.Task(mail); m.Status != TaskOpen || m.Automation != nil {
		t.Errorf("the manual source's task: %+v", m)
	}
	last := h.projections[len(h.projections)-1]
	for _, pt := range last.Tasks {
		if pt.DataSourceID == crm && (pt.Mode != string(dsar.SourcePostgres) || pt.Automation == nil || pt.Automation.State != AutomationDone) {
			t.Errorf("projected %+v", pt)
		}
	}
	// Owners of automated sources are not asked to do the task.
	for _, a := range h.alerts {
		if a.What == store.AlertTaskAssigned && slices.Contains(a.Alert.DataSourceIDs, crm) {
			t.Errorf("crm's owners were told to do the task: %+v", a.Alert)
		}
	}
}

// TestAutomatedDeletionErasesAndVerifies: identify, erase, verify 0: the
// task is erased with the rows erased, and the request is ready to close
// once the manual task is done.
func TestAutomatedDeletionErasesAndVerifies(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	h.assignAutomated(false)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, Outcome: dsar.TaskNoData, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()
	equal(t, "steps", c.steps, []string{StepIdentify, StepErase, StepVerify})
	task, _ := st.Task(crm)
	if st.Status != dsar.StatusCompleted || task.Outcome != dsar.TaskErased || *task.RecordCount != 7 {
		t.Fatalf("status %s, crm %+v", st.Status, task)
	}
	for _, a := range h.audits {
		if a.Action == dsar.AuditConnectorStep && a.Detail["step"] == StepVerify && fmt.Sprint(a.Detail["remaining"]) != "0" {
			t.Errorf("verify audited as %v", a.Detail)
		}
	}
}

// TestVerifyLeftRowsNeedsAttention: verify finds rows left: the task needs
// attention with the count, the source's owners and the handler are
// alerted; a retry erases and verifies again and completes it.
func TestVerifyLeftRowsNeedsAttention(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	c.answer = func(step string, n int) (StepResult, error) {
		if step == StepVerify && n == 0 {
			return StepResult{Step: step, Remaining: 2}, nil
		}
		return defaultStep(step), nil
	}
	h.assignAutomated(false)
	stuck := h.taskAt(day)
	h.at(2*day, SignalAutomationRetry, AutomationRetry{Action: Action{ID: "retry-1"}, DataSourceID: crm, By: staff})
	h.rejectAt(5 * day)
	st := h.run()
	if stuck.Automation == nil || stuck.Automation.State != AutomationNeedsAttention || stuck.Automation.Step != StepVerify ||
		stuck.Automation.Error != "verify found 2 row(s) left after the erasure" || stuck.Status != TaskOpen {
		t.Fatalf("after a verify with rows left: %+v %+v", stuck, stuck.Automation)
	}
	if n := len(h.alertTimes(store.AlertSourceAttention)); n != 1 {
		t.Errorf("%d source attention alerts, want 1", n)
	}
	equal(t, "steps", c.steps, []string{StepIdentify, StepErase, StepVerify, StepErase, StepVerify})
	task, _ := st.Task(crm)
	if task.Status != TaskCompleted || task.Outcome != dsar.TaskErased || *task.RecordCount != 14 {
		t.Errorf("after the retry: %+v", task)
	}
	if o, ok := h.answer("retry-1"); !ok || !o.Applied {
		t.Errorf("retry answered %+v", o)
	}
}

// TestNonRetryableFailureNeedsAttentionUntilRetried: bad credentials put
// the task in needs attention (alert, timeline, audit) and nothing runs
// until staff retry; a retry while running is refused (409).
func TestNonRetryableFailureNeedsAttentionUntilRetried(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	c.answer = func(step string, n int) (StepResult, error) {
		if step == StepIdentify && n == 0 {
			return StepResult{}, temporal.NewNonRetryableApplicationError("password authentication failed", ErrConnectorAuth, nil)
		}
		return defaultStep(step), nil
	}
	h.assignAutomated(false)
	h.at(day, SignalTaskCompleted, TaskCompletion{Action: Action{ID: "by-hand"}, DataSourceID: crm, Outcome: dsar.TaskErased, By: staff})
	stuck := h.taskAt(day + time.Hour)
	h.at(3*day, SignalAutomationRetry, AutomationRetry{Action: Action{ID: "retry-1"}, DataSourceID: crm, By: staff})
	h.at(4*day, SignalAutomationRetry, AutomationRetry{Action: Action{ID: "retry-2"}, DataSourceID: crm, By: staff})
	h.rejectAt(5 * day)
	st := h.run()
	if stuck.Automation == nil || stuck.Automation.State != AutomationNeedsAttention || stuck.Automation.ErrorType != ErrConnectorAuth {
		t.Fatalf("after bad credentials: %+v", stuck.Automation)
	}
	if o, _ := h.answer("by-hand"); o.Applied || o.Code != dsar.ECONFLICT {
		t.Errorf("completing an automated task by hand answered %+v", o)
	}
	if got := h.alertTimes(store.AlertSourceAttention); len(got) != 1 || got[0] > 3*time.Hour+time.Minute {
		t.Errorf("source attention alerts at %v", got)
	}
	if len(c.at) < 2 || c.at[1] < 3*day {
		t.Errorf("the step ran again before the retry: %v at %v", c.steps, c.at)
	}
	task, _ := st.Task(crm)
	if task.Status != TaskCompleted || task.Outcome != dsar.TaskErased {
		t.Errorf("after the retry: %+v", task)
	}
	if o, _ := h.answer("retry-1"); !o.Applied {
		t.Errorf("retry-1 answered %+v", o)
	}
	if o, _ := h.answer("retry-2"); o.Applied || o.Code != dsar.ECONFLICT {
		t.Errorf("a retry of a done task answered %+v", o)
	}
	if !slices.Contains(h.auditActions(), dsar.AuditAutomationAttention) || !slices.Contains(h.auditActions(), dsar.AuditAutomationRetried) {
		t.Errorf("audit: %v", h.auditActions())
	}
}

// TestSwitchToManual: staff switch a stuck automated task to manual: its
// child is cancelled, its owners are told, and they complete it by hand.
func TestSwitchToManual(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	c.answer = func(step string, n int) (StepResult, error) {
		return StepResult{}, temporal.NewNonRetryableApplicationError("relation customers does not exist", ErrConnectorSchema, nil)
	}
	h.assignAutomated(false)
	h.at(day, SignalAutomationManual, ManualSwitch{Action: Action{ID: "manual-empty"}, DataSourceID: crm, By: staff})
	h.at(day+time.Hour, SignalAutomationManual, ManualSwitch{Action: Action{ID: "manual"}, DataSourceID: crm, Reason: "schema changes", By: staff})
	h.at(2*day, SignalTaskCompleted, TaskCompletion{Action: Action{ID: "by-hand"}, DataSourceID: crm, Outcome: dsar.TaskErased, By: staff})
	h.rejectAt(5 * day)
	st := h.run()
	if o, _ := h.answer("manual-empty"); o.Applied || o.Code != dsar.EINVALID {
		t.Errorf("a switch without a reason answered %+v", o)
	}
	if o, _ := h.answer("manual"); !o.Applied {
		t.Errorf("switch answered %+v", o)
	}
	task, _ := st.Task(crm)
	if task.Status != TaskCompleted || task.CompletedBy != staff || task.Automation.State != AutomationManual || task.Automation.Error != "schema changes" {
		t.Errorf("after the switch: %+v %+v", task, task.Automation)
	}
	told := false
	for _, a := range h.alerts {
		told = told || (a.What == store.AlertTaskAssigned && slices.Contains(a.Alert.DataSourceIDs, crm) && a.At == day+time.Hour)
	}
	if !told {
		t.Error("the owners were not told the task is theirs")
	}
	if len(c.steps) != 1 {
		t.Errorf("steps after the switch: %v", c.steps)
	}
}

// TestDryRunWaitsForApproval: a dry run counts, waits for the approval
// (nothing erased before it), then erases and verifies.
func TestDryRunWaitsForApproval(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	h.assignAutomated(true)
	waiting := h.taskAt(day)
	h.at(2*day, SignalAutomationApproval, DryRunDecision{Action: Action{ID: "approve"}, DataSourceID: crm, Approved: true, By: staff})
	h.rejectAt(5 * day)
	st := h.run()
	if waiting.Automation == nil || waiting.Automation.State != AutomationWaitingApproval || waiting.Automation.Matched != 7 {
		t.Fatalf("before the approval: %+v", waiting.Automation)
	}
	equal(t, "steps", c.steps, []string{StepIdentify, StepCount, StepErase, StepVerify})
	if i := slices.Index(c.steps, StepErase); c.at[i] < 2*day {
		t.Errorf("erased at %v, before the approval", c.at[i])
	}
	if task, _ := st.Task(crm); task.Outcome != dsar.TaskErased {
		t.Errorf("after the approval: %+v", task)
	}
	if got := h.alertTimes(store.AlertSourceAttention); len(got) != 1 {
		t.Errorf("approval alerts at %v", got)
	}
}

// TestDryRunRefusedIsManual: a dry run's erasure refused: nothing is
// erased and the task is its owners'.
func TestDryRunRefusedIsManual(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	h.assignAutomated(true)
	h.at(2*day, SignalAutomationApproval, DryRunDecision{Action: Action{ID: "refuse"}, DataSourceID: crm, Approved: false, Note: "too many rows", By: staff})
	h.rejectAt(5 * day)
	st := h.run()
	equal(t, "steps", c.steps, []string{StepIdentify, StepCount})
	task, _ := st.Task(crm)
	if task.Status != TaskOpen || task.Automation.State != AutomationManual {
		t.Errorf("after the refusal: %+v %+v", task, task.Automation)
	}
}

// TestDeadlineAlertsWhileASourceRetries: a connector that keeps failing
// for a reason a retry may fix is retried without end; the request's
// deadline warning and overdue alerts still fire, and closing the request
// stops the child (the task is no longer the system's).
func TestDeadlineAlertsWhileASourceRetries(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	c.answer = func(step string, n int) (StepResult, error) {
		return StepResult{}, errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	}
	h.assignAutomated(false)
	h.rejectAt(32 * day)
	st := h.run()
	if got := h.alertTimes(store.AlertDeadlineWarning); len(got) != 1 || got[0] != 25*day {
		t.Errorf("deadline warnings at %v", got)
	}
	if got := h.alertTimes(store.AlertOverdue); len(got) < 2 || got[0] != 30*day {
		t.Errorf("overdue alerts at %v", got)
	}
	if len(c.steps) < 100 {
		t.Errorf("only %d attempts in a month", len(c.steps))
	}
	if task, _ := st.Task(crm); task.Automation.State != AutomationManual || st.Status != dsar.StatusRejected {
		t.Errorf("final %s %+v", st.Status, task.Automation)
	}
	// One alert once the task has been retrying for an hour, not one a round.
	if got := h.alertTimes(store.AlertSourceAttention); len(got) != 1 || got[0] < 3*time.Hour+retryingAlertAfter || got[0] > 3*time.Hour+2*retryingAlertAfter {
		t.Errorf("source attention alerts of a retryable failure at %v", got)
	}
}

// TestRetryableFailureShowsRetryingThenCompletes: the source's database is
// down for three rounds of attempts: the task shows "retrying" with the
// error in words (no "(type: ..., retryable: ...)" suffix), the timeline
// says so once, no alert is sent within the hour, and when the database is
// back the task completes.
func TestRetryableFailureShowsRetryingThenCompletes(t *testing.T) {
	h := newHarness(t)
	withPackages(h)
	c := withConnector(h)
	c.answer = func(step string, n int) (StepResult, error) {
		if step == StepIdentify && n < 3*stepRoundAttempts {
			return StepResult{}, temporal.NewApplicationError("dial tcp: connect: connection refused", "ConnectionRefused")
		}
		return defaultStep(step), nil
	}
	h.assignAutomated(false)
	mid := h.taskAt(3*time.Hour + 2*time.Minute)
	h.rejectAt(5 * day)
	st := h.run()
	if mid.Automation == nil || mid.Automation.State != AutomationRetrying || mid.Automation.ErrorType != "ConnectionRefused" ||
		mid.Automation.Error != "dial tcp: connect: connection refused" {
		t.Fatalf("while the database is down: %+v", mid.Automation)
	}
	if n := slices.Index(c.steps, StepExport); n != 3*stepRoundAttempts+1 {
		t.Errorf("steps %v", c.steps)
	}
	task, _ := st.Task(crm)
	if task.Status != TaskCompleted || task.Outcome != dsar.TaskDataProvided || task.Automation.State != AutomationDone {
		t.Errorf("after the database is back: %+v %+v", task, task.Automation)
	}
	var kinds []string
	for _, e := range st.Timeline {
		if e.Event == EventSourceRetrying || e.Event == EventSourceResumed {
			kinds = append(kinds, e.Event)
		}
	}
	equal(t, "timeline", kinds, []string{EventSourceRetrying, EventSourceResumed})
	if got := h.alertTimes(store.AlertSourceAttention); len(got) != 0 {
		t.Errorf("alerted within the hour at %v", got)
	}
}

// TestContinueAsNewWithASourceRunning: the request continues as new while
// its source's child runs; the new run takes the child's signals (it is
// addressed by id) and completes the task with its result.
func TestContinueAsNewWithASourceRunning(t *testing.T) {
	h := newHarness(t)
	// The child runs on (the test suite would wait for a real one to end
	// before the parent's run closes): it has started and said nothing yet.
	var started []SourceInput
	h.env.OnWorkflow(SourceWorkflowName, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in SourceInput) (SourceResult, error) {
			started = append(started, in)
			return SourceResult{}, nil
		})
	h.assignAutomated(false)
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, day)
	h.env.ExecuteWorkflow(WorkflowName, h.in)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	task, _ := next.Resume.State.Task(crm)
	if len(started) != 1 || started[0].Mode != dsar.SourcePostgres || started[0].DataSourceID != crm {
		t.Errorf("children started: %+v", started)
	}
	if task.Automation == nil || task.Automation.State != AutomationRunning || len(next.Resume.Sources) != 1 {
		t.Fatalf("carried %+v, sources %+v", task.Automation, next.Resume.Sources)
	}

	// The new run: the child (still running, addressed by id) is done.
	h2 := newHarness(t)
	h2.env.SetStartTime(start.Add(day))
	h2.in = next
	h2.at(time.Hour, SignalSourceProgress, SourceProgress{DataSourceID: crm, Seq: 9, Run: "r", Step: StepVerify, State: AutomationDone,
		Result: &SourceResult{Outcome: dsar.TaskErased, RecordCount: 4}})
	h2.rejectAt(2 * day)
	st := h2.run()
	if task, _ := st.Task(crm); task.Status != TaskCompleted || task.Outcome != dsar.TaskErased || *task.RecordCount != 4 {
		t.Errorf("the new run did not apply the child's result: %+v", task)
	}
}

// TestWebhookSourceCompletesTheTask: a webhook source's child posts the
// job (on the main queue, with the source's time limit) and applies the
// owner's result; a job the endpoint refuses needs attention, and a retry
// posts it again.
func TestWebhookSourceCompletesTheTask(t *testing.T) {
	h := newHarness(t)
	withConnector(h) // the progress signals; no connector step runs
	var jobs []activities.WebhookJobInput
	h.env.OnActivity(a.SendWebhookJob, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.WebhookJobInput) (activities.WebhookJobResult, error) {
			jobs = append(jobs, in)
			if len(jobs) == 1 {
				return activities.WebhookJobResult{}, temporal.NewNonRetryableApplicationError("HTTP 404", activities.ErrTypeWebhookRejected, nil)
			}
			return activities.WebhookJobResult{Outcome: dsar.TaskErased, RecordCount: 12}, nil
		})
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff})
	h.at(3*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff,
		Sources: []AssignedSource{{ID: crm, Mode: dsar.SourceWebhook, TimeLimit: 5 * time.Hour}}})
	stuck := h.taskAt(day)
	h.at(2*day, SignalAutomationRetry, AutomationRetry{Action: Action{ID: "retry"}, DataSourceID: crm, By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()
	if stuck.Automation == nil || stuck.Automation.State != AutomationNeedsAttention || stuck.Automation.ErrorType != ErrWebhookRejected ||
		stuck.Automation.Step != StepWebhook {
		t.Fatalf("after the refusal: %+v", stuck.Automation)
	}
	if len(jobs) != 2 || jobs[0].TimeLimit != 5*time.Hour || jobs[0].RequestType != dsar.RequestDeletion {
		t.Errorf("jobs %+v", jobs)
	}
	task, _ := st.Task(crm)
	if st.Status != dsar.StatusCompleted || task.Outcome != dsar.TaskErased || *task.RecordCount != 12 || task.Mode != dsar.SourceWebhook {
		t.Errorf("final %s %+v", st.Status, task)
	}
}

// TestWebhookTimeLimitNeedsAttention: no result within the source's time
// limit: the task needs attention with WebhookTimeout.
func TestWebhookTimeLimitNeedsAttention(t *testing.T) {
	h := newHarness(t)
	withConnector(h)
	h.env.OnActivity(a.SendWebhookJob, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.WebhookJobInput) (activities.WebhookJobResult, error) {
			return activities.WebhookJobResult{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, nil)
		})
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(2*time.Hour, SignalIdentityDecided, IdentityDecision{Verified: true, By: staff})
	h.at(3*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff,
		Sources: []AssignedSource{{ID: crm, Mode: dsar.SourceWebhook}}})
	stuck := h.taskAt(day)
	h.rejectAt(2 * day)
	h.run()
	if stuck.Automation == nil || stuck.Automation.State != AutomationNeedsAttention || stuck.Automation.ErrorType != ErrWebhookTimeout {
		t.Fatalf("after the time limit: %+v", stuck.Automation)
	}
}

// TestNoConnectorPollsTheQueue: the source's task queue has no poller (the
// connector was never started): the child never runs, and the request's
// workflow notices at its next check: the task shows no_connector with the
// queue in words, the timeline and the audit trail say so and one
// source_attention alert goes out (not one a check). Temporal answering
// an error changes nothing. When a connector polls again, the task goes
// back to what the child last said, and the timeline says so.
func TestNoConnectorPollsTheQueue(t *testing.T) {
	h := newHarness(t)
	c := withConnector(h)
	back := 3*time.Hour + time.Hour
	// The dry run's count is the child's last word: then nothing polls.
	var queues []string
	c.pollers = func(in activities.QueuePollersInput) (activities.QueuePollers, error) {
		queues = append(queues, in.TaskQueue)
		now := h.env.Now().Sub(start)
		switch {
		case now < 3*time.Hour+25*time.Minute:
			return activities.QueuePollers{Known: true}, nil
		case now < 3*time.Hour+35*time.Minute:
			return activities.QueuePollers{}, errors.New("temporal: unavailable")
		case now < back:
			return activities.QueuePollers{Known: true}, nil
		}
		return activities.QueuePollers{Known: true, Seen: true, LastSeen: h.env.Now()}, nil
	}
	h.assignAutomated(true)
	stuck := h.taskAt(3*time.Hour + 30*time.Minute)
	after := h.taskAt(back + sourceWatchEvery + time.Minute)
	h.rejectAt(5 * day)
	st := h.run()
	if stuck.Automation == nil || stuck.Automation.State != AutomationNoConnector ||
		!strings.Contains(stuck.Automation.Error, "no connector has polled task queue dsar-source-crm since") {
		t.Fatalf("with no connector: %+v", stuck.Automation)
	}
	if len(queues) == 0 || queues[0] != "dsar-source-crm" || len(c.watched) == 0 || c.watched[0] != 3*time.Hour+sourceWatchEvery {
		t.Errorf("checks of %v at %v", queues, c.watched)
	}
	// The dry run's alert at 3h, then one for the missing connector.
	if got := h.alertTimes(store.AlertSourceAttention); len(got) != 2 || got[1] != 3*time.Hour+sourceWatchEvery {
		t.Errorf("source attention alerts at %v", got)
	}
	if !slices.Contains(h.auditActions(), dsar.AuditAutomationNoConnector) {
		t.Errorf("audit: %v", h.auditActions())
	}
	var events []string
	for _, e := range st.Timeline {
		if e.Event == EventSourceNoConnector || (e.Event == EventSourceResumed && strings.Contains(e.Detail, "polls task queue")) {
			events = append(events, e.Event)
		}
	}
	equal(t, "timeline", events, []string{EventSourceNoConnector, EventSourceResumed})
	if after.Automation == nil || after.Automation.State != AutomationWaitingApproval || after.Automation.Matched != 7 {
		t.Errorf("once a connector polls: %+v", after.Automation)
	}
}
