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
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// a refers to the activities by method; it is never dereferenced.
var a *activities.Activities

// Timer summaries, shown in the Temporal UI.
const (
	TimerVerificationReminder = "verification reminder"
	TimerVerificationExpiry   = "verification expiry"
	TimerUnassignedReminder   = "unassigned reminder"
	TimerTaskStalled          = "stalled task reminder"
	TimerDeadlineWarning      = "deadline warning"
	TimerDeadline             = "deadline"
	TimerOverdueReminder      = "overdue reminder"
	TimerAttentionRetry       = "retry the step that needs attention"
	TimerMailResendWindow     = "erase the address unless the closing mail is sent again"
	TimerPackageExpiry        = "erase the access package"
	TimerPackageRetry         = "build the access package again"
)

// DSAR is the workflow of one request, from submission to close. It sends
// the verification email first (an opt-out the law forbids making wait for
// it is accepted at once instead: acceptOptOut), then waits for signals and
// timers until the request is completed, rejected or expired, and returns
// its final state.
func DSAR(ctx workflow.Context, in Input) (State, error) {
	r := newRun(ctx, in)
	r.takeVersions(ctx)
	if r.fulfil {
		r.st.RequestType = in.RequestType
		r.st.PackageRequired = in.RequestType == dsar.RequestInfo
	}
	if r.clocks && in.Resume == nil {
		r.startClocks()
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return r.st, nil }); err != nil {
		return r.st, err
	}
	if in.Resume == nil {
		r.note(ctx, EventSubmitted, "", "")
		if m := in.Manual; m != nil && m.IdentityChecked && r.seedFlow {
			r.acceptedAtIntake(ctx, m) // no link to click: staff checked who the requester is
		} else if r.acceptsOptOut() {
			r.acceptOptOut(ctx) // the law forbids waiting for the link to be clicked
		} else {
			r.changed(ctx)
			r.requesterMail(ctx, activities.MailVerification, "verification", EventVerificationSent)
		}
	} else {
		r.changed(ctx) // a new run: search attributes and details again
	}
	if r.durable {
		r.mailIdle = workflow.NewBufferedChannel(ctx, 1)
		if in.Resume != nil {
			r.resumePackage(ctx)
		}
		st, err := r.loop(ctx)
		if r.abandoned {
			if kerr := r.keepAudits(ctx); kerr != nil {
				return st, kerr
			}
		}
		return st, err // the loop's own end (a continue-as-new included) stands
	}
	return r.legacyLoop(ctx)
}

// loop is the main loop of the durable path. Each turn it takes every
// action signal already received into a queue ordered by when the people
// acted, then applies the earliest action unless a timer event fell due
// before that action was taken, in which case the event fires first. An
// action taken before the deadline is thus never late because a worker was
// busy or down. With nothing to do it waits for the next timer or signal.
func (r *run) loop(ctx workflow.Context) (State, error) {
	for !r.st.Status.Closed() && !r.abandoned {
		r.collect(ctx)
		r.flushAudits(ctx) // before the run waits or ends: what no projection write took
		wantCAN := workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		if wantCAN && len(r.pending) == 0 && r.mailPending == 0 {
			// The history is long (a request open for many months): carry
			// on in a new run once no mail is in flight (meanwhile timers
			// and actions go on as usual, and the mail's end wakes the loop).
			next := r.in
			next.Resume = r.checkpoint()
			return r.st, workflow.NewContinueAsNewError(ctx, WorkflowName, next)
		}
		now := workflow.Now(ctx)
		ev, ok := r.next()
		due := ok && !ev.at.After(now)
		if len(r.pending) > 0 && (!due || !r.pending[0].at.After(ev.at)) {
			p := r.pending[0]
			r.pending = r.pending[1:]
			r.dispatch(ctx, p)
			continue
		}
		if due {
			ev.fire(ctx)
			continue
		}
		sel, cancel := r.waitFor(ctx, ev, ok, now)
		r.addActions(ctx, sel)
		r.addOperator(ctx, sel)
		if r.connectors {
			r.addProgress(ctx, sel)
		}
		if wantCAN && r.mailPending > 0 {
			sel.AddReceive(r.mailIdle, func(c workflow.ReceiveChannel, _ bool) { c.ReceiveAsync(nil) })
		}
		sel.Select(ctx)
		cancel()
	}
	if r.abandoned {
		return r.st, nil
	}
	r.joinMail(ctx)
	r.refuseRemaining(ctx)
	r.flushAudits(ctx)
	return r.st, nil
}

