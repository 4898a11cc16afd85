package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// How a source's steps are run. A connector step that fails for a reason
// a retry can fix (the database or the connector is away) is retried
// without end, backing off up to stepMaxInterval: the request's own
// timers (deadline warning, overdue alerts) keep firing meanwhile. A step
// whose worker died is noticed by its heartbeat: every step heartbeats at
// least every stepHeartbeat/4.
const (
	stepMaxInterval = 10 * time.Minute
	stepHeartbeat   = 2 * time.Minute
	stepAttempt     = 24 * time.Hour // one attempt of a step: a long export, heartbeating
)

// versionSourceRounds is the change id of steps retried in rounds: a step
// that fails for a reason a retry can fix is tried stepRoundAttempts times
// by the activity's policy; when the round fails the child tells the
// request's workflow (AutomationRetrying, with the error in words), waits
// (roundWait) and starts another round, without end. Before it, the
// activity's policy retried without end and the task showed "running".
const versionSourceRounds = "source-rounds"

// Rounds of a step's retries (versionSourceRounds).
const (
	stepRoundAttempts = 4
	roundFirstWait    = time.Minute
	roundMaxWait      = 10 * time.Minute
)

// roundWait is the wait after the n-th failed round (n from 1): doubling
// from roundFirstWait up to roundMaxWait.
func roundWait(n int) time.Duration {
	d := roundFirstWait
	for i := 1; i < n && d < roundMaxWait; i++ {
		d *= 2
	}
	return min(d, roundMaxWait)
}

// stepNonRetryable are the failures that need a person: the task needs
// attention until staff retry it or switch it to manual.
var stepNonRetryable = []string{ErrConnectorConfig, ErrConnectorAuth, ErrConnectorSchema, ErrWebhookRejected, ErrWebhookTimeout}

// DSARSource is the child workflow of one automated data source on one
// request (SourceWorkflowID). It runs the steps of the request's type on
// the source's connector (or its webhook), records each step's outcome in
// the audit trail, tells the request's workflow where it stands
// (SignalSourceProgress) and ends with the task's result, which it also
// signals (State done): the request's workflow may have continued as new
// since it started this child.
func DSARSource(ctx workflow.Context, in SourceInput) (SourceResult, error) {
	s := &source{in: in, log: workflow.GetLogger(ctx), wid: workflow.GetInfo(ctx).WorkflowExecution.ID,
		run: workflow.GetInfo(ctx).WorkflowExecution.RunID}
	s.rounds = workflow.GetVersion(ctx, versionSourceRounds, workflow.DefaultVersion, 1) == 1
	var res SourceResult
	var err error
	switch {
	case in.Mode == dsar.SourceWebhook:
		res, err = s.webhook(ctx)
	case in.RequestType == dsar.RequestInfo:
		res, err = s.access(ctx)
	case in.RequestType == dsar.RequestDeletion:
		res, err = s.deletion(ctx)
	default:
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("a %s request is not automated", in.RequestType), ErrConnectorConfig, nil)
	}
	if err != nil {
		return res, err
	}
	s.progress(ctx, SourceProgress{State: AutomationDone, Result: &res})
	return res, nil
}

// source is one run of a source's child.
type source struct {
	in     SourceInput
	log    log.Logger
	wid    string
	run    string
	seq    int // progress signals so far
	auditN int // audit events so far: their keys
	step   string
	rounds bool // retryable failures are retried in rounds, shown (versionSourceRounds)
}

// access finds the subject and exports their rows into a task file.
func (s *source) access(ctx workflow.Context) (SourceResult, error) {
	id, err := s.runStep(ctx, StepIdentify)
	if err != nil {
		return SourceResult{}, err
	}
	if id.Subjects == 0 {
		return SourceResult{Outcome: dsar.TaskNoData}, nil
	}
	ex, err := s.runStep(ctx, StepExport)
	if err != nil {
		return SourceResult{}, err
	}
	if ex.Rows == 0 || ex.FileID == "" {
		return SourceResult{Outcome: dsar.TaskNoData}, nil
	}
	return SourceResult{Outcome: dsar.TaskDataProvided, RecordCount: ex.Rows, FileIDs: []string{ex.FileID}}, nil
}

