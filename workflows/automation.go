package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// versionConnectors is the change id of automated data sources: a task of
// an access or deletion request on a source whose mode is not manual is
// run by a child workflow (DSARSource), whose progress and result this
// workflow applies, with the staff actions retry, manual and approval.
const versionConnectors = "connectors"

// connectorSignals are the actions a run before versionConnectors refuses.
var connectorSignals = []string{SignalAutomationRetry, SignalAutomationManual, SignalAutomationApproval}

// errAutomated is the refusal of a person's completion or decline of a
// task the system runs.
func errAutomated(t *TaskState) error {
	return dsar.Errorf(dsar.ECONFLICT, "the system runs this task (%s: %s); switch it to manual first",
		t.Mode, AutomationStateLabel(t.Automation.State))
}

// allowsAutomation checks a staff action on an automated task.
func (s *State) allowsAutomation(signal string, p any) error {
	var ds string
	switch v := p.(type) {
	case AutomationRetry:
		ds = v.DataSourceID
	case ManualSwitch:
		ds = v.DataSourceID
		if strings.TrimSpace(v.Reason) == "" {
			return dsar.Invalid(map[string]string{"reason": "say why the task is switched to manual"})
		}
	case DryRunDecision:
		ds = v.DataSourceID
	}
	t, ok := s.Task(ds)
	if !ok {
		return dsar.Errorf(dsar.ENOTFOUND, "no task for data source %s on this request", ds)
	}
	if t.Automation == nil {
		return dsar.Errorf(dsar.ECONFLICT, "the task is not automated: its owners do it")
	}
	state := t.Automation.State
	refuse := func(want string) error {
		return dsar.Errorf(dsar.ECONFLICT, "the task's automation is %s (%s), not %s", state, AutomationStateLabel(state), want)
	}
	switch signal {
	case SignalAutomationRetry:
		if state != AutomationNeedsAttention {
			return refuse(AutomationNeedsAttention)
		}
	case SignalAutomationApproval:
		if state != AutomationWaitingApproval {
			return refuse(AutomationWaitingApproval)
		}
	case SignalAutomationManual:
		if t.Status == TaskCompleted || !t.Automated() {
			return refuse("running, needing attention or waiting for approval")
		}
	}
	return nil
}

// assignedSource is how the task of data source id is fulfilled, from the
// assignment: automated only for an access or deletion request on a
// source whose mode is not manual.
func (r *run) assignedSource(p Assignment, id string) (AssignedSource, bool) {
	if !r.connectors || !dsar.AutomatedRequest(r.in.RequestType) {
		return AssignedSource{}, false
	}
	for _, s := range p.Sources {
		if s.ID == id && s.Mode.Automated() {
			if s.Mode.SQL() && s.TaskQueue == "" {
				return AssignedSource{}, false
			}
			return s, true
		}
	}
	return AssignedSource{}, false
}

// startSource starts the child workflow of an automated task. Its id is
// the business key (SourceWorkflowID): a later run of this workflow
// addresses it by id. It is abandoned rather than cancelled when this run
// closes, since this run also closes when it continues as new; the request
// cancels it itself when it closes (cancelSources) or when staff switch the
// task to manual.
func (r *run) startSource(ctx workflow.Context, src AssignedSource) {
	main := workflow.GetInfo(ctx).TaskQueueName
	queue := main
	if src.Mode.SQL() {
		queue = src.TaskQueue
	}
	in := SourceInput{RequestID: r.in.RequestID, DataSourceID: src.ID, RequestType: r.in.RequestType, Mode: src.Mode,
		DryRun: src.DryRun, TimeLimit: src.TimeLimit, MainQueue: main}
	r.flushAudits(ctx) // the trail shows what led to the child before what it does
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: SourceWorkflowID(r.in.RequestID, src.ID), TaskQueue: queue,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		StaticSummary:         fmt.Sprintf("%s source %s of request %s", src.Mode, src.ID, r.in.RequestID),
	})
	err := workflow.ExecuteChildWorkflow(cctx, SourceWorkflowName, in).GetChildWorkflowExecution().Get(ctx, nil)
	if err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		// Nothing runs the task: people must know, and may retry.
		r.onSourceProgress(ctx, SourceProgress{RequestID: r.in.RequestID, DataSourceID: src.ID, State: AutomationNeedsAttention,
			Error: "the source's workflow could not be started: " + err.Error(), ErrorType: "StartFailed",
			Run: "start", Seq: int(workflow.Now(ctx).Unix()), At: workflow.Now(ctx)})
	}
}