// legacyLoop is the main loop of runs started before versionDurable.
func (r *run) legacyLoop(ctx workflow.Context) (State, error) {
	for !r.st.Status.Closed() {
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// The history is long (a request open for many months): apply
			// the signals already buffered, then carry on in a new run.
			r.applyBuffered(ctx)
			if r.st.Status.Closed() {
				break
			}
			next := r.in
			next.Resume = r.checkpoint()
			return r.st, workflow.NewContinueAsNewError(ctx, WorkflowName, next)
		}
		now := workflow.Now(ctx)
		ev, ok := r.next()
		if ok && !ev.at.After(now) {
			ev.fire(ctx)
			continue
		}
		sel, cancel := r.waitFor(ctx, ev, ok, now)
		var handle func(workflow.Context)
		r.addSignals(ctx, sel, &handle)
		r.addOperator(ctx, sel) // the reconciliation's, even to old runs
		sel.Select(ctx)
		cancel()
		if handle != nil {
			handle(ctx)
		}
		if r.abandoned {
			return r.st, nil
		}
	}
	r.drain(ctx)
	return r.st, nil
}

// addActions adds to sel a receive of every action signal, which queues
// what it receives (the durable path).
func (r *run) addActions(ctx workflow.Context, sel workflow.Selector) {
	for _, name := range ActionSignals {
		sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) {
			r.receive(ctx, c, name)
		})
	}
}

// addOperator adds to sel a receive of the operator's signal.
func (r *run) addOperator(ctx workflow.Context, sel workflow.Selector) {
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalHandlerSet), func(c workflow.ReceiveChannel, _ bool) {
		var h HandlerSet
		if c.ReceiveAsync(&h) {
			r.handlerSet(ctx, h)
		}
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalOperator), func(c workflow.ReceiveChannel, _ bool) {
		var op OperatorAction
		if !c.ReceiveAsync(&op) {
			return // a payload that did not decode (one sent in the clear) is dropped, never waited past
		}
		r.operator(ctx, op)
	})
}

// waitFor is a selector that wakes at the event, if there is one (the
// event fires on the next turn); cancel stops its timer.
func (r *run) waitFor(ctx workflow.Context, ev event, ok bool, now time.Time) (workflow.Selector, workflow.CancelFunc) {
	timerCtx, cancel := workflow.WithCancel(ctx)
	sel := workflow.NewSelector(ctx)
	if ok {
		t := workflow.NewTimerWithOptions(timerCtx, ev.at.Sub(now), workflow.TimerOptions{Summary: ev.summary})
		sel.AddFuture(t, func(workflow.Future) {})
	}
	return sel, cancel
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

	baseline bool // the run recorded versionBaseline: it has every change before it

	// The durable path (versionDurable).
	durable    bool
	seq        int64                 // projection writes so far (carried across runs)
	auditN     int64                 // audit events so far (carried across runs): their keys
	attentionN int                   // attention alerts so far
	actionIDs  []string              // the latest action ids handled, to ignore a repeat
	pending    []pendingAction       // action signals received, not yet applied, by time acted
	outcomes   []store.ActionOutcome // refusals not yet written
	current    []store.ActionOutcome // the action being applied, written by the main loop's next projection
	attention  string                // the step that failed for good, and why ("" when none)
	// attentionWords is attention without the error's text, for the
	// current details, which are not sealed.
	attentionWords string
	abandoned      bool // an operator ended the workflow
	mailPending    int  // mails queued or in flight beside the main loop
	mailQueue      []func(workflow.Context)
	mailRunning    bool             // the coroutine that sends the queue runs
	mailIdle       workflow.Channel // gets a value each time the mail queue empties

	// The seed's workflow for daily use (versionSeedFlow).
	seedFlow      bool
	readyN        int    // ready-to-complete alerts so far: their keys
	declinedN     int    // declined tasks so far
	reassignedN   int    // reassigned tasks so far
	corrections   int    // email corrections so far: the verification mail's key
	closingKind   string // the kind of the closing mail, once the request closes
	closingFailed bool   // the closing mail failed for good
	resends       int    // closing mails sent again

	// Fulfilment: task files, the access package and its delivery
	// (versionFulfilment).
	fulfil bool
	// checkActors: every staff action's actor is checked against the users
	// before it applies (versionActorCheck).
	checkActors bool
	handler     string // the request's handler, mirrored in DsarHandler ("" none, or never told)
	// appeals: a closed request's requester may appeal where its rule says
	// so; their contact details are kept for it, then shredded
	// (versionAppeals).
	appeals bool

	// Automated data sources (versionConnectors): each task's child
	// workflow, and how its source was assigned (carried across runs).
	connectors bool
	sources    []AssignedSource
	// retryingSince: per data source, when its task began retrying
	// (AutomationRetrying); retryingAlerted: alerted for that episode.
	// Not carried across runs: a new run counts the hour again.
	retryingSince   map[string]time.Time
	retryingAlerted map[string]bool
	// The watch of SQL sources' task queues (versionSourceWatch):
	// watchedAt is the last check; beforeNoConnector, per data source, the
	// automation its child last reported before no_connector. Not carried
	// across runs: a new run checks again.
	sourceWatch       bool
	watchedAt         time.Time
	beforeNoConnector map[string]Automation
	// records: legal holds keep the erasure at close waiting (versionRecords).
	records bool
	// erasePending: the erasure at close waits for a legal hold's lift
	// while the appeal window runs (afterClose).
	erasePending bool
	// The jurisdiction rule's clocks (versionClocks).
	clocks     bool
	ackAlerted bool // the acknowledgement alert was sent
	// optOutAccepted: an opt-out whose law forbids requiring a verifiable
	// request is accepted at submission (versionOptOutAccepted).
	optOutAccepted bool
	// optOutCorrection: the address of an opt-out accepted at submission
	// may be corrected while unconfirmed (versionOptOutCorrection).
	optOutCorrection bool
	// oneWrite: audit events wait for the next projection write and
	// commit with it (versionOneWrite); audits are those waiting.
	oneWrite bool
	audits   []store.Audit
	// carried are the audit events taken by projection writes that have
	// not succeeded yet: written on their own if an operator abandons the
	// workflow meanwhile (versionKeepAudits).
	carried []store.Audit
}

