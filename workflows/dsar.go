// Package workflows holds the deterministic workflow code of the DSAR
// service: one long-lived workflow per request. Everything with I/O is an
// activity (package activities).
//
// Determinism: this code reads time only through workflow.Now, iterates
// slices (never maps) where order matters, and reads no config: every
// period comes in the Input. Once released, a change in what it does goes
// behind workflow.GetVersion; the replay test over testdata/ guards it.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// a refers to the activities by method; it is never dereferenced.
var a *activities.Activities

// Timeline events.
const (
	EventSubmitted           = "submitted"
	EventVerificationSent    = "verification_email_sent"
	EventVerificationRemind  = "verification_reminder_sent"
	EventEmailVerified       = "email_verified"
	EventPortalInvited       = "portal_invitation_sent"
	EventIdentityVerified    = "identity_verified"
	EventIdentityRefused     = "identity_refused"
	EventSourcesAssigned     = "data_sources_assigned"
	EventTaskCompleted       = "task_completed"
	EventDeadlineExtended    = "deadline_extended"
	EventDeadlineWarning     = "deadline_warning"
	EventOverdue             = "overdue"
	EventUnassignedReminder  = "unassigned_reminder"
	EventTaskStalled         = "task_stalled"
	EventCompleted           = "completed"
	EventRejected            = "rejected"
	EventExpired             = "expired"
	EventPIIScrubbed         = "pii_scrubbed"
	EventSignalIgnored       = "signal_ignored"
	EventRequesterMailFailed = "requester_mail_failed"
)

// Timer summaries, shown in the Temporal UI.
const (
	TimerVerificationReminder = "verification reminder"
	TimerVerificationExpiry   = "verification expiry"
	TimerUnassignedReminder   = "unassigned reminder"
	TimerTaskStalled          = "stalled task reminder"
	TimerDeadlineWarning      = "deadline warning"
	TimerDeadline             = "deadline"
	TimerOverdueReminder      = "overdue reminder"
)

// DSAR is the workflow of one request, from submission to close. It sends
// the verification email first, then waits for signals and timers until the
// request is completed, rejected or expired, and returns its final state.
func DSAR(ctx workflow.Context, in Input) (State, error) {
	r := newRun(ctx, in)
	// Version 1 runs the database activities as local activities: the same
	// code, run by the worker inside the workflow task, so a burst of timers
	// costs Temporal one task per event instead of one per write.
	r.localDB = workflow.GetVersion(ctx, versionLocalDB, workflow.DefaultVersion, 1) == 1
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return r.st, nil }); err != nil {
		return r.st, err
	}
	if in.Resume == nil {
		r.note(ctx, EventSubmitted, "", "")
		r.changed(ctx)
		r.requesterMail(ctx, activities.MailVerification, "verification", EventVerificationSent)
	} else {
		r.changed(ctx) // a new run: search attributes and details again
	}

	for !r.st.Status.Closed() {
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// The history is long (a request open for many months): apply
			// the signals already buffered, then carry on in a new run.
			r.applyBuffered(ctx)
			if r.st.Status.Closed() {
				break
			}
			next := in
			next.Resume = r.checkpoint()
			return r.st, workflow.NewContinueAsNewError(ctx, WorkflowName, next)
		}
		now := workflow.Now(ctx)
		ev, ok := r.next()
		if ok && !ev.at.After(now) {
			ev.fire(ctx)
			continue
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		if ok {
			t := workflow.NewTimerWithOptions(timerCtx, ev.at.Sub(now), workflow.TimerOptions{Summary: ev.summary})
			sel.AddFuture(t, func(workflow.Future) {}) // the event fires on the next turn
		}
		var handle func(workflow.Context)
		r.addSignals(ctx, sel, &handle)
		sel.Select(ctx)
		cancel()
		if handle != nil {
			handle(ctx)
		}
	}
	r.drain(ctx)
	return r.st, nil
}

