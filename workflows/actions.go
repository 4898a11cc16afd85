package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// A person's action reaches the workflow as a signal (ActionSignals). On
// the durable path every action gets exactly one outcome, applied or
// refused with the reason, recorded with the projection write that follows
// it; the API waits for that record to answer.

// pendingAction is an action signal received and not yet applied.
type pendingAction struct {
	signal  string
	action  Action
	at      time.Time // when the person acted, clamped to the workflow's clock
	by      string
	payload any
	apply   func(workflow.Context)
}

// maxActionIDs is how many recent action ids a run remembers to ignore a
// repeated signal (the API also answers a repeated id from the store).
const maxActionIDs = 64

// when is the time a person acted: the action's own time, clamped to the
// workflow's clock and to the submission (the old path: now).
func (r *run) when(ctx workflow.Context, act Action) time.Time {
	now := workflow.Now(ctx)
	if !r.durable || act.At.IsZero() || act.At.After(now) {
		return now
	}
	if act.At.Before(r.st.SubmittedAt) {
		return r.st.SubmittedAt
	}
	return act.At
}

// collect takes every action signal already received into the queue.
func (r *run) collect(ctx workflow.Context) {
	for _, name := range ActionSignals {
		ch := workflow.GetSignalChannel(ctx, name)
		for r.receive(ctx, ch, name) {
		}
	}
	for {
		var op OperatorAction
		if !workflow.GetSignalChannel(ctx, SignalOperator).ReceiveAsync(&op) {
			break
		}
		r.operator(ctx, op)
	}
	for {
		var h HandlerSet
		if !workflow.GetSignalChannel(ctx, SignalHandlerSet).ReceiveAsync(&h) {
			break
		}
		r.handlerSet(ctx, h)
	}
	if r.connectors {
		r.receiveProgress(ctx)
	}
}

// receive takes one signal of kind name from ch, if one is there, into the
// queue, after the actions taken at the same time or earlier.
func (r *run) receive(ctx workflow.Context, ch workflow.ReceiveChannel, name string) bool {
	p, ok := r.decode(ch, name)
	if !ok {
		return false
	}
	p.at = r.when(ctx, p.action)
	i := len(r.pending)
	for i > 0 && r.pending[i-1].at.After(p.at) {
		i--
	}
	r.pending = slices.Insert(r.pending, i, p)
	return true
}

// decode takes one buffered signal of kind name from ch, decoded into its
// payload type, with the step that applies it.
func (r *run) decode(ch workflow.ReceiveChannel, name string) (pendingAction, bool) {
	switch name {
	case SignalEmailVerified:
		return take(ch, name, func(p EmailVerified) string { return "" }, r.onEmailVerified)
	case SignalIdentityDecided:
		return take(ch, name, func(p IdentityDecision) string { return p.By }, r.onIdentityDecided)
	case SignalSourcesAssigned:
		return take(ch, name, func(p Assignment) string { return p.By }, r.onAssigned)
	case SignalTaskCompleted:
		return take(ch, name, func(p TaskCompletion) string { return p.By }, r.onTaskCompleted)
	case SignalDeadlineExtended:
		return take(ch, name, func(p Extension) string { return p.By }, r.onExtended)
	case SignalRequestClosed:
		return take(ch, name, func(p Closure) string { return p.By }, r.onClosed)
	case SignalWithdrawn:
		return take(ch, name, func(p Withdrawal) string { return "" }, r.onWithdrawn)
	case SignalTaskDeclined:
		return take(ch, name, func(p TaskDecline) string { return p.By }, r.onTaskDeclined)
	case SignalTaskReassigned:
		return take(ch, name, func(p TaskReassignment) string { return p.By }, r.onTaskReassigned)
	case SignalEmailCorrected:
		return take(ch, name, func(p EmailCorrection) string { return p.By }, r.onEmailCorrected)
	case SignalMailResent:
		return take(ch, name, func(p MailResend) string { return p.By }, r.onMailResent)
	case SignalPackageApproved:
		return take(ch, name, func(p PackageApproval) string { return p.By }, r.onPackageApproved)
	case SignalAppealFiled:
		return take(ch, name, func(p AppealFiling) string { return "" }, r.onAppealFiled)
	case SignalAutomationRetry:
		return take(ch, name, func(p AutomationRetry) string { return p.By }, r.onAutomationRetry)
	case SignalAutomationManual:
		return take(ch, name, func(p ManualSwitch) string { return p.By }, r.onAutomationManual)
	case SignalAutomationApproval:
		return take(ch, name, func(p DryRunDecision) string { return p.By }, r.onAutomationApproval)
	case SignalLegalHold:
		return take(ch, name, func(p LegalHoldSet) string { return p.By }, r.onLegalHold)
	case SignalClockPaused:
		return take(ch, name, func(p ClockPause) string { return p.By }, r.onClockPaused)
	case SignalClockResumed:
		return take(ch, name, func(p ClockResume) string { return p.By }, r.onClockResumed)
	}
	return pendingAction{}, false
}

