package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// timelineEvents lists the events of a timeline, in order.
func timelineEvents(st State) []string {
	var out []string
	for _, e := range st.Timeline {
		out = append(out, e.Event)
	}
	return out
}

// TestCaliforniaOptOutAcceptedAtSubmission: a California opt-out whose
// requester never opens the link is in the staff queue at once (identity
// not required, org owners told), is not expired when the link's week has
// passed, and completes as any other request; the requester is told at
// submission that it is acted on (which confirms receipt) and how it
// ended, both without their name, the address never being confirmed.
func TestCaliforniaOptOutAcceptedAtSubmission(t *testing.T) {
	h, rule := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, start)
	var taken, afterExpiry State
	h.queryAt(time.Minute, &taken)
	h.queryAt(8*day, &afterExpiry) // the link's expiry (7 days) has passed
	h.at(9*day, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff})
	h.at(9*day+time.Hour, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskOptedOut, By: staff})
	h.at(10*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if taken.Status != dsar.StatusIdentityVerified || taken.OptOutAcceptedAt == nil || !taken.OptOutAcceptedAt.Equal(start) ||
		taken.EmailVerifiedAt != nil || !taken.IdentityNotRequired || taken.IdentityVerified != nil {
		t.Errorf("at submission: status %s, accepted at %v, email verified at %v, identity not required %v, verified %v; "+
			"want identity_verified at once, no identity decision", taken.Status, taken.OptOutAcceptedAt, taken.EmailVerifiedAt,
			taken.IdentityNotRequired, taken.IdentityVerified)
	}
	if afterExpiry.Status != dsar.StatusIdentityVerified {
		t.Errorf("after the link's expiry: status %s, want identity_verified (not expired)", afterExpiry.Status)
	}
	if st.Status != dsar.StatusCompleted {
		t.Fatalf("final status %s", st.Status)
	}
	equal(t, "projected statuses", h.projectedStatuses(), []dsar.Status{
		dsar.StatusIdentityVerified, dsar.StatusInProgress, dsar.StatusReadyToClose, dsar.StatusCompleted,
	})
	equal(t, "mails", h.mailKinds(), []string{activities.MailAccepted, activities.MailCompleted})
	accepted := h.mails[0].Mail
	if h.mails[0].At != 0 || !accepted.Received.Equal(start) || !accepted.Deadline.Equal(h.in.Deadline) || !accepted.AddressUnverified {
		t.Errorf("accepted mail at %v: received %v, due %v, unverified %v; want at submission, the dates, no name",
			h.mails[0].At, accepted.Received, accepted.Deadline, accepted.AddressUnverified)
	}
	if !h.mails[1].Mail.AddressUnverified {
		t.Error("the closing mail to an address never confirmed carries the name typed")
	}
	equal(t, "audit", h.auditActions(), []string{dsar.AuditOptOutAccepted, dsar.AuditIdentityNotRequired,
		"request.data_sources_assigned", "task.completed", "request.completed", "request.pii_scrubbed"})
	equal(t, "mail audited", h.mailAudits(), []string{"mail.sent " + activities.MailAccepted, "mail.sent " + activities.MailCompleted})
	events := timelineEvents(st)
	if i := slices.Index(events, EventOptOutAccepted); i != 1 || events[2] != EventIdentityNotRequired ||
		st.Timeline[i].Detail != rule.Name {
		t.Errorf("timeline %v: want submitted, then accepted without email confirmation under %s, then identity not required", events, rule.Name)
	}
	if slices.Contains(events, EventExpired) || slices.Contains(events, EventVerificationRemind) {
		t.Errorf("timeline %v: an opt-out accepted at submission expired or was reminded of its link", events)
	}
	// In the queue at once: the org owners hear of it at submission, and
	// again 5 days later while no source is assigned.
	equal(t, "unassigned reminders", h.alertTimes(store.AlertNewRequest, store.AlertUnassigned), []time.Duration{0, 5 * day})
	// The accepted mail confirmed receipt: no alert that it is due.
	if len(h.alertTimes(store.AlertAcknowledgeDue)) != 0 {
		t.Error("staff alerted of an acknowledgement the accepted mail gave")
	}
	if ack := h.projections[len(h.projections)-1].AcknowledgedAt; ack == nil || !ack.Equal(start) {
		t.Errorf("projected acknowledged_at %v, want the submission", ack)
	}
}

