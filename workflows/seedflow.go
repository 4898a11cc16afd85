package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// The steps of the seed's workflow for daily use (versionSeedFlow): the
// requester's withdrawal, a task declined or given to one person, a
// corrected email address, and identity checked when staff recorded the
// request.

// seedFlowSignals are the actions a run before versionSeedFlow refuses.
var seedFlowSignals = []string{SignalWithdrawn, SignalTaskDeclined, SignalTaskReassigned, SignalEmailCorrected, SignalMailResent}

// onWithdrawn closes the request as withdrawn, at the requester's word:
// staff are told, the requester gets a confirmation, and the PII is erased
// like at any close.
func (r *run) onWithdrawn(ctx workflow.Context, p Withdrawal) {
	if !r.allowed(ctx, SignalWithdrawn, p, "") {
		return
	}
	r.close(ctx, r.when(ctx, p.Action), OutcomeWithdrawn, nil, "", "", "")
}

// onTaskDeclined hands a task back: the owner cannot do it and says why.
// The request's handler (or the org owners) decides: give it to someone
// else, or settle it themselves.
func (r *run) onTaskDeclined(ctx workflow.Context, p TaskDecline) {
	if !r.allowed(ctx, SignalTaskDeclined, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	t, _ := r.st.Task(p.DataSourceID)
	t.Status, t.DeclineReason, t.LastActivityAt = TaskDeclined, p.Reason, now
	delete(r.stalls, p.DataSourceID)
	r.declinedN++
	r.noteAt(now, EventTaskDeclined, p.By, p.DataSourceID+": "+p.Reason)
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditTaskDeclined, map[string]any{"data_source_id": p.DataSourceID})
	r.changed(ctx)
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskDeclined, Key: fmt.Sprintf("declined-%d", r.declinedN), OrgOwners: true,
		DataSourceIDs: []string{p.DataSourceID}})
}

// onTaskReassigned gives a task to one person, open again; they are told
// as for a new assignment.
func (r *run) onTaskReassigned(ctx workflow.Context, p TaskReassignment) {
	if !r.allowed(ctx, SignalTaskReassigned, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	t, _ := r.st.Task(p.DataSourceID)
	t.Status, t.AssigneeID, t.DeclineReason, t.LastActivityAt = TaskOpen, p.UserID, "", now
	delete(r.stalls, p.DataSourceID)
	r.reassignedN++
	r.noteAt(now, EventTaskReassigned, p.By, p.DataSourceID)
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditTaskReassigned, map[string]any{"data_source_id": p.DataSourceID, "user_id": p.UserID})
	if r.st.Status == dsar.StatusReadyToClose {
		r.st.Status = dsar.StatusInProgress
	}
	r.changed(ctx)
	// The task's alerts go to its assignee (the recipients follow the
	// projected task), this one first.
	r.alert(ctx, activities.AlertRequest{Kind: store.AlertTaskAssigned, Key: fmt.Sprintf("reassigned-%d", r.reassignedN),
		DataSourceIDs: []string{p.DataSourceID}})
}

// onEmailCorrected puts the corrected address in place (the API staged it;
// the links sent to the old one stop working). A request waiting for its
// email starts verification again: a new link, and the reminder and expiry
// counted from now. An opt-out accepted at submission stays where it is;
// the new address is sent the notice that the request is acted on, with a
// link of its own (versionOptOutCorrection).
func (r *run) onEmailCorrected(ctx workflow.Context, p EmailCorrection) {
	if !r.allowed(ctx, SignalEmailCorrected, p, p.By) {
		return
	}
	now := r.when(ctx, p.Action)
	var applied bool
	if !r.writeInto(ctx, "apply email correction", &applied, a.ApplyEmailCorrection, r.in.RequestID, p.Action.ID) {
		return
	}
	if !applied { // another correction was staged after this one: that one applies
		err := dsar.Errorf(dsar.ECONFLICT, "a later correction of the address replaced this one")
		r.current = nil
		r.ignoreErr(ctx, SignalEmailCorrected, p.By, err)
		if p.Action.ID != "" {
			r.outcomes = append(r.outcomes, store.ActionOutcome{ActionID: p.Action.ID, Signal: SignalEmailCorrected,
				Code: dsar.ErrorCode(err), Reason: dsar.ErrorMessage(err), ActedAt: now})
		}
		return
	}
	r.corrections++
	accepted := r.st.Status != dsar.StatusPendingEmailVerification // an opt-out accepted at submission
	if !accepted {
		r.verifyBase, r.reminded = workflow.Now(ctx), false
	}
	r.noteAt(now, EventEmailCorrected, p.By, "")
	r.audit(ctx, actorKind(p.By), p.By, dsar.AuditEmailCorrected, nil)
	r.changed(ctx)
	if accepted {
		r.sendAccepted(ctx, fmt.Sprintf("accepted-%d", r.corrections), EventAcceptedResent)
		return
	}
	r.requesterMail(ctx, activities.MailVerification, fmt.Sprintf("verification-%d", r.corrections), EventVerificationSent)
}