// run is one execution of the request workflow: its state and the
// bookkeeping of its timers.
type run struct {
	in  Input
	st  State
	log log.Logger
	wid string

	verifyBase  time.Time      // verification timers count from here
	reminded    bool           // verification reminder sent
	unassigned  int            // index of the next unassigned reminder (0: on verification)
	stalls      map[string]int // per data source, stall alerts sent since it last moved
	warnedFor   time.Time      // the deadline the warning was sent for
	overdueNext int            // index of the next overdue alert (0: at the deadline)
	extensions  int
	attrs       attrs // search attribute values last upserted
	localDB     bool  // database activities run as local activities
}

// versionLocalDB is the change id of running database activities locally.
const versionLocalDB = "local-db-activities"

type attrs struct {
	status   dsar.Status
	deadline time.Time
	overdue  bool
	set      bool
}

func newRun(ctx workflow.Context, in Input) *run {
	if c := in.Resume; c != nil {
		r := &run{
			in: in, log: workflow.GetLogger(ctx), wid: workflow.GetInfo(ctx).WorkflowExecution.ID,
			st: c.State, verifyBase: c.VerificationBase, reminded: c.VerificationRemind, unassigned: c.UnassignedNext,
			stalls: map[string]int{}, warnedFor: c.WarnedFor, overdueNext: c.OverdueNext, extensions: c.Extensions,
		}
		r.in.Resume = nil
		for _, s := range c.Stalls {
			r.stalls[s.DataSourceID] = s.Sent
		}
		return r
	}
	base := in.SubmittedAt
	if base.IsZero() {
		base = workflow.Now(ctx)
	}
	return &run{
		in:  in,
		log: workflow.GetLogger(ctx),
		wid: workflow.GetInfo(ctx).WorkflowExecution.ID,
		st: State{
			RequestID: in.RequestID, Status: dsar.StatusPendingEmailVerification,
			SubmittedAt: in.SubmittedAt, Deadline: in.Deadline, OriginalDeadline: in.Deadline,
			DeadlineRule: in.DeadlineRule, MaxExtension: in.MaxExtension, Tasks: []TaskState{}, Timeline: []TimelineEntry{},
		},
		verifyBase: base,
		stalls:     map[string]int{},
	}
}

// checkpoint is what a new run needs to carry on where this one stops.
func (r *run) checkpoint() *Checkpoint {
	c := &Checkpoint{
		State: r.st, VerificationBase: r.verifyBase, VerificationRemind: r.reminded, UnassignedNext: r.unassigned,
		WarnedFor: r.warnedFor, OverdueNext: r.overdueNext, Extensions: r.extensions,
	}
	for _, t := range r.st.Tasks { // the tasks' order, not the map's
		if n, ok := r.stalls[t.DataSourceID]; ok {
			c.Stalls = append(c.Stalls, StallCount{DataSourceID: t.DataSourceID, Sent: n})
		}
	}
	return c
}

// applyBuffered applies every signal already received, without waiting.
func (r *run) applyBuffered(ctx workflow.Context) {
	for !r.st.Status.Closed() {
		var handle func(workflow.Context)
		sel := workflow.NewSelector(ctx)
		r.addSignals(ctx, sel, &handle)
		sel.AddDefault(func() {})
		sel.Select(ctx)
		if handle == nil {
			return
		}
		handle(ctx)
	}
}

// event is a timer-driven step: when it is due and what it does.
type event struct {
	at      time.Time
	summary string
	fire    func(workflow.Context)
}