// onSourceProgress applies a child's progress to its task: its automation
// state, and on done its result as the task's completion by the system.
func (r *run) onSourceProgress(ctx workflow.Context, p SourceProgress) {
	if !r.connectors || p.RequestID != r.in.RequestID {
		r.log.Warn("source progress for another request ignored", "for", p.RequestID)
		return
	}
	t, ok := r.st.Task(p.DataSourceID)
	if !ok || t.Status == TaskCompleted || !t.Automated() {
		return // switched to manual or done: a late signal of a cancelled child
	}
	now := workflow.Now(ctx)
	before := t.Automation.State
	t.Automation = &Automation{Step: p.Step, State: p.State, Error: p.Error, ErrorType: p.ErrorType, Matched: p.Matched, UpdatedAt: now}
	t.LastActivityAt = now
	delete(r.stalls, p.DataSourceID)
	delete(r.beforeNoConnector, p.DataSourceID) // the child runs: a connector polls
	switch p.State {
	case AutomationDone:
		r.sourceDone(ctx, t, p)
		return
	case AutomationNeedsAttention:
		r.note(ctx, EventSourceAttention, "", fmt.Sprintf("%s: %s: %s", p.DataSourceID, p.Step, p.Error))
		r.audit(ctx, store.ActorSystem, "", dsar.AuditAutomationAttention, map[string]any{
			"data_source_id": p.DataSourceID, "step": p.Step, "error_type": p.ErrorType})
		r.changed(ctx)
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertSourceAttention, OrgOwners: true,
			Key: fmt.Sprintf("source-attention-%s-%s-%d", p.DataSourceID, p.Run, p.Seq), DataSourceIDs: []string{p.DataSourceID}})
	case AutomationWaitingApproval:
		r.note(ctx, EventSourceApproval, "", fmt.Sprintf("%s: %d row(s) match", p.DataSourceID, p.Matched))
		r.changed(ctx)
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertSourceAttention, OrgOwners: true,
			Key: fmt.Sprintf("source-approval-%s-%s-%d", p.DataSourceID, p.Run, p.Seq), DataSourceIDs: []string{p.DataSourceID}})
	case AutomationRetrying:
		r.onRetrying(ctx, before, p)
	default:
		if before == AutomationNeedsAttention || before == AutomationRetrying {
			r.note(ctx, EventSourceResumed, "", p.DataSourceID+": "+p.Step)
		}
		r.changed(ctx)
	}
}

// retryingAlertAfter is how long a task may show AutomationRetrying before
// its source's owners and the handler are alerted (once per episode).
const retryingAlertAfter = time.Hour

// onRetrying shows a failed round of a step's retries: on the task each
// round, in the timeline when the task starts retrying, and in one alert
// once it has been retrying for retryingAlertAfter.
func (r *run) onRetrying(ctx workflow.Context, before string, p SourceProgress) {
	now := workflow.Now(ctx)
	if r.retryingSince == nil {
		r.retryingSince = map[string]time.Time{}
	}
	since, ok := r.retryingSince[p.DataSourceID]
	if before != AutomationRetrying || !ok {
		since = now
		r.retryingSince[p.DataSourceID] = since
		delete(r.retryingAlerted, p.DataSourceID)
		r.note(ctx, EventSourceRetrying, "", fmt.Sprintf("%s: %s: %s", p.DataSourceID, p.Step, p.Error))
	}
	r.changed(ctx)
	if now.Sub(since) < retryingAlertAfter || r.retryingAlerted[p.DataSourceID] {
		return
	}
	if r.retryingAlerted == nil {
		r.retryingAlerted = map[string]bool{}
	}
	r.retryingAlerted[p.DataSourceID] = true
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertSourceAttention, OrgOwners: true,
		Key: fmt.Sprintf("source-retrying-%s-%s-%d", p.DataSourceID, p.Run, p.Seq), DataSourceIDs: []string{p.DataSourceID}})
}

