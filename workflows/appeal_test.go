package workflows

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// The second staff member: the one who decides an appeal of staff's
// decision.
const reviewer = "5d1f9b8e-0000-4000-8000-000000000002"

// appealHarness is the request harness under a rule (Virginia's by
// default), with the appeal's workflow registered and the contact
// details' activities recorded.
type appealHarness struct {
	*harness
	kept         []time.Time     // ScrubKeepingContact: until when, per call
	keptAt       []time.Duration // and when
	shreddedAt   []time.Duration // ShredContact calls
	appealWrites []store.AppealProjection
	reopened     int
}

func newAppealHarness(t *testing.T, region string) *appealHarness {
	h := &appealHarness{harness: newHarness(t)}
	country := "US"
	if region == "" {
		country = "DE"
	}
	rule, ok := dsar.DefaultRules.Match(country, region)
	if !ok {
		t.Fatalf("no shipped rule for %s %s", country, region)
	}
	h.in.Country, h.in.Region, h.in.DeadlineRule, h.in.Rule = country, region, rule.ID, &rule
	h.in.Deadline = rule.Due(h.in.RequestType, start, dsar.Workdays{})
	h.env.RegisterWorkflowWithOptions(Appeal, workflow.RegisterOptions{Name: AppealWorkflowName})
	now := func() time.Duration { return h.env.Now().Sub(start) }
	h.env.OnActivity(a.ScrubKeepingContact, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ string, until time.Time) error {
			h.kept, h.keptAt = append(h.kept, until), append(h.keptAt, now())
			return nil
		})
	h.env.OnActivity(a.ShredContact, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error { h.shreddedAt = append(h.shreddedAt, now()); return nil })
	h.env.OnActivity(a.ProjectAppeal, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p store.AppealProjection) error {
			h.appealWrites = append(h.appealWrites, p)
			return nil
		})
	h.env.OnActivity(a.ReopenRequest, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error { h.reopened++; return nil })
	return h
}

// appealAt files the requester's appeal at offset d.
func (h *appealHarness) appealAt(d time.Duration) {
	h.at(d, SignalAppealFiled, AppealFiling{Action: Action{ID: "appeal-" + d.String(), At: start.Add(d)}})
}

// decideAt sends staff member by's decision on the appeal at offset d.
func (h *appealHarness) decideAt(d time.Duration, id string, outcome dsar.AppealStatus, by string) {
	h.env.RegisterDelayedCallback(func() {
		err := h.env.SignalWorkflowByID(AppealWorkflowID(h.in.RequestID), SignalAppealDecided, AppealDecision{
			Action:  Action{ID: id, At: start.Add(d), RequestID: h.in.RequestID},
			Outcome: outcome, Explanation: "We checked again: " + string(outcome) + ".", By: by})
		if err != nil {
			h.Errorf("signal the appeal: %v", err)
		}
	}, d)
}

// answers lists the recorded answers to the appeal's decisions, as
// "action id: applied" or "action id: code".
func (h *appealHarness) answers() []string {
	var out []string
	for _, p := range h.appealWrites {
		for _, o := range p.Actions {
			if o.Applied {
				out = append(out, o.ActionID+": applied")
			} else {
				out = append(out, o.ActionID+": "+o.Code)
			}
		}
	}
	return out
}

func (h *appealHarness) mail(kind string) (seen, bool) {
	for _, m := range h.mails {
		if m.What == kind {
			return m, true
		}
	}
	return seen{}, false
}

