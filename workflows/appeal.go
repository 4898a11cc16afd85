package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// An appeal is a workflow of its own (AppealWorkflowName, id
// dsar-<request id>-appeal), started by the request's workflow as its
// child when it takes the requester's appeal. It keeps the appeal's
// deadline (warning and overdue alerts), takes the staff's decision as an
// action with an exact answer, and returns the decision to the request's
// workflow, which mails it and, when reversed, reopens the request.

// AppealWorkflowName is the registered name of the appeal workflow.
const AppealWorkflowName = "DSARAppeal"

// AppealWorkflowID is the id of a request's appeal workflow.
func AppealWorkflowID(requestID string) string { return WorkflowID(requestID) + "-appeal" }

// SignalAppealDecided carries a staff member's decision on an appeal
// (AppealDecision) to the appeal's workflow.
const SignalAppealDecided = "appeal-decided"

// Timer summaries of the appeal workflow.
const (
	TimerAppealWarning = "appeal deadline warning"
	TimerAppealOverdue = "appeal deadline"
)

// AppealInput starts an appeal's workflow.
type AppealInput struct {
	AppealID  string
	RequestID string
	FiledAt   time.Time
	Deadline  time.Time
	// Decider is who decided the request: the one staff member who may
	// not decide its appeal ("" when no staff member did).
	Decider string
	// RequestStatus is the request's status while the appeal is open (its
	// actions' answers name it).
	RequestStatus   dsar.Status
	Periods         Periods
	ImmediateAlerts bool
}

// AppealState is an appeal as its workflows know it; QueryState on the
// appeal's workflow returns it.
type AppealState struct {
	ID          string            `json:"id"`
	Status      dsar.AppealStatus `json:"status"`
	FiledAt     time.Time         `json:"filed_at"`
	Deadline    time.Time         `json:"deadline"`
	Overdue     bool              `json:"overdue,omitempty"`
	DecidedAt   *time.Time        `json:"decided_at,omitempty"`
	DecidedBy   string            `json:"decided_by,omitempty"`
	Outcome     string            `json:"outcome,omitempty"`     // upheld or reversed, once decided
	Explanation string            `json:"explanation,omitempty"` // the decision's reasons, mailed and shown to the requester
}

// AppealDecision is the payload of SignalAppealDecided.
type AppealDecision struct {
	Action
	Outcome     dsar.AppealStatus // dsar.AppealUpheld or dsar.AppealReversed
	Explanation string
	By          string
}

// AppealResult is what the appeal's workflow returns: its decision.
type AppealResult struct {
	Outcome     dsar.AppealStatus
	Explanation string
	DecidedBy   string
	DecidedAt   time.Time
}

// maxExplanation bounds an appeal decision's explanation.
const maxExplanation = 5000

// AllowsAppealDecision reports whether an appeal in status may take
// decision d from its staff member, when decider decided the request: a
// *dsar.Error when not (ECONFLICT once decided, EINVALID for a bad
// payload, EFORBIDDEN for the request's own decider). The API calls it
// before signalling, the appeal's workflow again on receipt.
func AllowsAppealDecision(status dsar.AppealStatus, decider string, d AppealDecision) error {
	if status != dsar.AppealOpen {
		return dsar.Errorf(dsar.ECONFLICT, "the appeal is decided already (%s)", status)
	}
	bad := map[string]string{}
	if d.Outcome != dsar.AppealUpheld && d.Outcome != dsar.AppealReversed {
		bad["outcome"] = "must be upheld or reversed"
	}
	switch n := len([]rune(strings.TrimSpace(d.Explanation))); {
	case n == 0:
		bad["explanation"] = "say why: the requester reads it"
	case n > maxExplanation:
		bad["explanation"] = fmt.Sprintf("must be at most %d characters", maxExplanation)
	}
	if len(bad) > 0 {
		return dsar.Invalid(bad)
	}
	if decider != "" && d.By == decider {
		return dsar.Errorf(dsar.EFORBIDDEN, "you decided the request: a staff member who did not decides its appeal")
	}
	return nil
}

// appealRun is one execution of an appeal's workflow.
type appealRun struct {
	in          AppealInput
	st          AppealState
	log         log.Logger
	wid         string
	seq         int64 // projection writes so far
	auditN      int64 // audit events so far: their keys
	warned      bool  // the deadline warning was sent
	overdueNext int   // index of the next overdue alert
	actionIDs   []string
}

