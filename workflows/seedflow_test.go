package workflows

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// TestWithdrawnByTheRequester: an open request withdrawn from the portal
// closes as withdrawn at once; staff and the owners of open tasks are told,
// the requester gets a confirmation, the PII is erased and a later staff
// action is refused.
func TestWithdrawnByTheRequester(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(2*day, SignalWithdrawn, Withdrawal{Action: Action{ID: "w-1"}})
	h.at(2*day, SignalTaskCompleted, TaskCompletion{Action: Action{ID: "late", At: start.Add(2*day + time.Minute)}, DataSourceID: mail, By: staff})
	st := h.run()

	if st.Status != dsar.StatusWithdrawn || st.ClosedAt == nil || !st.ClosedAt.Equal(start.Add(2*day)) {
		t.Fatalf("final state: %s closed at %v", st.Status, st.ClosedAt)
	}
	if h.scrubbed != 1 {
		t.Errorf("the PII was scrubbed %d times, want once", h.scrubbed)
	}
	if !slices.Contains(h.mailKinds(), activities.MailWithdrawn) {
		t.Errorf("no withdrawal confirmation: mails %v", h.mailKinds())
	}
	i := slices.IndexFunc(h.alerts, func(s seen) bool { return s.What == store.AlertWithdrawn })
	if i < 0 || !h.alerts[i].Alert.OrgOwners || !slices.Equal(h.alerts[i].Alert.DataSourceIDs, []string{mail}) {
		t.Fatalf("withdrawal alert: %+v", h.alerts)
	}
	var withdrawn *store.Audit
	for k := range h.audits {
		if h.audits[k].Action == dsar.AuditWithdrawn {
			withdrawn = &h.audits[k]
		}
	}
	if withdrawn == nil || withdrawn.ActorKind != store.ActorRequester {
		t.Fatalf("the withdrawal is not audited as the requester's: %+v", withdrawn)
	}
	last := h.projections[len(h.projections)-1]
	var refused bool
	for _, p := range h.projections {
		for _, o := range p.Actions {
			if o.ActionID == "late" && !o.Applied {
				refused = true
			}
		}
	}
	if !refused || last.Status != dsar.StatusWithdrawn || last.CloseNote != "" {
		t.Errorf("late action refused %v; last projection %s note %q", refused, last.Status, last.CloseNote)
	}
}