// next returns the earliest due timer event of the current state. Ties go
// to the first candidate, in a fixed order.
func (r *run) next() (event, bool) {
	var best event
	found := false
	consider := func(e event) {
		if !found || e.at.Before(best.at) {
			best, found = e, true
		}
	}
	p := r.in.Periods
	st := &r.st
	if st.Status.Closed() {
		return best, false
	}
	if st.Status == dsar.StatusPendingEmailVerification {
		if !r.reminded && p.VerificationReminderAfter > 0 {
			consider(event{r.verifyBase.Add(p.VerificationReminderAfter), TimerVerificationReminder, r.remindVerification})
		}
		if p.VerificationExpiry > 0 {
			consider(event{r.verifyBase.Add(p.VerificationExpiry), TimerVerificationExpiry, r.expire})
		}
		return best, found
	}
	if st.Status.Unassigned() && st.EmailVerifiedAt != nil && (r.unassigned == 0 || p.ReminderEvery > 0) {
		consider(event{st.EmailVerifiedAt.Add(time.Duration(r.unassigned) * p.ReminderEvery), TimerUnassignedReminder, r.remindUnassigned})
	}
	if p.StallAfter > 0 {
		for i := range st.Tasks {
			t := st.Tasks[i]
			if t.Status != TaskOpen {
				continue
			}
			at := t.LastActivityAt.Add(time.Duration(r.stalls[t.DataSourceID]+1) * p.StallAfter)
			consider(event{at, TimerTaskStalled, func(ctx workflow.Context) { r.remindStalled(ctx, t.DataSourceID) }})
		}
	}
	if !r.warnedFor.Equal(st.Deadline) && p.DeadlineWarningBefore > 0 {
		consider(event{st.Deadline.Add(-p.DeadlineWarningBefore), TimerDeadlineWarning, r.warnDeadline})
	}
	if r.overdueNext == 0 || p.OverdueAlertEvery > 0 {
		summary := TimerDeadline
		if r.overdueNext > 0 {
			summary = TimerOverdueReminder
		}
		consider(event{st.Deadline.Add(time.Duration(r.overdueNext) * p.OverdueAlertEvery), summary, r.alertOverdue})
	}
	return best, found
}

// periodsSince is how many whole periods d have passed from t0 to now.
func periodsSince(t0, now time.Time, d time.Duration) int {
	if d <= 0 || now.Before(t0) {
		return 0
	}
	return int(now.Sub(t0) / d)
}

func (r *run) remindVerification(ctx workflow.Context) {
	r.reminded = true
	r.requesterMail(ctx, activities.MailVerificationReminder, "verification-reminder", EventVerificationRemind)
}

func (r *run) expire(ctx workflow.Context) {
	now := workflow.Now(ctx)
	r.st.Status = dsar.StatusExpired
	r.st.ClosedAt = &now
	r.note(ctx, EventExpired, "", "the email was never verified")
	r.audit(ctx, store.ActorSystem, "", "request.expired", nil)
	r.changed(ctx)
	r.scrub(ctx)
}

func (r *run) remindUnassigned(ctx workflow.Context) {
	n := r.unassigned
	kind := store.AlertNewRequest
	if n > 0 {
		kind = store.AlertUnassigned
		r.note(ctx, EventUnassignedReminder, "", fmt.Sprintf("reminder %d to org owners", n))
	}
	r.alert(ctx, activities.AlertRequest{Kind: kind, Key: fmt.Sprintf("unassigned-%d", n), OrgOwners: true})
	now := workflow.Now(ctx)
	r.unassigned = periodsSince(*r.st.EmailVerifiedAt, now, r.in.Periods.ReminderEvery) + 1
}

func (r *run) remindStalled(ctx workflow.Context, dataSourceID string) {
	t, ok := r.st.Task(dataSourceID)
	if !ok {
		return
	}
	n := r.stalls[dataSourceID] + 1
	r.note(ctx, EventTaskStalled, "", dataSourceID)
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskStalled, Key: fmt.Sprintf("stalled-%s-%d", dataSourceID, n),
		DataSourceIDs: []string{dataSourceID}})
	r.stalls[dataSourceID] = max(n, periodsSince(t.LastActivityAt, workflow.Now(ctx), r.in.Periods.StallAfter))
}

func (r *run) warnDeadline(ctx workflow.Context) {
	r.warnedFor = r.st.Deadline
	r.note(ctx, EventDeadlineWarning, "", "due "+r.st.Deadline.UTC().Format(time.RFC3339))
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertDeadlineWarning,
		Key: fmt.Sprintf("deadline-warning-%d", r.st.Deadline.Unix()), OrgOwners: true, DataSourceIDs: r.openSources()})
}

func (r *run) alertOverdue(ctx workflow.Context) {
	n := r.overdueNext
	if !r.st.Overdue {
		r.st.Overdue = true
		r.note(ctx, EventOverdue, "", "the deadline has passed")
		r.audit(ctx, store.ActorSystem, "", "request.overdue", map[string]any{"deadline": r.st.Deadline.UTC().Format(time.RFC3339)})
		r.changed(ctx)
	}
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertOverdue,
		Key: fmt.Sprintf("overdue-%d-%d", r.st.Deadline.Unix(), n), OrgOwners: true, DataSourceIDs: r.openSources()})
	r.overdueNext = max(n+1, periodsSince(r.st.Deadline, workflow.Now(ctx), r.in.Periods.OverdueAlertEvery)+1)
}