// Appeal is the workflow of one appeal, from filing to its decision, which
// it returns.
func Appeal(ctx workflow.Context, in AppealInput) (AppealResult, error) {
	ap := &appealRun{in: in, log: workflow.GetLogger(ctx), wid: workflow.GetInfo(ctx).WorkflowExecution.ID,
		st: AppealState{ID: in.AppealID, Status: dsar.AppealOpen, FiledAt: in.FiledAt, Deadline: in.Deadline}}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (AppealState, error) { return ap.st, nil }); err != nil {
		return AppealResult{}, err
	}
	ap.details(ctx)
	ap.alert(ctx, store.AlertAppealFiled, "appeal-filed")
	decisions := workflow.GetSignalChannel(ctx, SignalAppealDecided)
	for {
		for {
			var d AppealDecision
			if !decisions.ReceiveAsync(&d) {
				break
			}
			if res, done := ap.decide(ctx, d); done {
				return res, nil
			}
		}
		now := workflow.Now(ctx)
		at, summary, fire, ok := ap.next()
		if ok && !at.After(now) {
			fire(ctx)
			continue
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		if ok {
			sel.AddFuture(workflow.NewTimerWithOptions(timerCtx, at.Sub(now), workflow.TimerOptions{Summary: summary}), func(workflow.Future) {})
		}
		sel.AddReceive(decisions, func(workflow.ReceiveChannel, bool) {}) // taken at the top of the loop
		sel.Select(ctx)
		cancel()
	}
}

// next is the appeal's next timer event: the warning before its deadline,
// then the deadline and the overdue reminders.
func (ap *appealRun) next() (time.Time, string, func(workflow.Context), bool) {
	p := ap.in.Periods
	if !ap.warned && p.DeadlineWarningBefore > 0 && ap.overdueNext == 0 {
		return ap.st.Deadline.Add(-p.DeadlineWarningBefore), TimerAppealWarning, ap.warn, true
	}
	if ap.overdueNext == 0 || p.OverdueAlertEvery > 0 {
		return ap.st.Deadline.Add(time.Duration(ap.overdueNext) * p.OverdueAlertEvery), TimerAppealOverdue, ap.overdue, true
	}
	return time.Time{}, "", nil, false
}

func (ap *appealRun) warn(ctx workflow.Context) {
	ap.warned = true
	ap.alert(ctx, store.AlertAppealWarning, "appeal-warning")
}

func (ap *appealRun) overdue(ctx workflow.Context) {
	n := ap.overdueNext
	if !ap.st.Overdue {
		ap.st.Overdue = true
		ap.audit(ctx, store.ActorSystem, "", dsar.AuditAppealOverdue, map[string]any{
			"appeal_id": ap.st.ID, "deadline": ap.st.Deadline.UTC().Format(time.RFC3339)})
		ap.project(ctx, nil)
		ap.details(ctx)
	}
	ap.alert(ctx, store.AlertAppealOverdue, fmt.Sprintf("appeal-overdue-%d", n))
	ap.overdueNext = max(n+1, periodsSince(ap.st.Deadline, workflow.Now(ctx), ap.in.Periods.OverdueAlertEvery)+1)
}

// decide applies a staff member's decision, or refuses it (its answer is
// recorded either way). done is true once the appeal is decided.
func (ap *appealRun) decide(ctx workflow.Context, d AppealDecision) (AppealResult, bool) {
	if d.ID != "" {
		if slices.Contains(ap.actionIDs, d.ID) {
			return AppealResult{}, false
		}
		ap.actionIDs = append(ap.actionIDs, d.ID)
		if len(ap.actionIDs) > maxActionIDs {
			ap.actionIDs = ap.actionIDs[len(ap.actionIDs)-maxActionIDs:]
		}
	}
	now := workflow.Now(ctx)
	at := d.At
	if at.IsZero() || at.After(now) || at.Before(ap.st.FiledAt) {
		at = now
	}
	err := AllowsAppealDecision(ap.st.Status, ap.in.Decider, d)
	if err == nil && d.RequestID != ap.in.RequestID {
		err = dsar.Errorf(dsar.EFORBIDDEN, "the action was not made for this request")
	}
	if err == nil {
		var verdict activities.ActorVerdict
		ap.must(ctx, "check who decides the appeal", &verdict, a.CheckActor,
			activities.ActorCheck{UserID: d.By, Roles: queueRoles, RequestID: ap.in.RequestID})
		if !verdict.Allowed {
			err = dsar.Errorf(dsar.EFORBIDDEN, "%s", verdict.Reason)
		}
	}
	outcome := store.ActionOutcome{ActionID: d.ID, Signal: SignalAppealDecided, ActedAt: at}
	if err != nil {
		reason := dsar.ErrorMessage(err)
		ap.audit(ctx, actorKind(d.By), d.By, dsar.AuditSignalIgnored, map[string]any{
			"signal": SignalAppealDecided, "status": string(ap.st.Status), "code": dsar.ErrorCode(err), "reason": reason})
		outcome.Code, outcome.Reason = dsar.ErrorCode(err), reason
		ap.project(ctx, &outcome)
		return AppealResult{}, false
	}
	ap.st.Status, ap.st.Outcome, ap.st.DecidedAt, ap.st.DecidedBy = d.Outcome, string(d.Outcome), &at, d.By
	ap.st.Explanation = strings.TrimSpace(d.Explanation)
	ap.audit(ctx, store.ActorStaff, d.By, dsar.AuditAppealDecided, map[string]any{
		"appeal_id": ap.st.ID, "outcome": string(d.Outcome), "explanation_sha256": digest(ap.st.Explanation)})
	outcome.Applied = true
	ap.project(ctx, &outcome)
	ap.details(ctx)
	return AppealResult{Outcome: d.Outcome, Explanation: ap.st.Explanation, DecidedBy: d.By, DecidedAt: at}, true
}