// actionOf is the Action every action payload embeds.
type actionOf interface{ action() Action }

func (a Action) action() Action { return a }

func take[T actionOf](ch workflow.ReceiveChannel, name string, by func(T) string, apply func(workflow.Context, T)) (pendingAction, bool) {
	var p T
	if !ch.ReceiveAsync(&p) {
		return pendingAction{}, false
	}
	return pendingAction{signal: name, action: p.action(), by: by(p), payload: p,
		apply: func(ctx workflow.Context) { apply(ctx, p) }}, true
}

// dispatch applies one action: a repeated id does nothing; an action the
// state does not allow is refused (timeline, audit trail, outcome); any
// other is applied. Either way its outcome is written before the next
// action is taken.
func (r *run) dispatch(ctx workflow.Context, p pendingAction) {
	if id := p.action.ID; id != "" && r.seen(id) {
		return
	}
	r.apply(ctx, p)
}

// apply is dispatch for an action whose id was seen already (one a wait
// took, which checks the id).
func (r *run) apply(ctx workflow.Context, p pendingAction) {
	err := r.st.Allows(p.signal, p.payload)
	if err == nil && !r.seedFlow && slices.Contains(seedFlowSignals, p.signal) {
		err = dsar.Errorf(dsar.ECONFLICT, "this request was opened before the action existed: finish it as before")
	}
	if err == nil && !r.fulfil && slices.Contains(fulfilmentSignals, p.signal) {
		err = dsar.Errorf(dsar.ECONFLICT, "this request was opened before access packages existed: complete it as before")
	}
	if err == nil && !r.connectors && slices.Contains(connectorSignals, p.signal) {
		err = dsar.Errorf(dsar.ECONFLICT, "this request was opened before automated data sources existed: its tasks are manual")
	}
	if err == nil && !r.records && p.signal == SignalLegalHold {
		err = errBeforeLegalHolds
	}
	if err == nil && !r.optOutCorrection && p.signal == SignalEmailCorrected && r.st.Status != dsar.StatusPendingEmailVerification {
		err = errBeforeOptOutCorrection
	}
	if err == nil && r.checkActors {
		var ok bool
		if ok, err = r.checkActor(ctx, p); !ok {
			return // abandoned
		}
	}
	if c, _ := p.payload.(TaskCompletion); err == nil && !r.seedFlow && r.durable && (c.Outcome != "" || c.RecordCount != nil) {
		// It would be applied without them: say so rather than drop them.
		err = dsar.Errorf(dsar.ECONFLICT, "this request was opened before task outcomes existed: complete the task without an outcome or record count")
	}
	if err != nil {
		r.refuse(ctx, p, err)
		return
	}
	if p.action.ID != "" {
		r.current = append(r.current, store.ActionOutcome{ActionID: p.action.ID, Signal: p.signal, Applied: true, ActedAt: p.at})
	}
	p.apply(ctx) // its first projection write once the state changed carries the outcome
	if len(r.outcomes)+len(r.current) > 0 && !r.abandoned {
		r.changed(ctx) // the action changed nothing that is projected: its outcome still is
	}
}