// openSources lists the data sources of the open tasks.
func (r *run) openSources() []string {
	var ids []string
	for _, t := range r.st.Tasks {
		if t.Status == TaskOpen {
			ids = append(ids, t.DataSourceID)
		}
	}
	return ids
}

// addSignals adds a receive for every signal to sel; the one received sets
// *handle to the step that applies it.
func (r *run) addSignals(ctx workflow.Context, sel workflow.Selector, handle *func(workflow.Context)) {
	onSignal(ctx, sel, SignalEmailVerified, handle, r.onEmailVerified)
	onSignal(ctx, sel, SignalIdentityDecided, handle, r.onIdentityDecided)
	onSignal(ctx, sel, SignalSourcesAssigned, handle, r.onAssigned)
	onSignal(ctx, sel, SignalTaskCompleted, handle, r.onTaskCompleted)
	onSignal(ctx, sel, SignalDeadlineExtended, handle, r.onExtended)
	onSignal(ctx, sel, SignalRequestClosed, handle, r.onClosed)
}

// onSignal adds to sel a receive of signal name whose payload, once
// received, sets *handle to apply it.
func onSignal[T any](ctx workflow.Context, sel workflow.Selector, name string, handle *func(workflow.Context), apply func(workflow.Context, T)) {
	sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) {
		var p T
		c.Receive(ctx, &p)
		*handle = func(ctx workflow.Context) { apply(ctx, p) }
	})
}

// drain records every signal still buffered when the workflow ends as
// ignored: the request is closed.
func (r *run) drain(ctx workflow.Context) {
	for _, name := range []string{SignalEmailVerified, SignalIdentityDecided, SignalSourcesAssigned,
		SignalTaskCompleted, SignalDeadlineExtended, SignalRequestClosed} {
		ch := workflow.GetSignalChannel(ctx, name)
		for {
			p, by, ok := receiveAsync(ch, name)
			if !ok {
				break
			}
			r.ignore(ctx, name, p, by)
		}
	}
}

// receiveAsync takes one buffered signal of kind name from ch, decoded into
// its payload type, and who sent it.
func receiveAsync(ch workflow.ReceiveChannel, name string) (any, string, bool) {
	switch name {
	case SignalEmailVerified:
		var p EmailVerified
		ok := ch.ReceiveAsync(&p)
		return p, "", ok
	case SignalIdentityDecided:
		var p IdentityDecision
		ok := ch.ReceiveAsync(&p)
		return p, p.By, ok
	case SignalSourcesAssigned:
		var p Assignment
		ok := ch.ReceiveAsync(&p)
		return p, p.By, ok
	case SignalTaskCompleted:
		var p TaskCompletion
		ok := ch.ReceiveAsync(&p)
		return p, p.By, ok
	case SignalDeadlineExtended:
		var p Extension
		ok := ch.ReceiveAsync(&p)
		return p, p.By, ok
	case SignalRequestClosed:
		var p Closure
		ok := ch.ReceiveAsync(&p)
		return p, p.By, ok
	}
	return nil, "", false
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
	r.audit(ctx, kind, by, "signal.ignored", map[string]any{
		"signal": signal, "status": string(r.st.Status), "code": dsar.ErrorCode(err), "reason": reason,
	})
}

func (r *run) onEmailVerified(ctx workflow.Context, p EmailVerified) {
	if !r.allowed(ctx, SignalEmailVerified, p, "") {
		return
	}
	now := workflow.Now(ctx)
	r.st.Status = dsar.StatusAwaitingIdentity
	r.st.EmailVerifiedAt = &now
	r.unassigned = 0
	r.note(ctx, EventEmailVerified, "", "")
	r.audit(ctx, store.ActorRequester, "", "request.email_verified", nil)
	r.changed(ctx)
	var sent bool
	if err := r.mailActivity(ctx, "portal invitation", a.SendPortalInvitation,
		activities.PortalInvitation{RequestID: r.in.RequestID, Key: r.wid + ":portal-invitation"}).Get(ctx, &sent); err != nil {
		r.log.Error("portal invitation failed", "error", err)
		r.note(ctx, EventRequesterMailFailed, "", "portal invitation")
	} else if sent {
		r.note(ctx, EventPortalInvited, "", "")
	}
}

