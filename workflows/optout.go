package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// versionOptOutAccepted is the change id of the opt-out accepted at
// submission: where the request's rule puts it on an opt-out track whose law
// forbids requiring a verifiable request (CCPA regs §7026, a California
// opt-out or do-not-sell request), it goes to the staff queue at once,
// without waiting for the email to be confirmed, and neither a verification
// reminder nor an expiry is scheduled. Runs started before it wait for the
// email as every request does. Chained after versionSourceWatch.
const versionOptOutAccepted = "optout-accepted"

// versionOptOutCorrection is the change id of the correction of an accepted
// opt-out's address: while it is not confirmed, staff may correct an
// address mistyped at intake as they may while a request waits for its
// email; the request stays where it is and the new address is sent the
// notice that the request is acted on (onEmailCorrected). Runs started
// before it refuse the correction once the request has left
// pending_email_verification. Chained after versionOptOutAccepted.
const versionOptOutCorrection = "optout-correction"

// errBeforeOptOutCorrection refuses the correction of an accepted opt-out's
// address on a run started before versionOptOutCorrection.
var errBeforeOptOutCorrection = dsar.Errorf(dsar.ECONFLICT,
	"cannot correct the email address: this request was accepted before an accepted opt-out's address could be corrected")

// acceptsOptOut reports whether a new request is accepted at submission: the
// change is in, and its rule forbids requiring proof of identity for its
// type (startClocks set IdentityNotRequired). A request staff recorded is
// accepted the same way unless they checked the requester's identity
// (acceptedAtIntake, which also confirms the address).
func (r *run) acceptsOptOut() bool {
	return r.optOutAccepted && r.st.IdentityNotRequired && r.in.Rule != nil
}

// acceptOptOut accepts an opt-out at submission: the step of the email and
// the step of identity are recorded as not required, the request waits for
// data sources (the unassigned reminders count from now), and the requester
// is mailed that their request was received and is acted on, with a link to
// follow it in the portal. That mail confirms receipt, so it stands for the
// rule's acknowledgement when it goes. Opening the link records the address
// as confirmed (onEmailVerified) but nothing waits for it.
func (r *run) acceptOptOut(ctx workflow.Context) {
	at := workflow.Now(ctx)
	r.st.OptOutAcceptedAt = &at
	r.unassigned = 0
	r.noteAt(at, EventOptOutAccepted, "", r.in.Rule.Name)
	r.audit(ctx, store.ActorSystem, "", dsar.AuditOptOutAccepted, map[string]any{"rule": r.in.Rule.ID,
		"request_type": string(r.in.RequestType)})
	r.identityNotRequired(ctx, at)
	r.changed(ctx)
	r.sendAccepted(ctx, "accepted", EventAcknowledged)
}

// sendAccepted mails the requester that the opt-out is accepted and acted
// on (for event, with the timeline's timelineEvent). Where the rule asks
// for receipt to be confirmed and it is not yet, the mail confirms it: so
// does the one sent again to a corrected address, when the first went to a
// mistyped one.
func (r *run) sendAccepted(ctx workflow.Context, event, timelineEvent string) {
	m := r.mailOf(activities.MailAccepted, event)
	m.Received = r.st.SubmittedAt
	r.sendMail(ctx, activities.MailAccepted, func(ctx workflow.Context) (bool, error) {
		if err := r.mailActivity(ctx, activities.MailLabel(m.Kind), a.SendRequesterMail, m).Get(ctx, nil); err != nil {
			return false, err
		}
		if r.st.AcknowledgeBy != nil && r.st.AcknowledgedAt == nil {
			at := workflow.Now(ctx)
			r.st.AcknowledgedAt = &at
		}
		return true, nil
	}, timelineEvent)
}

// queuedAt is when the request reached the staff queue, which the
// unassigned reminders count from: when its opt-out was accepted at
// submission, else when the email was verified; nil while it waits for the
// email.
func (r *run) queuedAt() *time.Time {
	if r.st.OptOutAcceptedAt != nil {
		return r.st.OptOutAcceptedAt
	}
	return r.st.EmailVerifiedAt
}