// sourceDone completes the task with the child's result.
func (r *run) sourceDone(ctx workflow.Context, t *TaskState, p SourceProgress) {
	res := p.Result
	if res == nil || !res.Outcome.Fits(r.st.RequestType) {
		what := "no result"
		if res != nil {
			what = fmt.Sprintf("the outcome %q", res.Outcome)
		}
		t.Automation.State, t.Automation.Error, t.Automation.ErrorType = AutomationNeedsAttention,
			fmt.Sprintf("the source ended with %s, which a %s request's task cannot have; switch it to manual", what, r.st.RequestType.Label()), "BadResult"
		p.State, p.Error = AutomationNeedsAttention, t.Automation.Error
		r.note(ctx, EventSourceAttention, "", p.DataSourceID+": "+t.Automation.Error)
		r.changed(ctx)
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertSourceAttention, OrgOwners: true,
			Key: fmt.Sprintf("source-attention-%s-%s-%d", p.DataSourceID, p.Run, p.Seq), DataSourceIDs: []string{p.DataSourceID}})
		return
	}
	now := workflow.Now(ctx)
	count := res.RecordCount
	t.Status, t.CompletedAt, t.CompletedBy, t.LastActivityAt = TaskCompleted, &now, "", now
	t.Outcome, t.RecordCount, t.DeclineReason = res.Outcome, &count, ""
	t.Note = fmt.Sprintf("Done by the system (%s)", t.Mode.Label())
	delete(r.stalls, p.DataSourceID)
	r.noteAt(now, EventTaskCompleted, "", p.DataSourceID)
	r.audit(ctx, store.ActorSystem, "", dsar.AuditTaskCompleted, map[string]any{"data_source_id": p.DataSourceID,
		"outcome": string(res.Outcome), "record_count": count, "file_ids": res.FileIDs, "mode": string(t.Mode)})
	r.settled(ctx)
}

// onAutomationRetry asks the child that needs attention to run its step
// again; a child that is gone (it failed) is started again.
func (r *run) onAutomationRetry(ctx workflow.Context, p AutomationRetry) {
	if !r.allowed(ctx, SignalAutomationRetry, p, p.By) {
		return
	}
	t, _ := r.st.Task(p.DataSourceID)
	now := r.when(ctx, p.Action)
	t.Automation.State, t.Automation.Error, t.Automation.ErrorType, t.Automation.UpdatedAt = AutomationRunning, "", "", now
	t.LastActivityAt = now
	r.noteAt(now, EventSourceRetried, p.By, p.DataSourceID)
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditAutomationRetried, map[string]any{"data_source_id": p.DataSourceID})
	r.changed(ctx)
	id := SourceWorkflowID(r.in.RequestID, p.DataSourceID)
	err := workflow.SignalExternalWorkflow(ctx, id, "", SignalSourceRetry,
		SourceRetry{RequestID: r.in.RequestID, DataSourceID: p.DataSourceID, By: p.By}).Get(ctx, nil)
	if err != nil {
		r.log.Warn("source child not running; starting it again", "data_source_id", p.DataSourceID, "error", err)
		r.startSource(ctx, r.sourceOf(t))
	}
}

// sourceOf is how task t's source is run, as it was assigned.
func (r *run) sourceOf(t *TaskState) AssignedSource {
	for _, s := range r.sources {
		if s.ID == t.DataSourceID {
			return s
		}
	}
	return AssignedSource{ID: t.DataSourceID, Mode: t.Mode}
}

// onAutomationManual stops the system on a task: its child is cancelled
// and the task is its owners' to do, open.
func (r *run) onAutomationManual(ctx workflow.Context, p ManualSwitch) {
	if !r.allowed(ctx, SignalAutomationManual, p, p.By) {
		return
	}
	audit := func() {
		r.audit(ctx, actorKind(p.By), p.By, dsar.AuditAutomationManual, map[string]any{"data_source_id": p.DataSourceID})
	}
	r.toManual(ctx, r.when(ctx, p.Action), p.DataSourceID, p.By, strings.TrimSpace(p.Reason), p.Action.ID, audit)
	if !r.oneWrite {
		audit() // runs before one-write audit the switch after its outcome's write, as they did
	}
}