func (r *run) onIdentityDecided(ctx workflow.Context, p IdentityDecision) {
	if !r.allowed(ctx, SignalIdentityDecided, p, p.By) {
		return
	}
	now := workflow.Now(ctx)
	verified := p.Verified
	r.st.IdentityDecidedAt = &now
	r.st.IdentityVerified = &verified
	if err := r.dbActivity(ctx, "delete identity document", a.DeleteIdentityDocument, r.in.RequestID).Get(ctx, nil); err != nil {
		r.log.Error("delete identity document failed", "error", err)
	}
	if !verified {
		r.note(ctx, EventIdentityRefused, p.By, "")
		r.audit(ctx, actorKind(p.By), p.By, "request.identity_refused", nil)
		r.close(ctx, OutcomeRejected, []dsar.RejectReason{dsar.RejectIdentityNotVerified}, p.Note, p.By)
		return
	}
	r.st.Status = dsar.StatusIdentityVerified
	r.note(ctx, EventIdentityVerified, p.By, "")
	r.audit(ctx, actorKind(p.By), p.By, "request.identity_verified", nil)
	r.changed(ctx)
}

func (r *run) onAssigned(ctx workflow.Context, p Assignment) {
	if !r.allowed(ctx, SignalSourcesAssigned, p, p.By) {
		return
	}
	now := workflow.Now(ctx)
	var added []string
	for _, id := range p.DataSourceIDs {
		if _, ok := r.st.Task(id); ok || id == "" {
			continue
		}
		r.st.Tasks = append(r.st.Tasks, TaskState{DataSourceID: id, Status: TaskOpen, AssignedAt: now, AssignedBy: p.By, LastActivityAt: now})
		added = append(added, id)
	}
	r.audit(ctx, actorKind(p.By), p.By, "request.data_sources_assigned", map[string]any{"data_source_ids": added})
	if len(added) == 0 {
		r.note(ctx, EventSourcesAssigned, p.By, "no new data source")
		return
	}
	r.st.Status = dsar.StatusInProgress
	for _, id := range added {
		r.note(ctx, EventSourcesAssigned, p.By, id)
	}
	r.changed(ctx)
	bucket := now.Unix()
	if every := r.in.Periods.AssignmentAlertEvery; every > 0 {
		bucket = now.Truncate(every).Unix()
	}
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskAssigned, Key: fmt.Sprintf("assigned-%d", bucket), DataSourceIDs: added})
}

func (r *run) onTaskCompleted(ctx workflow.Context, p TaskCompletion) {
	if !r.allowed(ctx, SignalTaskCompleted, p, p.By) {
		return
	}
	now := workflow.Now(ctx)
	t, _ := r.st.Task(p.DataSourceID)
	t.Status, t.CompletedAt, t.CompletedBy, t.Note, t.LastActivityAt = TaskCompleted, &now, p.By, p.Note, now
	delete(r.stalls, p.DataSourceID)
	r.note(ctx, EventTaskCompleted, p.By, p.DataSourceID)
	r.audit(ctx, actorKind(p.By), p.By, "task.completed", map[string]any{"data_source_id": p.DataSourceID})
	if r.st.OpenTasks() == 0 && r.st.Status == dsar.StatusInProgress {
		r.st.Status = dsar.StatusReadyToClose
	}
	r.changed(ctx)
}

func (r *run) onExtended(ctx workflow.Context, p Extension) {
	if !r.allowed(ctx, SignalDeadlineExtended, p, p.By) {
		return
	}
	now := workflow.Now(ctx)
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
	r.note(ctx, EventDeadlineExtended, p.By, fmt.Sprintf("+%d days, due %s", p.Days, deadline))
	r.audit(ctx, actorKind(p.By), p.By, "request.deadline_extended", map[string]any{"days": p.Days, "deadline": deadline})
	r.changed(ctx)
	r.requesterMail(ctx, activities.MailExtension, fmt.Sprintf("extension-%d", r.extensions), "", func(m *activities.RequesterMail) {
		m.ExtensionDays, m.ExtensionReason = p.Days, p.Reason
	})
}