// project writes the appeal's state, with the answer to an action if any.
func (ap *appealRun) project(ctx workflow.Context, o *store.ActionOutcome) {
	ap.seq++
	p := store.AppealProjection{ID: ap.st.ID, RequestID: ap.in.RequestID, Status: ap.st.Status, Deadline: ap.st.Deadline,
		Overdue: ap.st.Overdue, DecidedAt: ap.st.DecidedAt, DecidedBy: ap.st.DecidedBy, Explanation: ap.st.Explanation, Seq: ap.seq}
	if o != nil && o.ActionID != "" {
		deadline := ap.st.Deadline
		o.Status, o.Deadline = ap.in.RequestStatus, &deadline
		p.Actions = []store.ActionOutcome{*o}
	}
	ap.must(ctx, "project the appeal", nil, a.ProjectAppeal, p)
}

// audit appends to the request's audit trail, keyed by the appeal
// workflow's id and a counter.
func (ap *appealRun) audit(ctx workflow.Context, kind, actor, action string, detail map[string]any) {
	ap.auditN++
	ev := store.Audit{RequestID: ap.in.RequestID, ActorKind: kind, ActorID: actor, Action: action, Detail: detail,
		Key: fmt.Sprintf("%s#%d", ap.wid, ap.auditN)}
	ap.must(ctx, "audit "+action, nil, a.Audit, ev)
}

// alert records a staff alert about the appeal (its request's).
func (ap *appealRun) alert(ctx workflow.Context, kind, key string) {
	req := activities.AlertRequest{RequestID: ap.in.RequestID, Kind: kind, Key: key, Deadline: ap.st.Deadline,
		Immediate: ap.in.ImmediateAlerts, OrgOwners: true}
	ap.must(ctx, "alert "+kind, nil, a.RecordAlerts, req)
}

// details shows the appeal's state in the Temporal UI.
func (ap *appealRun) details(ctx workflow.Context) {
	d := ap.st.Status.Label()
	if ap.st.Status == dsar.AppealOpen {
		d += " · due " + ap.st.Deadline.UTC().Format("2006-01-02 15:04 MST")
		if ap.st.Overdue {
			d += " · OVERDUE"
		}
	}
	workflow.SetCurrentDetails(ctx, d)
}

// must runs a database step of the appeal until it succeeds: retried
// without end while it fails retryably, and, after a failure retries
// cannot fix, tried again every attentionRetry, the appeal showing it in
// the Temporal UI meanwhile. The appeal waits; it never passes a step over.
func (ap *appealRun) must(ctx workflow.Context, summary string, result any, fn any, args ...any) {
	for attempt := 0; ; attempt++ {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: writeAttempt, ScheduleToCloseTimeout: writeGiveUp, Summary: summary,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: writeMaxInterval, MaximumAttempts: retryForever},
		})
		err := workflow.ExecuteLocalActivity(lctx, fn, args...).Get(ctx, result)
		if err == nil {
			if attempt > 0 {
				ap.details(ctx)
			}
			return
		}
		ap.log.Error("appeal step needs attention", "step", summary, "error", err)
		workflow.SetCurrentDetails(ctx, "NEEDS ATTENTION · "+summary+": "+faultKind(err))
		_ = workflow.NewTimerWithOptions(ctx, attentionRetry, workflow.TimerOptions{Summary: TimerAttentionRetry}).Get(ctx, nil)
	}
}