// acceptedAtIntake starts a request staff recorded with the requester's
// identity checked another way (phone, post, in person): the address and
// identity count as verified by them, with their note, so nothing waits
// for a link the requester may never open; the requester is invited to
// the portal.
func (r *run) acceptedAtIntake(ctx workflow.Context, m *ManualIntake) {
	at := workflow.Now(ctx)
	r.st.EmailVerifiedAt = &at
	r.unassigned = 0
	r.noteAt(at, EventEmailVerified, m.RecordedBy, "confirmed by staff when recording the request")
	r.audit(ctx, actorKind(m.RecordedBy), m.RecordedBy, dsar.AuditEmailVerified, map[string]any{"channel": string(m.Channel), "at_intake": true})
	r.identityCheckedAtIntake(ctx, at, m)
	r.changed(ctx)
	r.acknowledge(ctx)
	r.portalInvitation(ctx)
}

// identityCheckedAtIntake records the identity check staff made when they
// recorded the request, with their note.
func (r *run) identityCheckedAtIntake(ctx workflow.Context, at time.Time, m *ManualIntake) {
	verified := true
	r.st.IdentityDecidedAt, r.st.IdentityVerified, r.st.IdentityNote = &at, &verified, m.IdentityNote
	r.st.Status = dsar.StatusIdentityVerified
	detail := map[string]any{"channel": string(m.Channel)}
	if m.IdentityNote != "" {
		sum := sha256.Sum256([]byte(m.IdentityNote))
		detail["note_sha256"] = hex.EncodeToString(sum[:])
	}
	r.noteAt(at, EventIdentityVerified, m.RecordedBy, m.IdentityNote)
	r.audit(ctx, actorKind(m.RecordedBy), m.RecordedBy, dsar.AuditIdentityVerified, detail)
}

// defaultMailResendWindow is MailResendWindow for runs started without one.
const defaultMailResendWindow = 7 * 24 * time.Hour

// holdForResend keeps a closed request's address while its closing mail
// (kind) failed for good: staff are alerted and may send it again (an
// action) until the window ends; then the erasure goes ahead and the
// timeline says the requester was not told. Other actions meanwhile are
// refused at once: the request is closed.
func (r *run) holdForResend(ctx workflow.Context, kind string) {
	r.joinMail(ctx)
	window := r.in.Periods.MailResendWindow
	if window <= 0 {
		window = defaultMailResendWindow
	}
	until := workflow.Now(ctx).Add(window)
	for r.closingFailed && !r.abandoned {
		r.st.ClosingMailFailed = true
		r.changed(ctx)
		r.alert(ctx, activities.AlertRequest{Kind: store.AlertMailFailed, Key: fmt.Sprintf("mail-failed-%d", r.resends), OrgOwners: true})
		p, ok := r.awaitResend(ctx, until)
		r.st.ClosingMailFailed = false
		if !ok {
			r.note(ctx, EventMailNotResent, "", kind)
			r.changed(ctx)
			return
		}
		r.closingFailed = false
		r.resends++
		if p.action.ID != "" {
			r.current = append(r.current, store.ActionOutcome{ActionID: p.action.ID, Signal: p.signal, Applied: true, ActedAt: p.at})
		}
		r.noteAt(p.at, EventMailResent, p.by, kind)
		r.changed(ctx)
		r.requesterMail(ctx, kind, fmt.Sprintf("%s-resend-%d", r.st.Status, r.resends), "", r.closingMail)
		r.joinMail(ctx)
	}
}

// awaitResend waits until staff ask to send the closing mail again (that
// action, true) or until the window ends (false), refusing every other
// action meanwhile.
func (r *run) awaitResend(ctx workflow.Context, until time.Time) (pendingAction, bool) {
	return r.refuseUntil(ctx, until, TimerMailResendWindow, func(p pendingAction) bool { return p.signal == SignalMailResent })
}

// noTimer is refuseUntil's until for a wait with no end of its own: it
// lasts while a legal hold is on.
var noTimer time.Time

// refuseUntil waits, once the request is closed, until the time until (its
// timer named summary; noTimer: until no legal hold is on), refusing every
// action meanwhile but one that accept takes, which it returns (true), and
// a legal hold's, which it applies (versionRecords). Without one it
// returns false at that time, or when the workflow is abandoned.
func (r *run) refuseUntil(ctx workflow.Context, until time.Time, summary string, accept func(pendingAction) bool) (pendingAction, bool) {
	return r.closedWait(ctx, until, summary, accept, nil)
}

func (r *run) onMailResent(ctx workflow.Context, p MailResend) {
	// Taken only while the closing mail waits to be sent again
	// (awaitResend); anywhere else the state refuses it.
	r.allowed(ctx, SignalMailResent, p, p.By)
}