// TestVirginiaRejectionAppealedAndUpheld: a Virginia rejection tells the
// requester they may appeal for 60 days; erasing at close keeps only
// their name and email; their appeal, filed on day 10, is its own
// workflow, due 60 days later; the request's decider may not decide it;
// another staff member upholds it on day 30 within its deadline; the
// decision mail names the attorney general's complaint contact; the
// contact details are shredded once the window has passed (day 62), and
// the workflow ends.
func TestVirginiaRejectionAppealedAndUpheld(t *testing.T) {
	h := newAppealHarness(t, "US-VA")
	h.verifyAndAssign(crm)
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectManifestlyUnfounded}, By: staff})
	h.appealAt(10 * day)
	var during State
	h.queryAt(11*day, &during)
	appealID := ""
	h.env.RegisterDelayedCallback(func() { appealID = during.Appeal.ID }, 11*day+time.Minute)
	h.decideAt(20*day, "by-the-decider", dsar.AppealUpheld, staff)
	h.decideAt(30*day, "by-the-reviewer", dsar.AppealUpheld, reviewer)
	st := h.run()

	closedAt := start.Add(2 * day)
	wantUntil := closedAt.AddDate(0, 0, 60)
	if st.Status != dsar.StatusRejected || st.AppealUntil == nil || !st.AppealUntil.Equal(wantUntil) || st.Decision != staff {
		t.Fatalf("closed as %s, appeal until %v, decided by %q", st.Status, st.AppealUntil, st.Decision)
	}
	rejection, ok := h.mail(activities.MailRejected)
	if !ok || rejection.Mail.AppealUntil == nil || !rejection.Mail.AppealUntil.Equal(wantUntil) {
		t.Fatalf("the rejection mail does not say until when to appeal: %+v", rejection.Mail.AppealUntil)
	}
	equal(t, "contact kept until", h.kept, []time.Time{wantUntil})
	if h.scrubbed != 0 {
		t.Errorf("the erasure at close ran as without an appeal right (%d)", h.scrubbed)
	}
	if during.Appeal == nil || during.Appeal.Status != dsar.AppealOpen || !during.Appeal.Deadline.Equal(start.Add(10*day).AddDate(0, 0, 60)) {
		t.Fatalf("appeal while open: %+v", during.Appeal)
	}
	equal(t, "answers to the decisions", h.answers(), []string{"by-the-decider: " + dsar.EFORBIDDEN, "by-the-reviewer: applied"})
	ap := st.Appeal
	if ap == nil || ap.ID != appealID || ap.Status != dsar.AppealUpheld || ap.DecidedBy != reviewer || ap.DecidedAt == nil ||
		!ap.DecidedAt.Equal(start.Add(30*day)) {
		t.Fatalf("appeal at the end: %+v", ap)
	}
	decision, ok := h.mail(activities.MailAppealDecided)
	if !ok || decision.Mail.Appeal == nil || !decision.Mail.Appeal.Upheld ||
		decision.Mail.Appeal.Authority != "Virginia Office of the Attorney General" || decision.Mail.Appeal.AuthorityContact == "" {
		t.Fatalf("decision mail: %+v", decision.Mail.Appeal)
	}
	if decision.At != 30*day {
		t.Errorf("decision mailed at %v, want day 30", decision.At)
	}
	equal(t, "contact shredded at", h.shreddedAt, []time.Duration{62 * day})
	equal(t, "appeal alerts", h.alertTimes(store.AlertAppealFiled, store.AlertAppealWarning, store.AlertAppealOverdue),
		[]time.Duration{10 * day})
	for _, want := range []string{dsar.AuditAppealFiled, dsar.AuditSignalIgnored, dsar.AuditAppealDecided, dsar.AuditContactShredded} {
		if !slices.Contains(h.auditActions(), want) {
			t.Errorf("no %s in the audit trail: %v", want, h.auditActions())
		}
	}
	if last := h.projections[len(h.projections)-1]; last.Appeal == nil || last.Appeal.Status != dsar.AppealUpheld || last.AppealUntil == nil {
		t.Errorf("the last projection lacks the appeal: %+v", last.Appeal)
	}
}

// TestAppealOpenAtWindowEndKeepsContactUntilDecided: an appeal still open
// when the window ends keeps the contact details until its decision is
// mailed; its deadline brings a warning and then overdue alerts.
func TestAppealOpenAtWindowEndKeepsContactUntilDecided(t *testing.T) {
	h := newAppealHarness(t, "US-VA")
	h.verifyAndAssign(crm)
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectManifestlyUnfounded}, By: staff})
	h.appealAt(50 * day)                                                  // due day 110
	h.decideAt(111*day+12*time.Hour, "late", dsar.AppealUpheld, reviewer) // a day and a half late
	h.run()
	equal(t, "contact shredded at", h.shreddedAt, []time.Duration{111*day + 12*time.Hour})
	equal(t, "appeal alerts", h.alertTimes(store.AlertAppealWarning, store.AlertAppealOverdue),
		[]time.Duration{105 * day, 110 * day, 111 * day})
	if !slices.Contains(h.auditActions(), dsar.AuditAppealOverdue) {
		t.Errorf("no %s in the audit trail", dsar.AuditAppealOverdue)
	}
}

