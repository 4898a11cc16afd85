package workflows

import (
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// The request's side of appeals (versionAppeals). A request closed with
// an answer its rule lets the requester appeal (a rejection, or a
// completion in part) keeps its workflow until the appeal window ends:
// the closing mail says how to appeal and until when, the requester's
// name and email outlive the erasure at close under a key of their own,
// and the requester's appeal starts the appeal's workflow as a child. Its
// decision is mailed; upheld, the request stays closed; reversed, it
// reopens. Once the window has passed without an appeal, or the appeal's
// decision is mailed, the contact details are crypto-shredded.

// versionAppeals is the change id of appeals and of keeping the contact
// details for them. Runs started before it close and erase as before.
const versionAppeals = "appeals"

// SignalAppealFiled is the requester's appeal (AppealFiling), sent by the
// portal. Their reason is a message on the request, never workflow state.
const SignalAppealFiled = "appeal-filed"

// TimerAppealWindow is the summary of the timer that ends the appeal
// window (then the contact details are shredded).
const TimerAppealWindow = "end of the appeal window: shred the contact details"

// AppealFiling is the payload of SignalAppealFiled.
type AppealFiling struct {
	Action
}

// appealNamespace derives an appeal's id from its request's: one appeal
// per request, the same id on every replay.
var appealNamespace = uuid.MustParse("5b8d7c1e-2f4a-4f0e-9c3d-6a1b2e7f8d90")

// allowsAppeal checks the requester's appeal against the state: the
// request is closed with an answer its rule lets them appeal, not yet
// appealed, and the window is open when they act.
func (s *State) allowsAppeal(p any) error {
	f, _ := p.(AppealFiling)
	switch {
	case s.Appeal != nil:
		return dsar.Errorf(dsar.ECONFLICT, "the request has been appealed already (the appeal is %s)", s.Appeal.Status)
	case !s.Status.Closed() || s.AppealUntil == nil:
		return dsar.Errorf(dsar.ECONFLICT, "this request cannot be appealed: only a rejection or a partial answer under a law that gives an appeal right can (the request is %s)", s.Status)
	case !f.At.IsZero() && f.At.After(*s.AppealUntil):
		return dsar.Errorf(dsar.ECONFLICT, "the time to appeal ended on %s (the request is %s)", s.AppealUntil.UTC().Format(time.DateOnly), s.Status)
	}
	return nil
}

// appealableUntil is until when the requester may appeal the answer of a
// request closing now (at), or nil when they may not: the rule gives no
// appeal right, the answer is neither a rejection nor a completion in
// part, or the request was appealed before (a reopened request).
func (r *run) appealableUntil(at time.Time) *time.Time {
	rule := r.in.Rule
	if !r.appeals || rule == nil || rule.Appeal == nil || r.st.Appeal != nil {
		return nil
	}
	if r.st.Status != dsar.StatusRejected && !(r.st.Status == dsar.StatusCompleted && r.st.partial()) {
		return nil
	}
	until := rule.Appeal.Window.AddTo(at)
	return &until
}

// partial reports whether a completed request was answered only in part:
// a task ended not applicable (the part of the request not acted on).
func (s *State) partial() bool {
	for _, t := range s.Tasks {
		if t.Outcome == dsar.TaskNotApplicable {
			return true
		}
	}
	return false
}

// erase is the erasure at close. A request its requester may appeal keeps
// their name and email, sealed under a key of their own, until the appeal
// window ends; the rest is erased as at any close. A request that kept
// them before (it reopened after an appeal) shreds them now.
func (r *run) erase(ctx workflow.Context) {
	if r.st.AppealUntil == nil {
		r.scrub(ctx)
		if r.st.ContactKept {
			r.shredContact(ctx)
		}
		return
	}
	r.joinMail(ctx)
	until := *r.st.AppealUntil
	if !r.writeActivity(ctx, "scrub PII, keeping the contact for an appeal", a.ScrubKeepingContact, r.in.RequestID, until) {
		return
	}
	r.st.ContactKept = true
	r.note(ctx, EventPIIScrubbed, "", "name and email kept, sealed, for an appeal until "+until.UTC().Format(time.RFC3339))
	r.audit(ctx, store.ActorSystem, "", dsar.AuditPIIScrubbed, map[string]any{"contact_kept_until": until.UTC().Format(time.RFC3339)})
	r.changed(ctx)
}

// shredContact destroys the contact details kept for an appeal, once
// every mail that needs them is sent.
func (r *run) shredContact(ctx workflow.Context) {
	r.joinMail(ctx)
	if !r.writeActivity(ctx, "shred the contact details", a.ShredContact, r.in.RequestID) {
		return
	}
	r.st.ContactKept = false
	r.note(ctx, EventContactShredded, "", "")
	r.audit(ctx, store.ActorSystem, "", dsar.AuditContactShredded, nil)
	r.changed(ctx)
}

// afterClose keeps a closed request's workflow while something after its
// close is due: the published package's expiry, the appeal window (the
// requester's appeal is taken, any other action refused), an appeal's
// decision. The contact details kept for an appeal are shredded once the
// window has passed and no appeal is open (an appeal still open at the
// window's end keeps them until its decision is mailed). A reversed
// appeal reopens the request and returns.
func (r *run) afterClose(ctx workflow.Context) {
	var child workflow.ChildWorkflowFuture
	for !r.abandoned {
		now := workflow.Now(ctx)
		// A legal hold (versionRecords) keeps every erasure due waiting
		// until it is lifted; the appeal window and an appeal go on.
		held := r.records && r.st.Held()
		if r.erasePending && !held {
			r.erasePending = false
			r.erase(ctx)
			continue
		}
		windowOpen := r.st.AppealUntil != nil && r.st.Appeal == nil && now.Before(*r.st.AppealUntil)
		appealOpen := r.st.Appeal != nil && r.st.Appeal.Status == dsar.AppealOpen
		// The contact details last the window, and an open appeal beyond it.
		contactDue := r.st.ContactKept && r.st.AppealUntil != nil && now.Before(*r.st.AppealUntil)
		shredNow := r.st.ContactKept && !contactDue && !appealOpen
		if shredNow && !held {
			r.shredContact(ctx)
			continue
		}
		pk := r.st.Package
		pkgDue := pk != nil && pk.Status == store.PackagePublished && pk.ExpiresAt != nil
		expireNow := pkgDue && !now.Before(*pk.ExpiresAt)
		if expireNow && !held {
			r.expirePackage(ctx)
			continue
		}
		liftAwaited := held && (r.erasePending || shredNow || expireNow)
		if !windowOpen && !appealOpen && !pkgDue && !contactDue && !liftAwaited {
			return
		}
		var until time.Time
		summary := ""
		if pkgDue && !expireNow {
			until, summary = *pk.ExpiresAt, TimerPackageExpiry
		}
		if (windowOpen || contactDue) && (until.IsZero() || r.st.AppealUntil.Before(until)) {
			until, summary = *r.st.AppealUntil, TimerAppealWindow
		}
		var decided workflow.Future
		if appealOpen {
			if child == nil {
				child = r.startAppeal(ctx)
			}
			decided = child
		}
		accept := func(p pendingAction) bool {
			return windowOpen && p.signal == SignalAppealFiled && p.action.RequestID == r.in.RequestID ||
				r.records && p.signal == SignalLegalHold
		}
		p, filed := r.closedWait(ctx, until, summary, accept, decided)
		switch {
		case filed && p.signal == SignalLegalHold:
			r.apply(ctx, p) // then what the hold kept waiting may be due
		case filed:
			r.fileAppeal(ctx, p)
		case decided != nil && decided.IsReady():
			var res AppealResult
			if err := decided.Get(ctx, &res); err != nil {
				child = nil // started again once an operator (or the hour) says so
				if !r.attend(ctx, "appeal workflow", err) {
					return
				}
				continue
			}
			r.appealDecided(ctx, res)
			if !r.st.Status.Closed() {
				r.erasePending = false // reopened: the next close erases
				return                 // reopened: back to the main loop
			}
		}
	}
}

// expirePackage erases a published package whose time has come.
func (r *run) expirePackage(ctx workflow.Context) {
	p := r.st.Package
	if !r.writeActivity(ctx, "erase the access package", a.ExpirePackage, r.in.RequestID) {
		return
	}
	p.Status = store.PackageExpired
	r.note(ctx, EventPackageExpired, "", "")
	r.audit(ctx, store.ActorSystem, "", dsar.AuditPackageExpired, map[string]any{"package_id": p.ID})
	r.changed(ctx)
}

// fileAppeal applies the requester's appeal: its deadline (the rule's
// appeal period, in business days where the rule counts them), the audit
// trail, the projection (which stores the appeal and answers the
// requester), then the appeal's own workflow.
func (r *run) fileAppeal(ctx workflow.Context, p pendingAction) {
	rule := r.in.Rule.Appeal
	deadline := r.workdays().Add(p.at, rule.Period, rule.BusinessDays)
	id := uuid.NewSHA1(appealNamespace, []byte(r.in.RequestID)).String()
	r.st.Appeal = &AppealState{ID: id, Status: dsar.AppealOpen, FiledAt: p.at, Deadline: deadline}
	if p.action.ID != "" {
		r.current = append(r.current, store.ActionOutcome{ActionID: p.action.ID, Signal: p.signal, Applied: true, ActedAt: p.at})
	}
	due := deadline.UTC().Format(time.RFC3339)
	r.noteAt(p.at, EventAppealFiled, "", "due "+due)
	r.audit(ctx, store.ActorRequester, "", dsar.AuditAppealFiled, map[string]any{"appeal_id": id, "deadline": due})
	r.changed(ctx)
}

// startAppeal starts the appeal's workflow as a child that outlives this
// one if it must (ParentClosePolicy abandon).
func (r *run) startAppeal(ctx workflow.Context) workflow.ChildWorkflowFuture {
	ap := r.st.Appeal
	r.flushAudits(ctx)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            AppealWorkflowID(r.in.RequestID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		StaticSummary:         "Appeal of request " + dsar.Reference(r.in.RequestID),
	})
	return workflow.ExecuteChildWorkflow(cctx, AppealWorkflowName, AppealInput{
		AppealID: ap.ID, RequestID: r.in.RequestID, FiledAt: ap.FiledAt, Deadline: ap.Deadline,
		Decider: r.st.Decision, RequestStatus: r.st.Status, Periods: r.in.Periods, ImmediateAlerts: r.in.ImmediateAlerts,
	})
}

