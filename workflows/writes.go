package workflows

import (
	"errors"
	"fmt"
	"github.com/opendsar/dsar"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// How the request's writes are retried. A database write the request
// depends on (projection, audit, alerts, erasure) is tried for 30 s at a
// time and retried, with backoff up to writeMaxInterval, for as long as
// writeGiveUp: far longer than any outage. While the backoff is short
// the worker retries a local activity itself; past the workflow task's
// timeout the SDK retries it on a durable timer, so a long outage costs
// one small workflow task per retry, not a busy loop.
const (
	writeAttempt     = 30 * time.Second
	writeMaxInterval = 2 * time.Minute
	writeGiveUp      = 10 * 365 * 24 * time.Hour
	// attentionRetry is how often a step that failed for good is tried
	// again while it waits for an operator: a fault fixed without telling
	// the workflow still lets it carry on.
	attentionRetry = time.Hour
	// retryForever is the attempts a write may take: no limit in practice.
	// (0 means the same to the server, but the SDK's test environment reads
	// 0 as 10 attempts.)
	retryForever = math.MaxInt32
)

// versionLocalDB is the change id of running database activities locally.
const versionLocalDB = "local-db-activities"

// versionDurable is the change id of the durable core: writes that wait
// out any outage, mail beside the main loop, exact action outcomes and
// actions ordered by when people acted. Runs started before it keep their
// old path until they continue as new.
const versionDurable = "durable-core"

// versionSeedFlow is the change id of the seed's workflow completed for
// daily use: withdrawal, declined and reassigned tasks, a corrected email
// address, identity checked at a manual intake, and the ready-to-complete
// alert. Runs started before it do none of these until they continue as
// new (the API refuses them first: their signals are not taken).
const versionSeedFlow = "seed-flow"

// versionOneWrite is the change id of audit events that travel in the
// projection write after them: a staff action's audit row and its outcome
// commit in one transaction (one local activity, not two). Runs started
// before it keep a write per audit event until they continue as new.
const versionOneWrite = "one-write"

// versionKeepAudits is the change id of the audit events a projection
// write carried (versionOneWrite) when an operator abandoned the workflow
// while that write failed: they are written on their own before the
// workflow ends (keepAudits), as they were before one-write. Runs before
// it drop them with the write.
const versionKeepAudits = "abandon-keeps-audits"

// Metric names the workflow emits (through the worker's metrics handler).
const MetricAttention = "dsar_workflow_attention"

// note appends to the timeline.
func (r *run) note(ctx workflow.Context, event, actor, detail string) {
	r.noteAt(workflow.Now(ctx), event, actor, detail)
}

// noteAt appends to the timeline at a given time (when a person acted).
func (r *run) noteAt(at time.Time, event, actor, detail string) {
	r.st.Timeline = append(r.st.Timeline, TimelineEntry{At: at, Event: event, Actor: actor, Detail: detail})
}

// audit appends to the audit trail. detail holds no PII. Each event's key
// is derived from the workflow id and a counter carried across runs, so a
// retried append stores one row. On versionOneWrite the event waits, in
// order, for the next projection write, which stores it in its own
// transaction; what no projection write takes is written on its own before
// the workflow waits or runs anything else (flushAudits).
func (r *run) audit(ctx workflow.Context, kind, actor, action string, detail map[string]any) {
	r.auditN++
	ev := store.Audit{RequestID: r.in.RequestID, ActorKind: kind, ActorID: actor, Action: action, Detail: detail,
		Key: fmt.Sprintf("%s#%d", r.wid, r.auditN)}
	if r.oneWrite {
		r.audits = append(r.audits, ev)
		return
	}
	r.write(ctx, "audit "+action, a.Audit, ev)
}

// flushAudits writes the audit events still waiting for a projection write,
// each on its own, in order. The workflow calls it before anything that
// waits (every write but the projection's, a timer or signal, mail, the end
// of the run) and before anything another workflow sees (a child started,
// signalled or cancelled), so an event is never held past a step that the
// audit trail should show after it, nor lost when the run ends.
func (r *run) flushAudits(ctx workflow.Context) {
	evs := r.audits
	r.audits = nil // taken first: each write below flushes too
	for _, ev := range evs {
		if !r.write(ctx, "audit "+ev.Action, a.Audit, ev) {
			r.carried = append(r.carried, ev) // abandoned: keepAudits writes it or names it
		}
	}
}

// alert records staff alerts about this request.
func (r *run) alert(ctx workflow.Context, req activities.AlertRequest) {
	req.RequestID = r.in.RequestID
	req.Deadline = r.st.Deadline
	req.Immediate = r.in.ImmediateAlerts
	r.write(ctx, "alert "+req.Kind, a.RecordAlerts, req)
}

// changed brings everything that mirrors the state up to date: the search
// attributes, the current details and the queue projection, which also
// carries the outcomes of the actions handled since the last write.
func (r *run) changed(ctx workflow.Context) { r.publish(ctx, true) }

// publish writes the projection (and mirrors the state). Only the main
// loop's writes carry the outcome of the action being applied (current):
// a write from beside the loop (mail) may come while the action is still
// half applied, and would record it with the status from before. Every
// write carries the audit events waiting for it (versionOneWrite), in the
// same transaction.
func (r *run) publish(ctx workflow.Context, withCurrent bool) {
	if r.clocks {
		r.st.DeadlineWhy = r.deadlineWhy()
	}
	r.mirror(ctx)
	r.seq++
	outcomes := r.outcomes
	r.outcomes = nil
	if withCurrent {
		outcomes = append(outcomes, r.current...)
		r.current = nil
	}
	p := r.projection(outcomes)
	p.Audits, r.audits = r.audits, nil
	r.carried = append(r.carried, p.Audits...)
	if r.write(ctx, "project "+string(r.st.Status), a.Project, p) {
		r.carried = slices.DeleteFunc(r.carried, func(ev store.Audit) bool {
			return slices.ContainsFunc(p.Audits, func(w store.Audit) bool { return w.Key == ev.Key })
		})
	}
}

// keepAudits is the end of a workflow an operator abandoned: the audit
// events carried by projection writes that never succeeded (the one that
// failed for good, and any beside it) are written on their own, in order,
// each retried like any write (their keys store each once, should a
// failed write have stored it after all). One that cannot be written
// either is not passed over in silence: the error returned, which fails
// the workflow, names each such event by its key and action.
func (r *run) keepAudits(ctx workflow.Context) error {
	r.carried, r.audits = append(r.carried, r.audits...), nil // and any still waiting for a write
	if len(r.carried) == 0 || !r.baseline && !has(ctx, versionKeepAudits) {
		return nil
	}
	var lost []string
	for _, ev := range r.carried {
		if err := workflow.ExecuteLocalActivity(r.writeOptions(ctx, "audit "+ev.Action), a.Audit, ev).Get(ctx, nil); err != nil {
			r.log.Error("audit event of an abandoned workflow not written", "key", ev.Key, "action", ev.Action, "error", err)
			lost = append(lost, ev.Key+" "+ev.Action)
		}
	}
	r.carried = nil
	if len(lost) > 0 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"abandoned; these audit events could not be written and are missing from the trail: %s", strings.Join(lost, ", ")),
			"AuditLost", nil)
	}
	return nil
}