// TestReversedAppealReopensTheRequest: a reversed appeal reopens the
// request: back in progress, due the rule's 45 days from the decision,
// its task open again for its owner (alerted as for a new request), a
// data key for its files; its next close erases everything, the contact
// details included, with no second appeal.
func TestReversedAppealReopensTheRequest(t *testing.T) {
	h := newAppealHarness(t, "US-VA")
	h.verifyAndAssign(crm)
	h.at(2*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskNotApplicable, By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	h.appealAt(5 * day)
	h.decideAt(9*day, "reverse", dsar.AppealReversed, reviewer)
	var reopened State
	h.queryAt(9*day+time.Hour, &reopened)
	h.at(12*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskErased, By: staff})
	h.at(13*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()

	if reopened.Status != dsar.StatusInProgress || !reopened.Deadline.Equal(start.Add(9*day).AddDate(0, 0, 45)) ||
		reopened.ClosedAt != nil || reopened.Overdue || reopened.AppealUntil != nil {
		t.Fatalf("reopened: %s due %s closed %v appeal until %v", reopened.Status, reopened.Deadline, reopened.ClosedAt, reopened.AppealUntil)
	}
	if tk := reopened.Tasks[0]; tk.Status != TaskOpen || tk.CompletedAt != nil || tk.Outcome != "" {
		t.Errorf("task after reopening: %+v", tk)
	}
	if h.reopened != 1 {
		t.Errorf("data key for the reopened request: %d", h.reopened)
	}
	var reopenAlerts []string
	for _, s := range h.alerts {
		if s.At == 9*day {
			reopenAlerts = append(reopenAlerts, s.What)
		}
	}
	equal(t, "alerts at reopening", reopenAlerts, []string{store.AlertNewRequest, store.AlertTaskAssigned})
	decision, _ := h.mail(activities.MailAppealDecided)
	if decision.Mail.Appeal == nil || decision.Mail.Appeal.Upheld || !decision.Mail.Deadline.Equal(reopened.Deadline) {
		t.Errorf("the reversal's mail: %+v due %s", decision.Mail.Appeal, decision.Mail.Deadline)
	}
	if st.Status != dsar.StatusCompleted || st.AppealUntil != nil || st.Appeal.Status != dsar.AppealReversed {
		t.Fatalf("end: %s, appeal until %v, appeal %+v", st.Status, st.AppealUntil, st.Appeal)
	}
	equal(t, "kept at", h.keptAt, []time.Duration{3 * day})
	equal(t, "scrubbed at", h.scrubbedAt, []time.Duration{13 * day})
	equal(t, "shredded at", h.shreddedAt, []time.Duration{13 * day})
	if !slices.Contains(h.auditActions(), dsar.AuditRequestReopened) {
		t.Errorf("no %s in the audit trail", dsar.AuditRequestReopened)
	}
	if m := h.mails[len(h.mails)-1]; m.What != activities.MailCompleted || m.Mail.AppealUntil != nil {
		t.Errorf("the second closing mail offers another appeal: %+v", m)
	}
}

// TestAppealAfterTheWindowIsRefused: the window ends 60 days after the
// rejection: the contact details are shredded then and the workflow ends;
// an appeal acted on after the window is refused even when it reaches the
// workflow before its timer.
func TestAppealAfterTheWindowIsRefused(t *testing.T) {
	h := newAppealHarness(t, "US-VA")
	h.verifyAndAssign()
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectManifestlyUnfounded}, By: staff})
	late := start.Add(2*day).AddDate(0, 0, 60).Add(time.Minute)
	h.at(61*day, SignalAppealFiled, AppealFiling{Action: Action{ID: "late", At: late}})
	st := h.run()
	if st.Appeal != nil {
		t.Fatalf("a late appeal was taken: %+v", st.Appeal)
	}
	equal(t, "contact shredded at", h.shreddedAt, []time.Duration{62 * day})
	refused := false
	for _, p := range h.projections {
		for _, o := range p.Actions {
			if o.ActionID == "late" && !o.Applied && o.Code == dsar.ECONFLICT {
				refused = true
			}
		}
	}
	if !refused {
		t.Error("the late appeal got no refusal")
	}
	if h.env.Now().Sub(start) != 62*day {
		t.Errorf("the workflow ended at %v, want at the window's end", h.env.Now().Sub(start))
	}
}