// seen reports whether action id was handled before, and remembers it.
func (r *run) seen(id string) bool {
	if slices.Contains(r.actionIDs, id) {
		return true
	}
	r.actionIDs = append(r.actionIDs, id)
	if len(r.actionIDs) > maxActionIDs {
		r.actionIDs = r.actionIDs[len(r.actionIDs)-maxActionIDs:]
	}
	return false
}

// refuse records an action the state does not allow.
func (r *run) refuse(ctx workflow.Context, p pendingAction, err error) {
	r.ignoreErr(ctx, p.signal, p.by, err)
	if p.action.ID != "" {
		r.outcomes = append(r.outcomes, store.ActionOutcome{ActionID: p.action.ID, Signal: p.signal,
			Code: dsar.ErrorCode(err), Reason: dsar.ErrorMessage(err), ActedAt: p.at})
	}
	r.changed(ctx)
}

// refuseRemaining refuses every action still queued or buffered once the
// request is closed, so that each gets its answer.
func (r *run) refuseRemaining(ctx workflow.Context) {
	r.collect(ctx)
	for _, p := range r.pending {
		if p.action.ID != "" && slices.Contains(r.actionIDs, p.action.ID) {
			continue
		}
		r.ignore(ctx, p.signal, p.payload, p.by)
		if p.action.ID != "" {
			err := r.st.Allows(p.signal, p.payload)
			r.outcomes = append(r.outcomes, store.ActionOutcome{ActionID: p.action.ID, Signal: p.signal,
				Code: dsar.ErrorCode(err), Reason: dsar.ErrorMessage(err), ActedAt: p.at})
		}
	}
	r.pending = nil
	if len(r.outcomes) > 0 {
		r.changed(ctx)
	}
}

// addSignals adds a receive for every signal to sel; the one received sets
// *handle to the step that applies it (the old path).
func (r *run) addSignals(ctx workflow.Context, sel workflow.Selector, handle *func(workflow.Context)) {
	onSignal(ctx, r, sel, SignalEmailVerified, handle, r.onEmailVerified)
	onSignal(ctx, r, sel, SignalIdentityDecided, handle, r.onIdentityDecided)
	onSignal(ctx, r, sel, SignalSourcesAssigned, handle, r.onAssigned)
	onSignal(ctx, r, sel, SignalTaskCompleted, handle, r.onTaskCompleted)
	onSignal(ctx, r, sel, SignalDeadlineExtended, handle, r.onExtended)
	onSignal(ctx, r, sel, SignalRequestClosed, handle, r.onClosed)
}

// onSignal adds to sel a receive of signal name whose payload, once
// received, sets *handle to apply it. On the old path too an action with
// an id is applied once and its outcome, when applied, rides on the
// projection write the step makes anyway (only the write's data changes,
// so old histories replay); a refusal there has no write to ride on and
// its caller gets 202.
func onSignal[T actionOf](ctx workflow.Context, r *run, sel workflow.Selector, name string, handle *func(workflow.Context), apply func(workflow.Context, T)) {
	sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) {
		var p T
		if !c.ReceiveAsync(&p) {
			return // a payload that does not decode (not sealed by us) is dropped, and nothing waits for another
		}
		*handle = func(ctx workflow.Context) {
			act := p.action()
			if act.ID != "" {
				if r.seen(act.ID) {
					return
				}
				if r.st.Allows(name, p) == nil {
					r.current = []store.ActionOutcome{{ActionID: act.ID, Signal: name, Applied: true, ActedAt: r.when(ctx, act)}}
				}
			}
			apply(ctx, p)
			r.current = nil // not written: the step made no projection write
		}
	})
}

// drain records every signal still buffered when the workflow ends as
// ignored: the request is closed.
func (r *run) drain(ctx workflow.Context) {
	for _, name := range ActionSignals {
		ch := workflow.GetSignalChannel(ctx, name)
		for {
			p, ok := r.decode(ch, name)
			if !ok {
				break
			}
			r.ignore(ctx, name, p.payload, p.by)
		}
	}
}