// mirror sets the search attributes and current details from the state.
func (r *run) mirror(ctx workflow.Context) {
	st := &r.st
	attention := r.attention != ""
	if !r.attrs.set || r.attrs.status != st.Status || !r.attrs.deadline.Equal(st.Deadline) || r.attrs.overdue != st.Overdue ||
		(r.durable && r.attrs.attention != attention) || r.attrs.handler != r.handler {
		sets := []temporal.SearchAttributeUpdate{
			AttrStatus.ValueSet(string(st.Status)), AttrRequestType.ValueSet(string(r.in.RequestType)),
			AttrCountry.ValueSet(r.in.Country), AttrDeadline.ValueSet(st.Deadline), AttrOverdue.ValueSet(st.Overdue),
		}
		if r.durable {
			sets = append(sets, AttrAttention.ValueSet(attention))
		}
		// Only once the API has told this run of a handler (older
		// histories never have one): their upserts stay as they were.
		switch {
		case r.handler != "":
			sets = append(sets, AttrHandler.ValueSet(r.handler))
		case r.attrs.handler != "":
			sets = append(sets, AttrHandler.ValueUnset())
		}
		if err := workflow.UpsertTypedSearchAttributes(ctx, sets...); err != nil {
			r.log.Error("upsert search attributes failed", "error", err)
		} else {
			r.attrs = attrs{status: st.Status, deadline: st.Deadline, overdue: st.Overdue, attention: attention, handler: r.handler, set: true}
		}
	}
	details := st.Status.Label()
	if !st.Status.Closed() {
		details += " · due " + st.Deadline.UTC().Format("2006-01-02 15:04 MST")
		if st.Overdue {
			details += " · OVERDUE"
		}
	}
	if attention {
		// The step and the kind of its fault only: the current details are
		// not sealed, and an error's text may quote data (the projection,
		// in Postgres, keeps it whole for staff).
		details = "NEEDS ATTENTION · " + r.attentionWords + " · " + details
	}
	workflow.SetCurrentDetails(ctx, details)
}