// TestDeclinedTaskGoesBackAndIsReassigned: a declined task holds the
// request back from ready_to_close and alerts its handler; reassigned to
// one person it is open again, they alone get its alerts, and once it is
// done the request is ready, with an alert saying so.
func TestDeclinedTaskGoesBackAndIsReassigned(t *testing.T) {
	const owner2 = "5d1f9b8e-0000-4000-8000-000000000002"
	h := newHarness(t)
	h.verifyAndAssign(crm, mail)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff, Outcome: dsar.TaskNoData})
	h.at(day+time.Hour, SignalTaskDeclined, TaskDecline{DataSourceID: mail, Reason: "the newsletter list is in the CRM", By: staff})
	var afterDecline State
	h.queryAt(day+2*time.Hour, &afterDecline)
	h.at(2*day, SignalTaskReassigned, TaskReassignment{DataSourceID: mail, UserID: owner2, By: staff})
	// No completion: the task stalls and its reminder goes to owner2 alone.
	count := int64(12)
	h.at(9*day, SignalTaskCompleted, TaskCompletion{DataSourceID: mail, By: owner2, Outcome: dsar.TaskErased, RecordCount: &count})
	h.at(10*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if afterDecline.Status != dsar.StatusInProgress || afterDecline.OpenTasks() != 1 {
		t.Errorf("after the decline: %s with %d open", afterDecline.Status, afterDecline.OpenTasks())
	}
	if tk, _ := afterDecline.Task(mail); tk.Status != TaskDeclined || tk.DeclineReason == "" {
		t.Errorf("declined task: %+v", tk)
	}
	if st.Status != dsar.StatusCompleted {
		t.Fatalf("final status %s", st.Status)
	}
	tk, _ := st.Task(mail)
	if tk.Outcome != dsar.TaskErased || tk.RecordCount == nil || *tk.RecordCount != 12 || tk.AssigneeID != owner2 || tk.DeclineReason != "" {
		t.Errorf("the reassigned task ended as %+v", tk)
	}
	if tk, _ := st.Task(crm); tk.Outcome != dsar.TaskNoData {
		t.Errorf("crm's outcome %q", tk.Outcome)
	}
	kinds := func(kind string) []activities.AlertRequest {
		var out []activities.AlertRequest
		for _, s := range h.alerts {
			if s.What == kind {
				out = append(out, s.Alert)
			}
		}
		return out
	}
	if d := kinds(store.AlertTaskDeclined); len(d) != 1 || !d[0].OrgOwners {
		t.Errorf("declined alerts: %+v", d)
	}
	// Who hears of the reassigned task is the store's to resolve (the
	// projected task names its assignee); the workflow names the task.
	var reassigned bool
	for _, a := range kinds(store.AlertTaskAssigned) {
		if strings.HasPrefix(a.Key, "reassigned-") && slices.Equal(a.DataSourceIDs, []string{mail}) {
			reassigned = true
		}
	}
	if !reassigned {
		t.Errorf("no assignment alert for the reassigned task: %+v", kinds(store.AlertTaskAssigned))
	}
	if len(kinds(store.AlertTaskStalled)) == 0 {
		t.Error("the reassigned task never stalled")
	}
	if tk := h.projections[len(h.projections)-1].Tasks; len(tk) != 2 || tk[1].AssigneeID != owner2 {
		t.Errorf("projected tasks %+v: the assignee is not projected", tk)
	}
	if r := kinds(store.AlertReadyToComplete); len(r) != 1 || !r[0].OrgOwners {
		t.Errorf("ready-to-complete alerts: %+v", r)
	}
	var detail map[string]any
	for _, a := range h.audits {
		if a.Action == dsar.AuditTaskCompleted && a.Detail["data_source_id"] == mail {
			detail = a.Detail
		}
	}
	if detail["outcome"] != string(dsar.TaskErased) || detail["record_count"] != int64(12) {
		t.Errorf("the completion's audit detail: %v", detail)
	}
}

// TestDeclineNeedsAReason: the contract refuses a decline without a
// reason, a reassignment without a person, and an unknown outcome.
func TestDeclineNeedsAReason(t *testing.T) {
	st := State{Status: dsar.StatusInProgress, Tasks: []TaskState{{DataSourceID: crm, Status: TaskOpen}}}
	for _, c := range []struct {
		signal string
		p      any
		field  string
	}{
		{SignalTaskDeclined, TaskDecline{DataSourceID: crm, Reason: "  "}, "reason"},
		{SignalTaskReassigned, TaskReassignment{DataSourceID: crm}, "user_id"},
		{SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Outcome: "shredded"}, "outcome"},
	} {
		err := st.Allows(c.signal, c.p)
		var de *dsar.Error
		if !errors.As(err, &de) || de.Code != dsar.EINVALID || de.Fields[c.field] == "" {
			t.Errorf("%s %+v: %v, want EINVALID naming %s", c.signal, c.p, err, c.field)
		}
	}
}

// TestEmailCorrectedSendsANewLink: a corrected address gets a new
// verification link and the expiry counts from the correction.
func TestEmailCorrectedSendsANewLink(t *testing.T) {
	h := newHarness(t)
	h.at(3*day, SignalEmailCorrected, EmailCorrection{By: staff})
	st := h.run() // never verified: expires

	var verifications []seen
	for _, m := range h.mails {
		if m.What == activities.MailVerification {
			verifications = append(verifications, m)
		}
	}
	if len(verifications) != 2 || verifications[1].At != 3*day || verifications[1].Key == verifications[0].Key {
		t.Fatalf("verification mails: %+v", verifications)
	}
	if h.corrected != 1 {
		t.Errorf("the correction was applied %d times, want once before the new link", h.corrected)
	}
	// The reminder to the corrected address carries a link of its own (its
	// key makes its token): the first reminder's was voided with the old
	// address.
	var reminders []seen
	for _, m := range h.mails {
		if m.What == activities.MailVerificationReminder {
			reminders = append(reminders, m)
		}
	}
	if len(reminders) != 2 || reminders[1].At != 4*day || reminders[1].Key == reminders[0].Key {
		t.Errorf("reminders: %+v, want a second one a day after the correction under a key of its own", reminders)
	}
	if st.Status != dsar.StatusExpired || !st.ClosedAt.Equal(start.Add(3*day+h.in.Periods.VerificationExpiry)) {
		t.Errorf("expired %s at %v, want 7 days after the correction", st.Status, st.ClosedAt)
	}
}