// allowed checks a signal against the state; a signal the state does not
// allow is recorded as ignored (timeline and audit trail).
func (r *run) allowed(ctx workflow.Context, signal string, p any, by string) bool {
	if err := r.st.Allows(signal, p); err != nil {
		r.ignoreErr(ctx, signal, by, err)
		return false
	}
	return true
}

func (r *run) ignore(ctx workflow.Context, signal string, p any, by string) {
	err := r.st.Allows(signal, p)
	if err == nil {
		err = dsar.Errorf(dsar.ECONFLICT, "the request is %s", r.st.Status)
	}
	r.ignoreErr(ctx, signal, by, err)
}

func (r *run) ignoreErr(ctx workflow.Context, signal, by string, err error) {
	reason := dsar.ErrorMessage(err)
	r.note(ctx, EventSignalIgnored, by, signal+": "+reason)
	kind := actorKind(by)
	if signal == SignalEmailVerified {
		kind = store.ActorRequester
	}
	r.audit(ctx, kind, by, dsar.AuditSignalIgnored, map[string]any{
		"signal": signal, "status": string(r.st.Status), "code": dsar.ErrorCode(err), "reason": reason,
	})
}

func (r *run) onEmailVerified(ctx workflow.Context, p EmailVerified) {
	if !r.allowed(ctx, SignalEmailVerified, p, "") {
		return
	}
	at := r.when(ctx, p.Action)
	accepted := r.st.OptOutAcceptedAt != nil // already in the queue: only the address is confirmed
	if !accepted {
		r.st.Status = dsar.StatusAwaitingIdentity
		r.unassigned = 0
	}
	r.st.EmailVerifiedAt = &at
	r.noteAt(at, EventEmailVerified, "", "")
	r.audit(ctx, store.ActorRequester, "", dsar.AuditEmailVerified, nil)
	if r.clocks && r.st.IdentityNotRequired && !accepted {
		r.identityNotRequired(ctx, at)
	}
	r.changed(ctx)
	r.acknowledge(ctx)
	r.portalInvitation(ctx)
}

func (r *run) onIdentityDecided(ctx workflow.Context, p IdentityDecision) {
	if !r.allowed(ctx, SignalIdentityDecided, p, p.By) {
		return
	}
	at := r.when(ctx, p.Action)
	verified := p.Verified
	r.st.IdentityDecidedAt = &at
	r.st.IdentityVerified = &verified
	r.st.IdentityNote = p.Note
	if !r.durable {
		r.writeActivity(ctx, "delete identity document", a.DeleteIdentityDocument, r.in.RequestID) // passed over on failure, as it was
	}
	// The note is kept in the timeline and the request; the audit trail,
	// which holds no free text, proves which note was given by its hash.
	var detail map[string]any
	if p.Note != "" && r.durable {
		sum := sha256.Sum256([]byte(p.Note))
		detail = map[string]any{"note_sha256": hex.EncodeToString(sum[:])}
	}
	if !verified {
		r.noteAt(at, EventIdentityRefused, p.By, p.Note)
		r.audit(ctx, actorKind(p.By), p.By, dsar.AuditIdentityRefused, detail)
		r.close(ctx, at, OutcomeRejected, []dsar.RejectReason{dsar.RejectIdentityNotVerified}, p.Note, p.By, "")
		return // the erasure deletes the document
	}
	r.st.Status = dsar.StatusIdentityVerified
	r.noteAt(at, EventIdentityVerified, p.By, p.Note)
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditIdentityVerified, detail)
	r.changed(ctx)
	if r.durable {
		// After the answer: the document is no longer served once identity
		// is decided (the API checks the decision), and its deletion, a
		// regular activity, waits out any outage.
		r.writeActivity(ctx, "delete identity document", a.DeleteIdentityDocument, r.in.RequestID)
	}
}