// appealDecided applies the appeal's decision: mailed to the requester
// (upheld: with the authority they may complain to), and, reversed, the
// request reopened.
func (r *run) appealDecided(ctx workflow.Context, res AppealResult) {
	ap := r.st.Appeal
	at := res.DecidedAt
	ap.Status, ap.Outcome, ap.DecidedAt, ap.DecidedBy, ap.Explanation = res.Outcome, string(res.Outcome), &at, res.DecidedBy, res.Explanation
	r.noteAt(at, EventAppealDecided, res.DecidedBy, res.Outcome.Label())
	mail := &activities.MailAppeal{Upheld: res.Outcome == dsar.AppealUpheld, Explanation: res.Explanation}
	if mail.Upheld {
		if rule := r.in.Rule; rule != nil && rule.Appeal != nil {
			mail.Authority, mail.AuthorityContact = rule.Appeal.Authority, rule.Appeal.Contact
		}
		r.changed(ctx)
	} else {
		r.reopen(ctx, at, res.DecidedBy)
	}
	r.requesterMail(ctx, activities.MailAppealDecided, "appeal-decided", "", func(m *activities.RequesterMail) { m.Appeal = mail })
}

// reopen puts a request whose appeal was reversed back to work: a new
// deadline of the rule's period from the decision, its tasks open again
// for their owners, a data key for the files they attach (the old one
// went with the erasure), and the alerts of a new request. The access
// package published before, if any, is erased: a new one is built.
func (r *run) reopen(ctx workflow.Context, at time.Time, by string) {
	st := &r.st
	st.Status = dsar.StatusInProgress
	if len(st.Tasks) == 0 {
		st.Status = dsar.StatusIdentityVerified
	}
	st.ClosedAt, st.CloseReasons, st.CloseNote, st.NothingToSend, st.AppealUntil = nil, nil, "", "", nil
	st.Deadline = r.in.Rule.Due(r.in.RequestType, at, r.workdays())
	st.OriginalDeadline = st.Deadline
	st.Extended, st.ExtensionDays, st.ExtensionReason, st.ExtendedAt = false, 0, "", nil
	st.Overdue, st.ClosingMailFailed = false, false
	r.overdueNext, r.warnedFor, r.closingKind, r.closingFailed = 0, time.Time{}, "", false
	r.stalls = map[string]int{}
	var sources []string
	for i := range st.Tasks {
		t := &st.Tasks[i]
		t.Status, t.CompletedAt, t.CompletedBy, t.LastActivityAt = TaskOpen, nil, "", at
		t.Outcome, t.RecordCount, t.DeclineReason = "", nil, ""
		sources = append(sources, t.DataSourceID)
	}
	if pk := st.Package; pk != nil && pk.Status == store.PackagePublished {
		r.writeActivity(ctx, "erase the access package", a.ExpirePackage, r.in.RequestID)
	}
	st.Package = nil
	r.write(ctx, "a data key for the reopened request", a.ReopenRequest, r.in.RequestID)
	due := st.Deadline.UTC().Format(time.RFC3339)
	r.noteAt(at, EventReopened, by, "due "+due)
	r.audit(ctx, actorKind(by), by, dsar.AuditRequestReopened, map[string]any{"deadline": due})
	r.changed(ctx)
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertNewRequest, Key: "reopened", OrgOwners: true})
	if len(sources) > 0 {
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskAssigned, Key: "reopened-assigned", DataSourceIDs: sources})
	}
}