type attrs struct {
	status    dsar.Status
	deadline  time.Time
	overdue   bool
	attention bool
	handler   string
	set       bool
}

func newRun(ctx workflow.Context, in Input) *run {
	if c := in.Resume; c != nil {
		r := &run{
			in: in, log: workflow.GetLogger(ctx), wid: workflow.GetInfo(ctx).WorkflowExecution.ID,
			st: c.State, verifyBase: c.VerificationBase, reminded: c.VerificationRemind, unassigned: c.UnassignedNext,
			stalls: map[string]int{}, warnedFor: c.WarnedFor, overdueNext: c.OverdueNext, extensions: c.Extensions,
			seq: c.Seq, auditN: c.AuditN, actionIDs: c.ActionIDs, attentionN: c.AttentionN,
			readyN: c.ReadyN, declinedN: c.DeclinedN, reassignedN: c.ReassignedN, corrections: c.Corrections,
			handler: c.Handler, sources: c.Sources, ackAlerted: c.AckAlerted,
		}
		r.in.Resume = nil
		for _, s := range c.Stalls {
			r.stalls[s.DataSourceID] = s.Sent
		}
		return r
	}
	base := in.SubmittedAt
	if base.IsZero() || in.Manual != nil {
		// A request staff recorded may have been received days ago: the
		// requester's link goes out now, and its days count from now.
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
		Seq: r.seq, AuditN: r.auditN, ActionIDs: r.actionIDs, AttentionN: r.attentionN,
		ReadyN: r.readyN, DeclinedN: r.declinedN, ReassignedN: r.reassignedN, Corrections: r.corrections,
		Handler: r.handler, Sources: r.sources, AckAlerted: r.ackAlerted,
	}
	for _, t := range r.st.Tasks { // the tasks' order, not the map's
		if n, ok := r.stalls[t.DataSourceID]; ok {
			c.Stalls = append(c.Stalls, StallCount{DataSourceID: t.DataSourceID, Sent: n})
		}
	}
	return c
}

// applyBuffered applies every signal already received, without waiting
// (the old path, before continuing as new).
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
	if pk := r.st.Package; pk != nil && pk.Status == store.PackageFailed && r.st.Status == dsar.StatusReadyToClose && pk.FailedAt != nil {
		consider(event{pk.FailedAt.Add(packageRetryEvery), TimerPackageRetry, r.buildPackage})
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
	if q := r.queuedAt(); st.Status.Unassigned() && q != nil && (r.unassigned == 0 || p.ReminderEvery > 0) {
		consider(event{q.Add(time.Duration(r.unassigned) * p.ReminderEvery), TimerUnassignedReminder, r.remindUnassigned})
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
	if e, ok := r.watchEvent(); ok {
		consider(e)
	}
	if r.clocks && st.AcknowledgeBy != nil && st.AcknowledgedAt == nil && !r.ackAlerted {
		consider(event{*st.AcknowledgeBy, TimerAcknowledge, r.alertAcknowledge})
	}
	if st.Paused != nil {
		return best, found // the clock is stopped: no deadline warning, no overdue alert
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
	key := "verification-reminder"
	if r.corrections > 0 { // its link is made from the key: a new one for the corrected address
		key = fmt.Sprintf("verification-reminder-%d", r.corrections)
	}
	r.requesterMail(ctx, activities.MailVerificationReminder, key, EventVerificationRemind)
}

func (r *run) expire(ctx workflow.Context) {
	now := workflow.Now(ctx)
	r.st.Status = dsar.StatusExpired
	r.st.ClosedAt = &now
	r.note(ctx, EventExpired, "", "the email was never verified")
	r.audit(ctx, store.ActorSystem, "", dsar.AuditExpired, nil)
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
	r.unassigned = periodsSince(*r.queuedAt(), now, r.in.Periods.ReminderEvery) + 1
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
		r.audit(ctx, store.ActorSystem, "", dsar.AuditOverdue, map[string]any{"deadline": r.st.Deadline.UTC().Format(time.RFC3339)})
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

// actorKind is the audit actor kind of a signal's sender: staff when a
// user id is given, the system otherwise.
func actorKind(by string) string {
	if by == "" {
		return store.ActorSystem
	}
	return store.ActorStaff
}