// TestManualIntakeWithIdentityChecked: a request staff recorded with
// identity checked another way starts identity-verified, with their note:
// no verification link, a portal invitation, and it never expires for a
// link nobody sends.
func TestManualIntakeWithIdentityChecked(t *testing.T) {
	h := newHarness(t)
	h.in.Manual = &ManualIntake{Channel: dsar.ChannelPhone, RecordedBy: staff, IdentityChecked: true, IdentityNote: "called back on the number on file"}
	h.at(10*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectDuplicate}, By: staff})
	st := h.run()
	equal(t, "projected statuses", h.projectedStatuses(), []dsar.Status{dsar.StatusIdentityVerified, dsar.StatusRejected})
	equal(t, "mails", h.mailKinds(), []string{activities.MailPortalInvitation, activities.MailRejected})
	if st.Status != dsar.StatusRejected || st.EmailVerifiedAt == nil || !st.EmailVerifiedAt.Equal(start) {
		t.Errorf("ended %s, email verified at %v", st.Status, st.EmailVerifiedAt)
	}
	i := slices.IndexFunc(h.projections, func(p store.Projection) bool { return p.Status == dsar.StatusIdentityVerified })
	p := h.projections[i]
	if p.IdentityVerified == nil || !*p.IdentityVerified || p.IdentityNote != "called back on the number on file" {
		t.Errorf("identity: %v note %q", p.IdentityVerified, p.IdentityNote)
	}
	if !slices.Contains(h.auditActions(), dsar.AuditIdentityVerified) {
		t.Errorf("audit: %v", h.auditActions())
	}
}

// TestClosingMailSentAgain: the completion mail fails for a day; the
// request keeps the address, staff are alerted, another action meanwhile
// is refused, and the mail sent again once asked is delivered before the
// erasure.
func TestClosingMailSentAgain(t *testing.T) {
	h := newHarness(t)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.mailDown = []window{{2 * day, 3*day + time.Hour}} // longer than the mail's day of retries
	var held State
	h.queryAt(3*day+2*time.Hour, &held)
	h.at(3*day+3*time.Hour, SignalDeadlineExtended, Extension{Action: Action{ID: "ext"}, Days: 1, Reason: "x", By: staff})
	h.at(4*day, SignalMailResent, MailResend{Action: Action{ID: "again"}, By: staff})
	st := h.run()

	if !held.ClosingMailFailed || held.Status != dsar.StatusCompleted {
		t.Fatalf("while the mail failed: %s, closing mail failed %v", held.Status, held.ClosingMailFailed)
	}
	if st.ClosingMailFailed || h.scrubbed != 1 {
		t.Fatalf("at the end: closing mail failed %v, scrubbed %d", st.ClosingMailFailed, h.scrubbed)
	}
	var sent []time.Duration
	for _, m := range h.mails {
		if m.What == activities.MailCompleted {
			sent = append(sent, m.At)
		}
	}
	if len(sent) != 1 || sent[0] != 4*day {
		t.Fatalf("completion mail delivered at %v, want once at 4 days", sent)
	}
	equal(t, "mail records", h.mailAudits()[2:], []string{"mail.failed " + activities.MailCompleted, "mail.sent " + activities.MailCompleted})
	if a := h.alertTimes(store.AlertMailFailed); len(a) != 1 {
		t.Errorf("mail-failed alerts at %v, want one", a)
	}
	var applied, refused bool
	for _, p := range h.projections {
		for _, o := range p.Actions {
			applied = applied || (o.ActionID == "again" && o.Applied)
			refused = refused || (o.ActionID == "ext" && !o.Applied)
		}
	}
	if !applied || !refused {
		t.Errorf("resend applied %v, extension refused %v", applied, refused)
	}
}