// closedWait waits, once the request is closed, for the first of: the time
// until (none when zero), an action accept takes (returned, true), or fut
// ready (when not nil). Every other action is refused meanwhile. It returns
// false at once when the workflow is abandoned.
func (r *run) closedWait(ctx workflow.Context, until time.Time, summary string, accept func(pendingAction) bool, fut workflow.Future) (pendingAction, bool) {
	for !r.abandoned {
		r.collect(ctx)
		r.flushAudits(ctx)
		for len(r.pending) > 0 {
			p := r.pending[0]
			r.pending = r.pending[1:]
			if r.records && p.signal == SignalLegalHold && (accept == nil || !accept(p)) {
				r.dispatch(ctx, p) // a hold placed or lifted while the request waits, closed
				continue
			}
			if p.action.ID != "" && r.seen(p.action.ID) {
				continue
			}
			err := r.st.Allows(p.signal, p.payload)
			if err == nil && accept != nil && accept(p) {
				return p, true
			}
			if err == nil && p.signal == SignalLegalHold {
				err = errBeforeLegalHolds
			}
			if err == nil {
				err = dsar.Errorf(dsar.ECONFLICT, "the request is %s", r.st.Status)
			}
			r.refuse(ctx, p, err)
		}
		if fut != nil && fut.IsReady() {
			break
		}
		now := workflow.Now(ctx)
		if !until.IsZero() && !now.Before(until) {
			break
		}
		sel, cancel := r.waitFor(ctx, event{at: until, summary: summary}, !until.IsZero(), now)
		r.addActions(ctx, sel)
		r.addOperator(ctx, sel)
		if fut != nil {
			sel.AddFuture(fut, func(workflow.Future) {})
		}
		sel.Select(ctx)
		cancel()
	}
	return pendingAction{}, false
}

// onAppealFiled answers an appeal filed while the request is open (or on a
// run before appeals): the state refuses it. An appeal is taken only while
// a closed request waits out its window (afterClose).
func (r *run) onAppealFiled(ctx workflow.Context, p AppealFiling) {
	r.allowed(ctx, SignalAppealFiled, p, "")
}