// deletion finds the subject, counts and waits for an approval on a dry
// run, erases and verifies that nothing is left.
func (s *source) deletion(ctx workflow.Context) (SourceResult, error) {
	id, err := s.runStep(ctx, StepIdentify)
	if err != nil {
		return SourceResult{}, err
	}
	if id.Subjects == 0 {
		return SourceResult{Outcome: dsar.TaskNoData}, nil
	}
	if s.in.DryRun {
		n, err := s.runStep(ctx, StepCount)
		if err != nil {
			return SourceResult{}, err
		}
		if err := s.awaitApproval(ctx, n.Rows); err != nil {
			return SourceResult{}, err
		}
	}
	er, err := s.runStep(ctx, StepErase)
	if err != nil {
		return SourceResult{}, err
	}
	for {
		v, err := s.runStep(ctx, StepVerify)
		if err != nil {
			return SourceResult{}, err
		}
		if v.Remaining == 0 {
			break
		}
		// Rows are left: the erase statement misses some, or rows came in
		// since. People look; a retry erases and verifies again.
		msg := fmt.Sprintf("verify found %d row(s) left after the erasure", v.Remaining)
		if err := s.attention(ctx, StepVerify, msg, "VerifyRemaining"); err != nil {
			return SourceResult{}, err
		}
		more, err := s.runStep(ctx, StepErase)
		if err != nil {
			return SourceResult{}, err
		}
		er.Rows += more.Rows
	}
	return SourceResult{Outcome: dsar.TaskErased, RecordCount: er.Rows}, nil
}

// webhook posts the job to the owner's endpoint and waits for its result
// (the activity completes when the owner posts it back), up to the
// source's time limit.
func (s *source) webhook(ctx workflow.Context) (SourceResult, error) {
	limit := s.in.TimeLimit
	if limit <= 0 {
		limit = DefaultWebhookTimeLimit
	}
	for {
		s.enter(ctx, StepWebhook)
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue: s.in.MainQueue, ScheduleToCloseTimeout: limit, StartToCloseTimeout: limit,
			Summary: "webhook job",
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
				MaximumInterval: stepMaxInterval, MaximumAttempts: retryForever, NonRetryableErrorTypes: stepNonRetryable},
		})
		var res WebhookJobResult
		err := workflow.ExecuteActivity(actx, ActivitySendWebhookJob,
			WebhookJobInput{RequestID: s.in.RequestID, DataSourceID: s.in.DataSourceID, RequestType: s.in.RequestType, TimeLimit: limit}).Get(ctx, &res)
		if err == nil {
			out := SourceResult{Outcome: res.Outcome, RecordCount: res.RecordCount, FileIDs: res.FileIDs}
			s.audit(ctx, StepWebhook, map[string]any{"outcome": string(res.Outcome), "record_count": res.RecordCount, "file_ids": res.FileIDs})
			return out, nil
		}
		if ctx.Err() != nil {
			return SourceResult{}, err
		}
		msg, kind := stepFault(err)
		var timeout *temporal.TimeoutError
		if errors.As(err, &timeout) {
			msg, kind = fmt.Sprintf("no result within the source's time limit (%s)", limit), ErrWebhookTimeout
		}
		if err := s.attention(ctx, StepWebhook, msg, kind); err != nil {
			return SourceResult{}, err
		}
	}
}

// DefaultWebhookTimeLimit is a webhook source's time limit when it sets
// none.
const DefaultWebhookTimeLimit = 72 * time.Hour

// runStep runs one connector step until it succeeds: retryable failures
// are retried without end (in rounds, each shown to people, with
// versionSourceRounds; by the activity's policy alone before it); a
// failure that needs a person waits for a retry (or for the request's
// workflow to cancel this child when staff switch the task to manual).
func (s *source) runStep(ctx workflow.Context, step string) (StepResult, error) {
	attempts := int32(retryForever)
	if s.rounds {
		attempts = stepRoundAttempts
	}
	round := 0
	for {
		s.enter(ctx, step)
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: stepAttempt, HeartbeatTimeout: stepHeartbeat, Summary: "connector " + step,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
				MaximumInterval: stepMaxInterval, MaximumAttempts: attempts, NonRetryableErrorTypes: stepNonRetryable},
		})
		var res StepResult
		err := workflow.ExecuteActivity(actx, ActivityConnectorStep,
			StepInput{RequestID: s.in.RequestID, DataSourceID: s.in.DataSourceID, Step: step}).Get(ctx, &res)
		if err == nil {
			s.audit(ctx, step, stepDetail(res))
			return res, nil
		}
		if ctx.Err() != nil {
			return res, err
		}
		msg, kind := stepFault(err)
		if s.rounds && retryable(err) {
			round++
			if err := s.retrying(ctx, step, msg, kind, roundWait(round)); err != nil {
				return res, err
			}
			continue
		}
		if err := s.attention(ctx, step, msg, kind); err != nil {
			return res, err
		}
	}
}

// retryable is whether a step's failure is one a retry can fix: not one
// that needs a person (stepNonRetryable, or marked non-retryable).
func retryable(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable() && !slices.Contains(stepNonRetryable, app.Type())
	}
	var canceled *temporal.CanceledError
	return !errors.As(err, &canceled)
}