func (r *run) onClosed(ctx workflow.Context, p Closure) {
	if !r.allowed(ctx, SignalRequestClosed, p, p.By) {
		return
	}
	r.close(ctx, p.Outcome, p.Reasons, p.Note, p.By)
}

// close completes or rejects the request: the state, the queue, the audit
// trail, the requester's mail (only to a verified address), then the PII
// scrub.
func (r *run) close(ctx workflow.Context, outcome string, reasons []dsar.RejectReason, note, by string) {
	now := workflow.Now(ctx)
	r.st.ClosedAt = &now
	r.st.CloseNote = note
	event, mailKind := EventCompleted, activities.MailCompleted
	r.st.Status = dsar.StatusCompleted
	if outcome == OutcomeRejected {
		r.st.Status = dsar.StatusRejected
		r.st.CloseReasons = reasons
		event, mailKind = EventRejected, activities.MailRejected
	}
	codes := make([]string, len(reasons))
	for i, c := range reasons {
		codes[i] = string(c)
	}
	r.note(ctx, event, by, "")
	r.audit(ctx, actorKind(by), by, "request."+string(r.st.Status), map[string]any{"reasons": codes})
	r.changed(ctx)
	if r.st.EmailVerifiedAt != nil {
		r.requesterMail(ctx, mailKind, string(r.st.Status), "")
	}
	r.scrub(ctx)
}

func (r *run) scrub(ctx workflow.Context) {
	if err := r.dbActivity(ctx, "scrub PII", a.ScrubRequest, r.in.RequestID).Get(ctx, nil); err != nil {
		r.log.Error("scrub failed", "error", err)
		return
	}
	r.note(ctx, EventPIIScrubbed, "", "")
	r.audit(ctx, store.ActorSystem, "", "request.pii_scrubbed", nil)
}

// actorKind is the audit actor kind of a signal's sender: staff when a
// user id is given, the system otherwise.
func actorKind(by string) string {
	if by == "" {
		return store.ActorSystem
	}
	return store.ActorStaff
}

// note appends to the timeline.
func (r *run) note(ctx workflow.Context, event, actor, detail string) {
	r.st.Timeline = append(r.st.Timeline, TimelineEntry{At: workflow.Now(ctx), Event: event, Actor: actor, Detail: detail})
}

// audit appends to the audit trail. detail holds no PII.
func (r *run) audit(ctx workflow.Context, kind, actor, action string, detail map[string]any) {
	ev := store.Audit{RequestID: r.in.RequestID, ActorKind: kind, ActorID: actor, Action: action, Detail: detail}
	if err := r.dbActivity(ctx, "audit "+action, a.Audit, ev).Get(ctx, nil); err != nil {
		r.log.Error("audit failed", "action", action, "error", err)
	}
}

// alert records staff alerts about this request.
func (r *run) alert(ctx workflow.Context, req activities.AlertRequest) {
	req.RequestID = r.in.RequestID
	req.Deadline = r.st.Deadline
	req.Immediate = r.in.ImmediateAlerts
	if err := r.dbActivity(ctx, "alert "+req.Kind, a.RecordAlerts, req).Get(ctx, nil); err != nil {
		r.log.Error("alert failed", "kind", req.Kind, "error", err)
	}
}

// requesterMail sends a mail to the requester, keyed by the workflow id and
// the event so that a retry never delivers twice. tweak, if any, adjusts the
// mail's data.
func (r *run) requesterMail(ctx workflow.Context, kind, event, timelineEvent string, tweak ...func(*activities.RequesterMail)) {
	m := activities.RequesterMail{
		RequestID: r.in.RequestID, Kind: kind, Key: r.wid + ":" + event, RequestType: r.in.RequestType,
		Deadline: r.st.Deadline, ExtensionDays: r.st.ExtensionDays, ExtensionReason: r.st.ExtensionReason,
		Reasons: r.st.CloseReasons, TokenTTL: r.in.Periods.VerificationExpiry,
	}
	if kind == activities.MailVerificationReminder {
		m.TokenTTL = r.in.Periods.VerificationExpiry - r.in.Periods.VerificationReminderAfter
	}
	for _, f := range tweak {
		f(&m)
	}
	if err := r.mailActivity(ctx, kind, a.SendRequesterMail, m).Get(ctx, nil); err != nil {
		r.log.Error("requester mail failed", "kind", kind, "error", err)
		r.note(ctx, EventRequesterMailFailed, "", kind)
		return
	}
	if timelineEvent != "" {
		r.note(ctx, timelineEvent, "", "")
	}
}