// projection is the queue's view of the state, with the outcomes of the
// actions it answers.
func (r *run) projection(outcomes []store.ActionOutcome) store.Projection {
	st := &r.st
	p := store.Projection{
		RequestID: st.RequestID, Status: st.Status, Deadline: st.Deadline, Overdue: st.Overdue,
		ExtendedAt: st.ExtendedAt, ExtensionDays: st.ExtensionDays, ExtensionReason: st.ExtensionReason,
		EmailVerifiedAt: st.EmailVerifiedAt, IdentityDecidedAt: st.IdentityDecidedAt, IdentityVerified: st.IdentityVerified,
		IdentityNote: st.IdentityNote, ClosingMailFailed: st.ClosingMailFailed, PackageRequired: st.PackageRequired,
		ClosedAt: st.ClosedAt, CloseNote: st.CloseNote, CloseReasons: make([]string, len(st.CloseReasons)),
		Tasks: make([]store.ProjectedTask, len(st.Tasks)), Record: r.recordFacts(), LegalHold: st.LegalHold,
	}
	if st.Appeal != nil || st.AppealUntil != nil || st.Decision != "" {
		p.Decision, p.AppealUntil = st.Decision, st.AppealUntil
		if ap := st.Appeal; ap != nil {
			p.Appeal = &store.ProjectedAppeal{ID: ap.ID, Status: ap.Status, FiledAt: ap.FiledAt, Deadline: ap.Deadline, DecidedAt: ap.DecidedAt}
		}
	}
	if r.clocks {
		original := st.OriginalDeadline
		p.OriginalDeadline = &original
		p.AcknowledgeBy, p.AcknowledgedAt, p.ExtensionNoticeBy = st.AcknowledgeBy, st.AcknowledgedAt, st.ExtensionNoticeBy
		p.PauseAllowed, p.IdentityNotRequired, p.DeadlineWhy = st.PauseAllowed, st.IdentityNotRequired, st.DeadlineWhy
		if pz := st.Paused; pz != nil {
			p.Paused = &store.ProjectedPause{Since: pz.Since, Reason: pz.Reason, By: pz.By}
		}
	}
	if r.durable {
		p.Seq, p.Attention = r.seq, r.attention
		p.Timeline = append([]TimelineEntry(nil), st.Timeline...)
	}
	for _, o := range outcomes {
		deadline := st.Deadline
		o.Status, o.Deadline = st.Status, &deadline
		p.Actions = append(p.Actions, o)
	}
	for i, c := range st.CloseReasons {
		p.CloseReasons[i] = string(c)
	}
	for i, t := range st.Tasks {
		p.Tasks[i] = store.ProjectedTask{
			DataSourceID: t.DataSourceID, Status: t.Status, AssignedAt: t.AssignedAt, AssignedBy: t.AssignedBy,
			LastActivityAt: t.LastActivityAt, CompletedAt: t.CompletedAt, CompletedBy: t.CompletedBy, Note: t.Note,
			Outcome: string(t.Outcome), RecordCount: t.RecordCount, DeclineReason: t.DeclineReason, AssigneeID: t.AssigneeID,
			Mode: string(t.Mode), Automation: t.Automation,
		}
	}
	return p
}