// retrying tells the request's workflow that a round of step's attempts
// failed and another starts after wait. It returns an error only when this
// child is cancelled meanwhile.
func (s *source) retrying(ctx workflow.Context, step, msg, kind string, wait time.Duration) error {
	s.log.Warn("source step failed a round; retrying", "step", step, "type", kind, "wait", wait)
	s.progress(ctx, SourceProgress{Step: step, State: AutomationRetrying, Error: msg, ErrorType: kind})
	return workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: "retry " + step}).Get(ctx, nil)
}

// stepDetail is a step's evidence for the audit trail: counts, the export
// file's id and hash, the verify result. No personal data.
func stepDetail(res StepResult) map[string]any {
	d := map[string]any{}
	switch res.Step {
	case StepIdentify:
		d["subjects"] = res.Subjects
	case StepExport:
		d["rows"], d["file_id"], d["sha256"], d["size"] = res.Rows, res.FileID, res.SHA256, res.Size
	case StepCount, StepErase:
		d["rows"] = res.Rows
	case StepVerify:
		d["remaining"] = res.Remaining
	}
	return d
}

// stepFault is what people are told of a step's failure, and its type.
func stepFault(err error) (string, string) {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message(), app.Type() // Error() adds "(type: X, retryable: ...)"
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "the step timed out", "Timeout"
	}
	return err.Error(), ""
}

// enter tells the request's workflow that step is running.
func (s *source) enter(ctx workflow.Context, step string) {
	if s.step == step {
		return // a retry of the same step: nothing new to show
	}
	s.step = step
	s.progress(ctx, SourceProgress{State: AutomationRunning})
}

// attention tells the request's workflow that the step needs a person and
// waits for its retry. It returns an error only when this child is
// cancelled (staff switched the task to manual, or the request closed).
func (s *source) attention(ctx workflow.Context, step, msg, kind string) error {
	s.log.Warn("source step needs attention", "step", step, "type", kind)
	s.step = ""
	s.progress(ctx, SourceProgress{Step: step, State: AutomationNeedsAttention, Error: msg, ErrorType: kind})
	for {
		var r SourceRetry
		if !s.wait(ctx, SignalSourceRetry, &r) {
			return ctx.Err()
		}
		if r.RequestID == s.in.RequestID && r.DataSourceID == s.in.DataSourceID {
			return nil
		}
	}
}

// wait receives the next signal of name into p; false when this child is
// cancelled first.
func (s *source) wait(ctx workflow.Context, name string, p any) bool {
	got := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) { got = c.ReceiveAsync(p) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	for !got && ctx.Err() == nil {
		sel.Select(ctx)
	}
	return got
}

// awaitApproval shows the rows a dry run matched and waits for the
// approval of the erasure. A refusal is a cancellation: the request's
// workflow cancels this child and the task becomes manual.
func (s *source) awaitApproval(ctx workflow.Context, matched int64) error {
	s.step = ""
	s.progress(ctx, SourceProgress{Step: StepCount, State: AutomationWaitingApproval, Matched: matched})
	for {
		var a SourceApproval
		if !s.wait(ctx, SignalSourceApproval, &a) {
			return ctx.Err()
		}
		if a.RequestID != s.in.RequestID || a.DataSourceID != s.in.DataSourceID {
			continue
		}
		if !a.Approved {
			return temporal.NewCanceledError("the erasure was not approved")
		}
		return nil
	}
}

// progress signals the request's workflow (whichever run is current).
func (s *source) progress(ctx workflow.Context, p SourceProgress) {
	s.seq++
	p.RequestID, p.DataSourceID, p.Seq, p.Run, p.At = s.in.RequestID, s.in.DataSourceID, s.seq, s.run, workflow.Now(ctx)
	if p.Step == "" {
		p.Step = s.step
	}
	err := workflow.SignalExternalWorkflow(ctx, WorkflowID(s.in.RequestID), "", SignalSourceProgress, p).Get(ctx, nil)
	if err != nil {
		// The request's workflow is gone (closed): it cancels its children
		// when it closes, so this child ends too.
		s.log.Warn("progress not delivered to the request", "state", p.State, "error", err)
	}
}

// audit records a step's outcome in the audit trail, through the main
// worker (this child may run next to the data, without the database).
func (s *source) audit(ctx workflow.Context, step string, detail map[string]any) {
	s.auditN++
	detail["data_source_id"], detail["step"] = s.in.DataSourceID, step
	ev := store.Audit{RequestID: s.in.RequestID, ActorKind: store.ActorSystem, Action: dsar.AuditConnectorStep, Detail: detail,
		Key: fmt.Sprintf("%s/%s#%d", s.wid, s.run, s.auditN)}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: s.in.MainQueue, StartToCloseTimeout: writeAttempt, Summary: "audit " + step,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: writeMaxInterval, MaximumAttempts: retryForever},
	})
	if err := workflow.ExecuteActivity(actx, ActivityAudit, ev).Get(ctx, nil); err != nil && ctx.Err() == nil {
		s.log.Error("audit of a source step failed", "step", step, "error", err)
	}
}