// TestAcceptedOptOutLinkStillConfirms: opening the link of an opt-out
// accepted at submission records the address as confirmed and invites the
// requester to the portal; the request stays where it was, the org owners
// are not told of it again, and the unassigned reminders keep counting
// from the acceptance. Mail after it carries the name.
func TestAcceptedOptOutLinkStillConfirms(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestDoNotSell, start)
	var confirmed State
	h.at(2*day, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(2 * day)}})
	h.queryAt(2*day+time.Minute, &confirmed)
	h.at(6*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()

	if confirmed.Status != dsar.StatusIdentityVerified || confirmed.EmailVerifiedAt == nil || !confirmed.EmailVerifiedAt.Equal(start.Add(2*day)) {
		t.Errorf("after the link: status %s, email verified at %v; want identity_verified, verified on day 2", confirmed.Status, confirmed.EmailVerifiedAt)
	}
	if st.Status != dsar.StatusRejected {
		t.Errorf("final status %s", st.Status)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailAccepted, activities.MailPortalInvitation, activities.MailRejected})
	if h.mails[2].Mail.AddressUnverified {
		t.Error("the closing mail to a confirmed address leaves the name out")
	}
	if acts := h.auditActions(); !slices.Contains(acts, dsar.AuditEmailVerified) || slices.Contains(acts, dsar.AuditSignalIgnored) {
		t.Errorf("audit %v: want the confirmation recorded, nothing refused", acts)
	}
	if n := len(slices.DeleteFunc(timelineEvents(st), func(e string) bool { return e != EventIdentityNotRequired })); n != 1 {
		t.Errorf("identity recorded as not required %d times, want once", n)
	}
	equal(t, "unassigned reminders", h.alertTimes(store.AlertNewRequest, store.AlertUnassigned), []time.Duration{0, 5 * day})
}

// TestCaliforniaAccessStillNeedsConfirmation: a California access request
// is not on the opt-out track: it waits for the email, is reminded of it
// and expires when its link does.
func TestCaliforniaAccessStillNeedsConfirmation(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestInfo, start)
	st := h.run()
	if st.Status != dsar.StatusExpired || st.OptOutAcceptedAt != nil || st.ClosedAt == nil || !st.ClosedAt.Equal(start.Add(7*day)) {
		t.Errorf("status %s closed at %v, accepted at %v; want expired after 7 days", st.Status, st.ClosedAt, st.OptOutAcceptedAt)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailVerificationReminder})
	if len(h.alertTimes(store.AlertNewRequest)) != 0 {
		t.Error("staff told of a request whose email was never verified")
	}
}

// TestOptOutBeforeAcceptanceStillWaits: a California opt-out whose run
// started before versionOptOutAccepted keeps the old course: it waits for
// the email, is reminded of it, and expires unconfirmed.
func TestOptOutBeforeAcceptanceStillWaits(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, start)
	h.before(versionOptOutAccepted)
	st := h.run()
	if st.Status != dsar.StatusExpired || st.OptOutAcceptedAt != nil {
		t.Errorf("status %s, accepted at %v; want expired, never accepted", st.Status, st.OptOutAcceptedAt)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailVerificationReminder})
	equal(t, "audit", h.auditActions(), []string{dsar.AuditExpired, "request.pii_scrubbed"})
}