func (r *run) onAssigned(ctx workflow.Context, p Assignment) {
	if !r.allowed(ctx, SignalSourcesAssigned, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	var added []string
	var automated []AssignedSource
	var manual []string // the tasks their owners do: they are told
	for _, id := range p.DataSourceIDs {
		if _, ok := r.st.Task(id); ok || id == "" {
			continue
		}
		t := TaskState{DataSourceID: id, Status: TaskOpen, AssignedAt: now, AssignedBy: p.By, LastActivityAt: now}
		if src, ok := r.assignedSource(p, id); ok {
			t.Mode, t.Automation = src.Mode, &Automation{State: AutomationRunning, UpdatedAt: now}
			automated = append(automated, src)
			r.sources = append(r.sources, src)
		} else {
			manual = append(manual, id)
		}
		r.st.Tasks = append(r.st.Tasks, t)
		added = append(added, id)
	}
	audit := func() {
		r.audit(ctx, actorKind(p.By), p.By, dsar.AuditSourcesAssigned, map[string]any{"data_source_ids": added})
	}
	if !r.oneWrite || len(added) == 0 {
		audit()
	}
	if len(added) == 0 {
		r.noteAt(now, EventSourcesAssigned, p.By, "no new data source")
		return
	}
	r.st.Status = dsar.StatusInProgress
	if r.fulfil {
		r.discardPackage(ctx, p.By, "a data source was added: it is built again once its task is done")
	}
	if r.oneWrite {
		audit() // after the package's discard, a write of its own: the row goes in the outcome's write
	}
	for _, id := range added {
		r.noteAt(now, EventSourcesAssigned, p.By, id)
	}
	r.changed(ctx)
	bucket := now.Unix()
	if every := r.in.Periods.AssignmentAlertEvery; every > 0 {
		bucket = now.Truncate(every).Unix()
	}
	if len(manual) > 0 || !r.connectors {
		if !r.connectors {
			manual = added
		}
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskAssigned, Key: fmt.Sprintf("assigned-%d", bucket), DataSourceIDs: manual})
	}
	for _, src := range automated {
		r.startSource(ctx, src)
	}
}

func (r *run) onTaskCompleted(ctx workflow.Context, p TaskCompletion) {
	if !r.allowed(ctx, SignalTaskCompleted, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	t, _ := r.st.Task(p.DataSourceID)
	t.Status, t.CompletedAt, t.CompletedBy, t.Note, t.LastActivityAt = TaskCompleted, &now, p.By, p.Note, now
	delete(r.stalls, p.DataSourceID)
	r.noteAt(now, EventTaskCompleted, p.By, p.DataSourceID)
	detail := map[string]any{"data_source_id": p.DataSourceID}
	if r.seedFlow {
		t.Outcome, t.RecordCount, t.DeclineReason = p.Outcome, p.RecordCount, ""
		detail["outcome"] = string(p.Outcome)
		if p.RecordCount != nil {
			detail["record_count"] = *p.RecordCount
		}
	}
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditTaskCompleted, detail)
	r.settled(ctx)
}

// settled moves a request whose tasks are all done to ready_to_close and,
// on the seed-flow path, tells its handler (or the org owners) that it can
// be completed.
func (r *run) settled(ctx workflow.Context) {
	ready := r.st.OpenTasks() == 0 && r.st.Status == dsar.StatusInProgress
	if ready {
		r.st.Status = dsar.StatusReadyToClose
	}
	r.changed(ctx)
	if ready && r.st.PackageRequired {
		r.buildPackage(ctx)
	}
	if ready && r.seedFlow {
		r.readyN++
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertReadyToComplete, Key: fmt.Sprintf("ready-%d", r.readyN), OrgOwners: true})
	}
}