// write runs a database write the request depends on. On the durable path
// it returns only once the write has succeeded (however long Postgres is
// away), or false when an operator abandoned the workflow; a failure that
// no retry can fix makes the workflow wait for an operator (attend). Runs
// on the old path wait out outages too (legacyDB) but pass over a failure
// for good, as they did.
func (r *run) write(ctx workflow.Context, summary string, fn any, args ...any) bool {
	return r.writeInto(ctx, summary, nil, fn, args...)
}

// writeInto is write for a step with a result (durable path only), read
// into result.
func (r *run) writeInto(ctx workflow.Context, summary string, result any, fn any, args ...any) bool {
	if !r.durable {
		if err := r.legacyDB(ctx, summary, fn, args...).Get(ctx, nil); err != nil {
			r.log.Error(summary+" failed", "error", err)
			return false
		}
		return true
	}
	return r.mustGet(ctx, summary, result, func(ctx workflow.Context) workflow.Future {
		return workflow.ExecuteLocalActivity(r.writeOptions(ctx, summary), fn, args...)
	})
}

// writeOptions is ctx with the options of a write's local activity: tried
// for writeAttempt at a time, retried with backoff for up to writeGiveUp.
func (r *run) writeOptions(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: writeAttempt, ScheduleToCloseTimeout: writeGiveUp, Summary: summary,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: writeMaxInterval, MaximumAttempts: retryForever},
	})
}

// writeActivity is write for the rare, critical steps (the erasure, the
// identity document's deletion): a regular activity, retried by the
// server without end, visible in the UI as pending while it waits.
func (r *run) writeActivity(ctx workflow.Context, summary string, fn any, args ...any) bool {
	if !r.durable {
		return r.write(ctx, summary, fn, args...)
	}
	return r.must(ctx, summary, func(ctx workflow.Context) workflow.Future {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: writeGiveUp, Summary: summary,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: writeMaxInterval, MaximumAttempts: retryForever},
		})
		return workflow.ExecuteActivity(ctx, fn, args...)
	})
}

// must runs exec until it succeeds. A failure that retries cannot fix
// (non-retryable, or out of time) puts the request in attention and waits
// for an operator's retry, or an hour, then tries again. It returns false
// only when the workflow was abandoned.
func (r *run) must(ctx workflow.Context, summary string, exec func(workflow.Context) workflow.Future) bool {
	return r.mustGet(ctx, summary, nil, exec)
}

// mustGet is must for a step with a result, read into result.
func (r *run) mustGet(ctx workflow.Context, summary string, result any, exec func(workflow.Context) workflow.Future) bool {
	r.flushAudits(ctx) // the projection's own write has taken them
	for attempt := 0; ; attempt++ {
		if r.abandoned {
			return false
		}
		err := exec(ctx).Get(ctx, result)
		if err == nil {
			if attempt > 0 {
				r.settle(ctx, summary)
			}
			return true
		}
		if !r.attend(ctx, summary, err) {
			return false
		}
	}
}