// TestNoAppealRightErasesAtClose: under a rule without an appeal right
// (GDPR), a rejection erases the contact details with the rest at close,
// as before, its mail offers no appeal and the workflow ends; an appeal
// is refused by the state.
func TestNoAppealRightErasesAtClose(t *testing.T) {
	h := newAppealHarness(t, "")
	h.verifyAndAssign()
	h.at(2*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectManifestlyUnfounded}, By: staff})
	st := h.run()
	if st.AppealUntil != nil || st.ContactKept || len(h.kept) != 0 || len(h.shreddedAt) != 0 {
		t.Fatalf("appeal until %v, kept %v, shredded %v", st.AppealUntil, h.kept, h.shreddedAt)
	}
	equal(t, "scrubbed at", h.scrubbedAt, []time.Duration{2 * day})
	if m, _ := h.mail(activities.MailRejected); m.Mail.AppealUntil != nil {
		t.Error("the rejection mail offers an appeal")
	}
	if h.env.Now().Sub(start) != 2*day {
		t.Errorf("the workflow ended at %v, not at close", h.env.Now().Sub(start))
	}
	if err := st.Allows(SignalAppealFiled, AppealFiling{}); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("an appeal without the right: %v", err)
	}
}

// TestFullCompletionIsNotAppealable: a Virginia request completed in full
// (no task not applicable) offers no appeal and erases everything at
// close.
func TestFullCompletionIsNotAppealable(t *testing.T) {
	h := newAppealHarness(t, "US-VA")
	h.verifyAndAssign(crm)
	h.at(2*day, SignalTaskCompleted, TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskErased, By: staff})
	h.at(3*day, SignalRequestClosed, Closure{Outcome: OutcomeCompleted, By: staff})
	st := h.run()
	if st.AppealUntil != nil || len(h.kept) != 0 {
		t.Fatalf("a full completion is appealable until %v", st.AppealUntil)
	}
	equal(t, "scrubbed at", h.scrubbedAt, []time.Duration{3 * day})
}

// TestAppealDecisionRules: the decision's own checks, which the API and
// the appeal's workflow share.
func TestAppealDecisionRules(t *testing.T) {
	d := AppealDecision{Outcome: dsar.AppealUpheld, Explanation: "It stands.", By: reviewer}
	for _, c := range []struct {
		name    string
		status  dsar.AppealStatus
		decider string
		change  func(*AppealDecision)
		want    string
	}{
		{"fine", dsar.AppealOpen, staff, nil, ""},
		{"decided", dsar.AppealUpheld, staff, nil, dsar.ECONFLICT},
		{"the decider", dsar.AppealOpen, reviewer, nil, dsar.EFORBIDDEN},
		{"no outcome", dsar.AppealOpen, staff, func(d *AppealDecision) { d.Outcome = "" }, dsar.EINVALID},
		{"open is no outcome", dsar.AppealOpen, staff, func(d *AppealDecision) { d.Outcome = dsar.AppealOpen }, dsar.EINVALID},
		{"no explanation", dsar.AppealOpen, staff, func(d *AppealDecision) { d.Explanation = "  " }, dsar.EINVALID},
	} {
		dd := d
		if c.change != nil {
			c.change(&dd)
		}
		if got := dsar.ErrorCode(AllowsAppealDecision(c.status, c.decider, dd)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