// TestClosingMailGivenUp: nobody sends the failed closing mail again; the
// address is erased once the window ends, and the history says the
// requester was not told.
func TestClosingMailGivenUp(t *testing.T) {
	h := newHarness(t)
	h.in.Periods.MailResendWindow = 3 * day
	h.at(time.Hour, SignalEmailVerified, EmailVerified{})
	h.at(2*time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectDuplicate}, By: staff})
	h.mailDown = []window{{2 * time.Hour, 30 * day}}
	st := h.run()
	if h.scrubbed != 1 || st.ClosingMailFailed {
		t.Fatalf("scrubbed %d, closing mail failed %v", h.scrubbed, st.ClosingMailFailed)
	}
	var gaveUp bool
	for _, e := range st.Timeline {
		gaveUp = gaveUp || e.Event == EventMailNotResent
	}
	if !gaveUp {
		t.Errorf("the timeline does not say the mail was given up: %+v", st.Timeline)
	}
	// Erased when the window ended: a day of retries, then three days.
	end := h.env.Now().Sub(start)
	if end < 4*day || end > 4*day+3*time.Hour {
		t.Errorf("erased at %v, want about 4 days after submission", end)
	}
}

// TestManualIntakeReceivedLongAgo: a request received ten days before
// staff recorded it keeps its deadline from receipt, but the requester's
// verification link, reminder and expiry count from the recording.
func TestManualIntakeReceivedLongAgo(t *testing.T) {
	h := newHarness(t)
	h.in.SubmittedAt = start.Add(-10 * day)
	h.in.Deadline = h.in.SubmittedAt.Add(30 * day)
	h.in.Manual = &ManualIntake{Channel: dsar.ChannelMail, RecordedBy: staff}
	st := h.run() // never verified
	var reminder time.Duration = -1
	for _, m := range h.mails {
		if m.What == activities.MailVerificationReminder {
			reminder = m.At
		}
	}
	if reminder != day {
		t.Errorf("the reminder went at %v, want a day after the recording", reminder)
	}
	if st.Status != dsar.StatusExpired || !st.ClosedAt.Equal(start.Add(7*day)) {
		t.Errorf("%s at %v, want expired seven days after the recording", st.Status, st.ClosedAt)
	}
	if !st.Deadline.Equal(start.Add(20 * day)) {
		t.Errorf("deadline %v, want 30 days from receipt", st.Deadline)
	}
}

// TestRunBeforeSeedFlowRefusesTheNewSteps: a run started before the change
// refuses a withdrawal and a decline with a reason the API shows, raises
// no ready-to-complete alert, and does not hold its closing mail.
func TestRunBeforeSeedFlowRefusesTheNewSteps(t *testing.T) {
	h := newHarness(t)
	h.before(versionSeedFlow)
	h.verifyAndAssign(crm)
	h.at(day, SignalTaskDeclined, TaskDecline{Action: Action{ID: "decline"}, DataSourceID: crm, Reason: "not ours", By: staff})
	h.at(day+time.Hour, SignalWithdrawn, Withdrawal{Action: Action{ID: "withdraw"}})
	h.at(2*day-time.Hour, SignalTaskCompleted, TaskCompletion{Action: Action{ID: "outcome"}, DataSourceID: crm, By: staff, Outcome: dsar.TaskErased})
	h.at(2*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.mailDown = []window{{3 * day, 5 * day}}
	st := h.run()

	if st.Status != dsar.StatusCompleted || h.scrubbed != 1 {
		t.Fatalf("ended %s, scrubbed %d", st.Status, h.scrubbed)
	}
	refused := map[string]string{}
	for _, p := range h.projections {
		for _, o := range p.Actions {
			if !o.Applied {
				refused[o.ActionID] = o.Reason
			}
		}
	}
	for _, id := range []string{"decline", "withdraw"} {
		if !strings.Contains(refused[id], "before the action existed") {
			t.Errorf("action %s: refused with %q", id, refused[id])
		}
	}
	if !strings.Contains(refused["outcome"], "without an outcome") {
		t.Errorf("a completion with an outcome on an old run: refused with %q", refused["outcome"])
	}
	if a := h.alertTimes(store.AlertReadyToComplete, store.AlertMailFailed); len(a) != 0 {
		t.Errorf("alerts of the new steps on an old run at %v", a)
	}
	// The failed completion mail is not held: the erasure follows the
	// day of retries.
	if end := h.env.Now().Sub(start); end > 4*day+time.Hour {
		t.Errorf("erased at %v, want right after the mail's day of retries", end)
	}
}