// attend makes a step that failed for good visible (the DsarAttention
// search attribute, the current details, a metric, an alert to org
// owners) and waits for an operator's signal or attentionRetry. It returns
// false when the operator abandons the workflow.
func (r *run) attend(ctx workflow.Context, summary string, err error) bool {
	first := r.attention == ""
	r.attention = summary + ": " + err.Error()
	r.attentionWords = summary + ": " + faultKind(err)
	r.log.Error("step needs attention", "step", summary, "error", err)
	r.mirror(ctx)
	if first {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"step": summary}).Counter(MetricAttention).Inc(1)
		r.attentionN++
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: writeAttempt, ScheduleToCloseTimeout: 10 * time.Minute, Summary: "alert " + store.AlertAttention,
		})
		// Best effort: the attribute and details show the fault even when
		// the alert cannot be recorded (Postgres may be what failed).
		req := activities.AlertRequest{Kind: store.AlertAttention, Key: fmt.Sprintf("attention-%d", r.attentionN),
			OrgOwners: true, RequestID: r.in.RequestID, Deadline: r.st.Deadline, Immediate: true}
		if aerr := workflow.ExecuteActivity(actx, a.RecordAlerts, req).Get(ctx, nil); aerr != nil {
			r.log.Error("attention alert not recorded", "error", aerr)
		}
	}
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimerWithOptions(timerCtx, attentionRetry, workflow.TimerOptions{Summary: TimerAttentionRetry}), func(workflow.Future) {})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalOperator), func(c workflow.ReceiveChannel, _ bool) {
		var op OperatorAction
		if c.ReceiveAsync(&op) { // one that does not decode is dropped: the wait goes on, its timer too
			r.operator(ctx, op)
		}
	})
	sel.Select(ctx)
	return !r.abandoned
}

// faultKind names the kind of a step's failure without its text: the
// application error's type, a timeout, or a failure.
func faultKind(err error) string {
	var app *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &app) && app.Type() != "":
		return app.Type() + " (details in the request's attention, in the console)"
	case errors.As(err, &timeout):
		return "timed out"
	}
	return "failed (details in the request's attention, in the console)"
}

// settle clears the attention once its step has succeeded.
func (r *run) settle(ctx workflow.Context, summary string) {
	if r.attention == "" {
		return
	}
	r.attention, r.attentionWords = "", ""
	r.note(ctx, EventAttentionResolved, "", summary)
	r.mirror(ctx)
}

// operator applies an operator's signal: abandon ends the workflow
// without further writes; retry (outside attention) writes the projection
// again.
func (r *run) operator(ctx workflow.Context, op OperatorAction) {
	if r.checkActors && op.RequestID != r.in.RequestID {
		// Copied from another workflow's history, or sent without saying
		// which request: not for this one.
		r.log.Warn("operator signal for another request ignored", "action", op.Action, "for", op.RequestID)
		return
	}
	switch op.Action {
	case OperatorAbandon:
		r.abandoned = true
		r.log.Warn("workflow abandoned by an operator", "reason", op.Reason, "by", op.By)
	case OperatorRetry:
		if r.attention == "" && !r.abandoned {
			r.changed(ctx)
		}
	default:
		r.log.Warn("unknown operator action", "action", op.Action)
	}
}

// legacyDB is how runs before versionDurable run their database steps,
// with the durable path's timeouts: a local activity records one marker
// however long it retried (and replays from it), so the longer wait is
// safe for old histories and no outage makes those runs skip a write.
func (r *run) legacyDB(ctx workflow.Context, summary string, fn any, args ...any) workflow.Future {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: writeMaxInterval, MaximumAttempts: retryForever}
	if r.localDB {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: writeAttempt, ScheduleToCloseTimeout: writeGiveUp, Summary: summary, RetryPolicy: retry,
		})
		return workflow.ExecuteLocalActivity(ctx, fn, args...)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: writeGiveUp, Summary: summary, RetryPolicy: retry,
	})
	return workflow.ExecuteActivity(ctx, fn, args...)
}

// scrub erases the request's PII once every mail that needs it is sent,
// and no legal hold is on (versionRecords).
func (r *run) scrub(ctx workflow.Context) {
	r.joinMail(ctx)
	r.awaitLift(ctx)
	if !r.writeActivity(ctx, "scrub PII", a.ScrubRequest, r.in.RequestID) {
		return
	}
	r.note(ctx, EventPIIScrubbed, "", "")
	r.audit(ctx, store.ActorSystem, "", dsar.AuditPIIScrubbed, nil)
	if r.durable {
		r.changed(ctx)
	}
}

// handlerSet mirrors the request's handler, set in Postgres by the API, in
// the DsarHandler search attribute.
func (r *run) handlerSet(ctx workflow.Context, h HandlerSet) {
	if h.UserID == r.handler || h.RequestID != r.in.RequestID {
		return
	}
	r.handler = h.UserID
	r.mirror(ctx)
}