func (r *run) onExtended(ctx workflow.Context, p Extension) {
	if !r.allowed(ctx, SignalDeadlineExtended, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	r.st.Deadline = r.st.Deadline.AddDate(0, 0, p.Days)
	r.st.Extended = true
	r.st.ExtensionDays += p.Days
	r.st.ExtensionReason = p.Reason
	r.st.ExtendedAt = &now
	if r.st.Overdue && r.st.Deadline.After(now) {
		r.st.Overdue = false
	}
	if !r.st.Overdue {
		r.overdueNext = 0
	}
	r.extensions++
	deadline := r.st.Deadline.UTC().Format(time.RFC3339)
	r.noteAt(now, EventDeadlineExtended, p.By, fmt.Sprintf("+%d days, due %s", p.Days, deadline))
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditDeadlineExtended, map[string]any{"days": p.Days, "deadline": deadline})
	r.changed(ctx)
	r.requesterMail(ctx, activities.MailExtension, fmt.Sprintf("extension-%d", r.extensions), "", func(m *activities.RequesterMail) {
		m.ExtensionDays, m.ExtensionReason = p.Days, p.Reason
	})
}

func (r *run) onClosed(ctx workflow.Context, p Closure) {
	if !r.allowed(ctx, SignalRequestClosed, p, p.By) {
		return
	}
	r.close(ctx, r.when(ctx, p.Action), p.Outcome, p.Reasons, p.Note, p.By, strings.TrimSpace(p.NothingToSend))
}

// close completes or rejects the request: the state, the access package's
// delivery, the queue, the audit trail, the requester's mail (only to a
// verified address), then the PII scrub; a published package is kept until
// it expires.
func (r *run) close(ctx workflow.Context, at time.Time, outcome string, reasons []dsar.RejectReason, note, by, nothingToSend string) {
	r.st.ClosedAt = &at
	r.endPause(at) // a request closed while its clock is stopped: the pause ends with it
	r.st.CloseNote = note
	event, mailKind := EventCompleted, activities.MailCompleted
	r.st.Status = dsar.StatusCompleted
	kind := actorKind(by)
	switch outcome {
	case OutcomeRejected:
		r.st.Status = dsar.StatusRejected
		r.st.CloseReasons = reasons
		event, mailKind = EventRejected, activities.MailRejected
	case OutcomeWithdrawn:
		r.st.Status = dsar.StatusWithdrawn
		event, mailKind, kind = EventWithdrawn, activities.MailWithdrawn, store.ActorRequester
	}
	codes := make([]string, len(reasons))
	for i, c := range reasons {
		codes[i] = string(c)
	}
	r.noteAt(at, event, by, "")
	r.audit(ctx, kind, by, dsar.AuditClosed(r.st.Status), map[string]any{"reasons": codes})
	if r.fulfil {
		r.deliver(ctx, at, nothingToSend, by)
	}
	if r.appeals {
		r.st.Decision = by
		r.st.AppealUntil = r.appealableUntil(at)
	}
	if r.connectors {
		r.cancelSources(ctx)
	}
	r.changed(ctx)
	if outcome == OutcomeWithdrawn {
		// Staff stop work on it: its handler (or the org owners) and the
		// owners of the tasks still open.
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertWithdrawn, Key: "withdrawn", OrgOwners: true,
			DataSourceIDs: r.openSources()})
	}
	if r.st.EmailVerifiedAt != nil || r.st.OptOutAcceptedAt != nil {
		if r.seedFlow {
			r.closingKind = mailKind
		}
		r.requesterMail(ctx, mailKind, string(r.st.Status), "", r.closingMail)
		if r.seedFlow {
			r.holdForResend(ctx, mailKind)
		}
	}
	if !r.appeals {
		r.scrub(ctx)
		if r.fulfil {
			r.keepPackage(ctx)
		}
		return
	}
	if r.records && r.st.Held() && r.st.AppealUntil != nil {
		// Held: the erasure waits for the lift, and the appeal window
		// meanwhile takes the requester's appeal (afterClose).
		r.erasePending = true
		r.note(ctx, EventErasureHeld, "", "")
		r.changed(ctx)
	} else {
		r.erase(ctx)
	}
	r.afterClose(ctx)
}