// toManual cancels a task's child and gives the task to its owners. On
// versionOneWrite it calls audit, the staff action's audit, once the child
// is asked to stop and before the write that records the action's outcome,
// which carries the row: the answer never comes before it. Runs before
// one-write audit where their callers always did (audit is not called).
func (r *run) toManual(ctx workflow.Context, at time.Time, ds, by, reason, key string, audit func()) {
	t, _ := r.st.Task(ds)
	t.Automation = &Automation{Step: t.Automation.Step, State: AutomationManual, Error: reason, UpdatedAt: at}
	t.Status, t.LastActivityAt = TaskOpen, at
	delete(r.stalls, ds)
	r.noteAt(at, EventSourceManual, by, ds+": "+reason)
	r.cancelSource(ctx, ds)
	if r.oneWrite {
		audit()
	}
	r.changed(ctx)
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskAssigned, Key: fmt.Sprintf("manual-%s-%s", ds, key), DataSourceIDs: []string{ds}})
}

// onAutomationApproval decides a dry run: approved, the child erases;
// refused, the task becomes manual.
func (r *run) onAutomationApproval(ctx workflow.Context, p DryRunDecision) {
	if !r.allowed(ctx, SignalAutomationApproval, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	audit := func() {
		r.audit(ctx, actorKind(p.By), p.By, dsar.AuditAutomationApproval, map[string]any{"data_source_id": p.DataSourceID, "approved": p.Approved})
	}
	if !p.Approved {
		if !r.oneWrite {
			audit() // runs before one-write audit a refusal before the child is cancelled, as they did
		}
		reason := "the dry run's erasure was not approved"
		if n := strings.TrimSpace(p.Note); n != "" {
			reason += ": " + n
		}
		r.toManual(ctx, now, p.DataSourceID, p.By, reason, p.Action.ID, audit)
		return
	}
	audit()
	t, _ := r.st.Task(p.DataSourceID)
	t.Automation.State, t.Automation.UpdatedAt = AutomationRunning, now
	t.LastActivityAt = now
	r.noteAt(now, EventSourceApproved, p.By, fmt.Sprintf("%s: %d row(s)", p.DataSourceID, t.Automation.Matched))
	r.changed(ctx)
	err := workflow.SignalExternalWorkflow(ctx, SourceWorkflowID(r.in.RequestID, p.DataSourceID), "", SignalSourceApproval,
		SourceApproval{RequestID: r.in.RequestID, DataSourceID: p.DataSourceID, Approved: true, Note: p.Note, By: p.By}).Get(ctx, nil)
	if err != nil {
		// The child is gone: say so on the task; staff retry (a new child
		// runs the dry run again) or switch it to manual.
		r.onSourceProgress(ctx, SourceProgress{RequestID: r.in.RequestID, DataSourceID: p.DataSourceID, Step: StepCount,
			State: AutomationNeedsAttention, Error: "the source's workflow is not running any more", ErrorType: "Gone",
			Run: "approval", Seq: int(now.Unix()), At: now})
	}
}

// cancelSource asks a task's child to stop (it may be gone already).
func (r *run) cancelSource(ctx workflow.Context, ds string) {
	r.flushAudits(ctx)
	if err := workflow.RequestCancelExternalWorkflow(ctx, SourceWorkflowID(r.in.RequestID, ds), "").Get(ctx, nil); err != nil {
		r.log.Info("source child not cancelled (not running)", "data_source_id", ds, "error", err)
	}
}

// cancelSources stops every child still running when the request closes.
// Their tasks become manual: a request an appeal reopens gives them to
// their owners (or staff retry them).
func (r *run) cancelSources(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for i := range r.st.Tasks {
		if t := &r.st.Tasks[i]; t.Status != TaskCompleted && t.Automated() {
			r.cancelSource(ctx, t.DataSourceID)
			t.Automation = &Automation{Step: t.Automation.Step, State: AutomationManual,
				Error: "the request closed: the system stopped", UpdatedAt: now}
		}
	}
}

// receiveProgress applies every progress signal already received.
func (r *run) receiveProgress(ctx workflow.Context) {
	for {
		var p SourceProgress
		if !workflow.GetSignalChannel(ctx, SignalSourceProgress).ReceiveAsync(&p) {
			return
		}
		r.onSourceProgress(ctx, p)
	}
}

// addProgress adds to sel a receive of the children's progress.
func (r *run) addProgress(ctx workflow.Context, sel workflow.Selector) {
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalSourceProgress), func(c workflow.ReceiveChannel, _ bool) {
		var p SourceProgress
		if c.ReceiveAsync(&p) {
			r.onSourceProgress(ctx, p)
		}
	})
}