// TestAcceptedOptOutAddressCorrected: staff correct the mistyped address of
// an opt-out accepted at submission while it is unconfirmed: the
// correction is applied (the old links stop working), the request stays
// identity verified in the queue, and the corrected address is sent the
// notice that the request is acted on, under a key of its own (a new link),
// without the name. Once the requester confirmed the address it cannot be
// corrected, and the refusal says so.
func TestAcceptedOptOutAddressCorrected(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, start)
	var corrected State
	h.at(day, SignalEmailCorrected, EmailCorrection{Action: Action{ID: "fix", At: start.Add(day)}, By: staff})
	h.queryAt(day+time.Minute, &corrected)
	h.at(2*day, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(2 * day)}})
	h.at(3*day, SignalEmailCorrected, EmailCorrection{Action: Action{ID: "late", At: start.Add(3 * day)}, By: staff})
	h.at(4*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()

	if corrected.Status != dsar.StatusIdentityVerified || corrected.EmailVerifiedAt != nil || corrected.OptOutAcceptedAt == nil {
		t.Errorf("after the correction: status %s, email verified at %v, accepted at %v; want still identity_verified, unconfirmed",
			corrected.Status, corrected.EmailVerifiedAt, corrected.OptOutAcceptedAt)
	}
	if h.corrected != 1 {
		t.Errorf("the correction was applied %d times, want once", h.corrected)
	}
	equal(t, "projected statuses", slices.Compact(h.projectedStatuses()), []dsar.Status{dsar.StatusIdentityVerified, dsar.StatusRejected})
	equal(t, "mails", h.mailKinds(), []string{activities.MailAccepted, activities.MailAccepted, activities.MailPortalInvitation,
		activities.MailRejected})
	first, again := h.mails[0], h.mails[1]
	if again.At != day || again.Key == first.Key || !again.Mail.AddressUnverified || !again.Mail.Received.Equal(start) ||
		!again.Mail.Deadline.Equal(h.in.Deadline) {
		t.Errorf("the notice to the corrected address: %+v; want it at the correction, under a key of its own, no name, the same dates", again)
	}
	if o, ok := h.answer("fix"); !ok || !o.Applied {
		t.Errorf("the correction's answer: %+v (%v), want applied", o, ok)
	}
	if o, ok := h.answer("late"); !ok || o.Applied || o.Code != dsar.ECONFLICT || !strings.Contains(o.Reason, "it was confirmed") {
		t.Errorf("a correction after the confirmation: %+v (%v), want refused as confirmed", o, ok)
	}
	events := timelineEvents(st)
	if i := slices.Index(events, EventEmailCorrected); i < 0 || !slices.Contains(events[i:], EventAcceptedResent) ||
		slices.Contains(events, EventVerificationSent) {
		t.Errorf("timeline %v: want the correction, then the notice sent to the corrected address, and no verification mail", events)
	}
	if acts := h.auditActions(); !slices.Contains(acts, dsar.AuditEmailCorrected) {
		t.Errorf("audit %v: the correction is not in it", acts)
	}
}

// TestAcceptedOptOutCorrectionBeforeTheChange: a run started before
// versionOptOutCorrection refuses the correction of an accepted opt-out's
// address, saying why; nothing is applied and no mail goes.
func TestAcceptedOptOutCorrectionBeforeTheChange(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, start)
	h.before(versionOptOutCorrection)
	h.at(day, SignalEmailCorrected, EmailCorrection{Action: Action{ID: "fix", At: start.Add(day)}, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()

	if h.corrected != 0 {
		t.Errorf("the correction was applied %d times on a run before the change", h.corrected)
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailAccepted, activities.MailRejected})
	if o, ok := h.answer("fix"); !ok || o.Applied || o.Reason != dsar.ErrorMessage(errBeforeOptOutCorrection) {
		t.Errorf("the correction's answer: %+v (%v), want refused as before the change", o, ok)
	}
}

// TestAcceptedOptOutCorrectionConfirmsReceipt: the accepted notice to a
// mistyped address fails (the provider down for its day of retries); the
// notice sent again to the corrected address confirms receipt, so the
// rule's acknowledgement deadline raises no alert.
func TestAcceptedOptOutCorrectionConfirmsReceipt(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, start)
	h.mailDown = []window{{0, 36 * time.Hour}}
	h.at(2*day, SignalEmailCorrected, EmailCorrection{Action: Action{ID: "fix", At: start.Add(2 * day)}, By: staff})
	h.at(20*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()

	if st.AcknowledgedAt == nil || st.AcknowledgedAt.Before(start.Add(2*day)) {
		t.Errorf("acknowledged at %v, want when the notice reached the corrected address", st.AcknowledgedAt)
	}
	for _, al := range h.alerts {
		if al.What == store.AlertAcknowledgeDue {
			t.Errorf("a %s alert at %v although the corrected address was told", al.What, al.At)
		}
	}
	if kinds := h.mailKinds(); len(kinds) == 0 || kinds[0] != activities.MailAccepted {
		t.Errorf("mails %v, want the accepted notice (to the corrected address) first", kinds)
	}
}