// changed brings everything that mirrors the state up to date: the queue
// projection, the search attributes and the current details.
func (r *run) changed(ctx workflow.Context) {
	st := &r.st
	if !r.attrs.set || r.attrs.status != st.Status || !r.attrs.deadline.Equal(st.Deadline) || r.attrs.overdue != st.Overdue {
		err := workflow.UpsertTypedSearchAttributes(ctx,
			AttrStatus.ValueSet(string(st.Status)), AttrRequestType.ValueSet(string(r.in.RequestType)),
			AttrCountry.ValueSet(r.in.Country), AttrDeadline.ValueSet(st.Deadline), AttrOverdue.ValueSet(st.Overdue))
		if err != nil {
			r.log.Error("upsert search attributes failed", "error", err)
		} else {
			r.attrs = attrs{status: st.Status, deadline: st.Deadline, overdue: st.Overdue, set: true}
		}
	}
	details := st.Status.Label()
	if !st.Status.Closed() {
		details += " · due " + st.Deadline.UTC().Format("2006-01-02 15:04 MST")
		if st.Overdue {
			details += " · OVERDUE"
		}
	}
	workflow.SetCurrentDetails(ctx, details)
	if err := r.dbActivity(ctx, "project "+string(st.Status), a.Project, r.projection()).Get(ctx, nil); err != nil {
		r.log.Error("projection failed", "error", err)
	}
}

// projection is the queue's view of the state.
func (r *run) projection() store.Projection {
	st := &r.st
	p := store.Projection{
		RequestID: st.RequestID, Status: st.Status, Deadline: st.Deadline, Overdue: st.Overdue,
		ExtendedAt: st.ExtendedAt, ExtensionDays: st.ExtensionDays, ExtensionReason: st.ExtensionReason,
		EmailVerifiedAt: st.EmailVerifiedAt, IdentityDecidedAt: st.IdentityDecidedAt, IdentityVerified: st.IdentityVerified,
		ClosedAt: st.ClosedAt, CloseNote: st.CloseNote, CloseReasons: make([]string, len(st.CloseReasons)),
		Tasks: make([]store.ProjectedTask, len(st.Tasks)),
	}
	for i, c := range st.CloseReasons {
		p.CloseReasons[i] = string(c)
	}
	for i, t := range st.Tasks {
		p.Tasks[i] = store.ProjectedTask{
			DataSourceID: t.DataSourceID, Status: t.Status, AssignedAt: t.AssignedAt, AssignedBy: t.AssignedBy,
			LastActivityAt: t.LastActivityAt, CompletedAt: t.CompletedAt, CompletedBy: t.CompletedBy, Note: t.Note,
		}
	}
	return p
}

// dbActivity runs an activity that talks to Postgres: retried without end
// (with backoff) until it succeeds or fails for good.
func (r *run) dbActivity(ctx workflow.Context, summary string, fn any, args ...any) workflow.Future {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}
	if r.localDB {
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: time.Minute, Summary: summary, RetryPolicy: retry,
		})
		return workflow.ExecuteLocalActivity(ctx, fn, args...)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, Summary: summary, RetryPolicy: retry,
	})
	return workflow.ExecuteActivity(ctx, fn, args...)
}

// mailActivity runs an activity that sends mail: retried for up to a day
// (a provider outage), never for a permanent failure (the activity marks
// those non-retryable).
func (r *run) mailActivity(ctx workflow.Context, summary string, fn any, args ...any) workflow.Future {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		Summary:                summary,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute,
		},
	})
	return workflow.ExecuteActivity(ctx, fn, args...)
}
