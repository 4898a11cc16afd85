package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/holidays"
	"github.com/opendsar/dsar/store"
)

// ruleHarness is a harness for a request under one of the shipped rules,
// of type t, received at received: the input intake gives it (the rule's
// deadline with its holidays from the date of receipt in its zone).
func ruleHarness(tb testing.TB, ruleID string, t dsar.RequestType, received time.Time) (*harness, dsar.Rule) {
	tb.Helper()
	i := slices.IndexFunc(dsar.DefaultRules, func(r dsar.Rule) bool { return r.ID == ruleID })
	if i < 0 {
		tb.Fatalf("no shipped rule %s", ruleID)
	}
	rule := dsar.DefaultRules[i]
	h := newHarness(tb)
	h.env.SetStartTime(received)
	days, err := rule.Workdays(nil)
	if err != nil {
		tb.Fatal(err)
	}
	from := days.Local(received)
	days.Holidays = holidays.Between(rule.Calendar, from, from.AddDate(3, 0, 0))
	h.in.RequestType, h.in.SubmittedAt, h.in.DeadlineRule = t, received, rule.ID
	h.in.Deadline, h.in.MaxExtension = rule.Due(t, received, days), rule.Extension
	h.in.Rule, h.in.Holidays = &rule, days.Holidays
	return h, rule
}

// abs is the time of an activity the harness saw.
func abs(d time.Duration) time.Time { return start.Add(d) }

func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// TestCaliforniaOptOutAcrossThanksgiving: a California opt-out received on
// the Wednesday before Thanksgiving is due in 15 business days, which skip
// Thanksgiving and the day after (California state holidays) and the
// weekends: Friday 18 December. Once the email is verified no identity is
// asked for (the law forbids it), the acknowledgement goes out at once, and
// the overdue alert comes on the 18th, not before. (A run started before
// versionOptOutAccepted, which waited for the email: optout_test.go has
// the opt-out accepted at submission.)
func TestCaliforniaOptOutAcrossThanksgiving(t *testing.T) {
	received := time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, received)
	h.before(versionOptOutAccepted)
	due := time.Date(2026, time.December, 18, 10, 0, 0, 0, time.UTC)
	if !h.in.Deadline.Equal(due) {
		t.Fatalf("intake's deadline %v, want %v", h.in.Deadline, due)
	}
	var verified State
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: received.Add(time.Hour)}})
	h.queryAt(90*time.Minute, &verified)
	h.at(2*time.Hour, SignalSourcesAssigned, Assignment{DataSourceIDs: []string{crm}, By: staff})
	h.at(25*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()

	if verified.Status != dsar.StatusIdentityVerified || !verified.IdentityNotRequired || verified.IdentityVerified != nil {
		t.Errorf("after verifying the email: status %s, identity not required %v, verified %v; want identity_verified without a decision",
			verified.Status, verified.IdentityNotRequired, verified.IdentityVerified)
	}
	if !slices.Contains(h.auditActions(), dsar.AuditIdentityNotRequired) || slices.Contains(h.auditActions(), dsar.AuditIdentityVerified) {
		t.Errorf("audit %v: want the identity step recorded as not required", h.auditActions())
	}
	equal(t, "mails", h.mailKinds(), []string{activities.MailVerification, activities.MailAcknowledgement,
		activities.MailPortalInvitation, activities.MailRejected})
	if !slices.Contains(h.mailAudits(), "mail.sent acknowledgement") {
		t.Errorf("mail audit %v: want the acknowledgement recorded as sent", h.mailAudits())
	}
	ack := h.mails[slices.Index(h.mailKinds(), activities.MailAcknowledgement)]
	if !ack.Mail.Received.Equal(received) || !ack.Mail.Deadline.Equal(due) {
		t.Errorf("acknowledgement says received %v, due %v", ack.Mail.Received, ack.Mail.Deadline)
	}
	// 10 business days from 25 November: 30 Nov to 4 Dec, 7 to 11 Dec.
	if by := verified.AcknowledgeBy; by == nil || date(*by) != "2026-12-11" {
		t.Errorf("acknowledge by %v, want 2026-12-11", by)
	}
	if len(h.alertTimes(store.AlertAcknowledgeDue)) != 0 {
		t.Error("staff alerted of an acknowledgement that was sent")
	}
	overdue := h.alertTimes(store.AlertOverdue)
	if len(overdue) == 0 || !abs(overdue[0]).Equal(due) {
		t.Errorf("overdue alerts at %v, want the first at %v", overdue, due)
	}
	last := h.projections[len(h.projections)-1]
	if last.AcknowledgedAt == nil || !last.AcknowledgedAt.Equal(received.Add(time.Hour)) {
		t.Errorf("projected acknowledged_at %v, want the verification's time", last.AcknowledgedAt)
	}
	for _, want := range []string{"Due 2026-12-18", "15 business days from receipt on 2026-11-25",
		"opt-out or do-not-sell request under California CCPA/CPRA", "Cal. Civ. Code §1798.130"} {
		if !strings.Contains(last.DeadlineWhy, want) {
			t.Errorf("deadline why %q lacks %q", last.DeadlineWhy, want)
		}
	}
}

// TestCaliforniaOptOutFridayEvening: an opt-out received at 18:00 on
// Friday 11 December 2026 in California (02:00 UTC on Saturday the 12th)
// is counted from that Friday in Pacific time. By hand, from Friday 11
// December: 14-18 Dec are days 1-5, 21-24 Dec 6-9, Christmas (Friday 25)
// is a holiday, 28-31 Dec are 10-13, New Year's Day (Friday 1 January) a
// holiday, Monday 4 January 14 and Tuesday 5 January 15: due Tuesday 5
// January 2027 at 18:00 Pacific, 02:00 UTC on the 6th. The acknowledgement,
// 10 business days, is due Monday 28 December at 18:00 Pacific.
//
// A run started before rules had zones (its rule carries none, its
// holidays were taken from the UTC date) keeps the UTC answer it always
// had, so its history replays: counted from Saturday 12 December, due at
// 02:00 UTC on 5 January (18:00 on Monday 4 January in California), the
// acknowledgement at 02:00 UTC on 28 December. Its mail is dated in UTC, as
// before; a run with the zone dates it in Pacific time.
func TestCaliforniaOptOutFridayEvening(t *testing.T) {
	received := time.Date(2026, time.December, 12, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, zone, due, ackBy, why string
	}{
		{"in Pacific time", "America/Los_Angeles", "2027-01-06T02:00:00Z", "2026-12-29T02:00:00Z",
			"Due 2027-01-05: 15 business days from receipt on 2026-12-11 (Pacific time) for an opt-out or do-not-sell request under California CCPA/CPRA"},
		{"an input without a zone, as before", "", "2027-01-05T02:00:00Z", "2026-12-28T02:00:00Z",
			"Due 2027-01-05: 15 business days from receipt on 2026-12-12 for an opt-out or do-not-sell request under California CCPA/CPRA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, rule := ruleHarness(t, "us_ccpa", dsar.RequestOptOut, received)
			if rule.Timezone != c.zone { // the input intake made before rules had zones
				rule.Timezone = ""
				h.in.Rule, h.in.Holidays = &rule, holidays.Between(rule.Calendar, received, received.AddDate(3, 0, 0))
				h.in.Deadline = rule.Due(h.in.RequestType, received, dsar.Workdays{Holidays: h.in.Holidays})
			}
			due, err := time.Parse(time.RFC3339, c.due)
			if err != nil {
				t.Fatal(err)
			}
			if !h.in.Deadline.Equal(due) {
				t.Fatalf("intake's deadline %v, want %v", h.in.Deadline, due)
			}
			h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: received.Add(time.Hour)}})
			h.at(30*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
			h.run()
			overdue := h.alertTimes(store.AlertOverdue)
			if len(overdue) == 0 || !abs(overdue[0]).Equal(due) {
				t.Errorf("overdue alerts at %v, want the first at %v", overdue, due)
			}
			last := h.projections[len(h.projections)-1]
			if by := last.AcknowledgeBy; by == nil || by.UTC().Format(time.RFC3339) != c.ackBy {
				t.Errorf("acknowledge by %v, want %s", by, c.ackBy)
			}
			if !strings.Contains(last.DeadlineWhy, c.why) {
				t.Errorf("deadline why %q lacks %q", last.DeadlineWhy, c.why)
			}
			// The requester's mail is dated in the same zone (none: UTC).
			for _, m := range h.mails {
				if m.What != activities.MailPortalInvitation && m.Mail.Zone != c.zone {
					t.Errorf("the %s mail is dated in zone %q, want %q", m.What, m.Mail.Zone, c.zone)
				}
			}
		})
	}
}

// TestGDPRExtensionNotice: a GDPR extension noticed within the first month
// is applied (the requester is told); one after it is refused with a
// conflict naming the date it had to come by, and the deadline stays.
func TestGDPRExtensionNotice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      time.Duration
		applied bool
	}{
		{"in the first month", 20 * day, true},
		{"after the first month", 35 * day, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := ruleHarness(t, "gdpr", dsar.RequestDeletion, start)
			h.verifyAndAssign(crm)
			h.at(tc.at, SignalDeadlineExtended, Extension{Action: Action{ID: "ext", At: start.Add(tc.at)}, Days: 60,
				Reason: "many systems", By: staff})
			h.at(tc.at+time.Hour, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
			st := h.run()
			due := start.AddDate(0, 1, 0) // 2 April 2026
			refusal, refused := h.refusals()["ext"]
			if tc.applied {
				if refused || !st.Deadline.Equal(due.AddDate(0, 0, 60)) || !slices.Contains(h.mailKinds(), activities.MailExtension) {
					t.Errorf("refused %q, deadline %v, mails %v: want it extended by 60 days and the requester told", refusal, st.Deadline, h.mailKinds())
				}
				if !strings.Contains(st.DeadlineWhy, "extended by 60 days on 2026-03-22 because many systems") {
					t.Errorf("deadline why %q", st.DeadlineWhy)
				}
				return
			}
			if !refused || !strings.HasPrefix(refusal, dsar.ECONFLICT) || !strings.Contains(refusal, "noticed by 2026-04-02") {
				t.Errorf("refusal %q, want a conflict naming 2026-04-02", refusal)
			}
			if !st.Deadline.Equal(due) || slices.Contains(h.mailKinds(), activities.MailExtension) {
				t.Errorf("deadline %v, mails %v: want it unchanged and no extension mail", st.Deadline, h.mailKinds())
			}
		})
	}
}

// TestUKPauseMovesTheDeadline: under the UK GDPR staff stop the clock on
// day 20 while they wait for identity and restart it on day 40: the
// deadline (2 April) moves on by the 20 days stopped, to 22 April; no
// deadline warning or overdue alert comes while the clock is stopped; the
// timeline, the audit trail and the deadline's words say why.
func TestUKPauseMovesTheDeadline(t *testing.T) {
	h, _ := ruleHarness(t, "uk_gdpr", dsar.RequestInfo, start)
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	var paused State
	h.at(20*day, SignalClockPaused, ClockPause{Reason: PauseIdentity, Note: "asked for a utility bill", By: staff})
	h.queryAt(20*day+time.Hour, &paused)
	h.at(40*day, SignalClockResumed, ClockResume{By: staff})
	h.at(55*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()

	if paused.Paused == nil || paused.Paused.Reason != PauseIdentity {
		t.Fatalf("state while paused: %+v", paused.Paused)
	}
	if !strings.Contains(paused.DeadlineWhy, "paused since 2026-03-22 while waiting for identity") {
		t.Errorf("deadline why while paused: %q", paused.DeadlineWhy)
	}
	want := time.Date(2026, time.April, 22, 9, 0, 0, 0, time.UTC)
	if !st.Deadline.Equal(want) || st.Paused != nil || len(st.Pauses) != 1 || st.Pauses[0].Moved != 20 {
		t.Errorf("deadline %v, paused %v, pauses %+v: want %v after one pause of 20 days", st.Deadline, st.Paused, st.Pauses, want)
	}
	var warned, overdue []string
	for _, d := range h.alertTimes(store.AlertDeadlineWarning) {
		warned = append(warned, date(abs(d)))
	}
	for _, d := range h.alertTimes(store.AlertOverdue) {
		overdue = append(overdue, date(abs(d)))
	}
	if len(warned) != 1 || warned[0] != "2026-04-17" || len(overdue) == 0 || overdue[0] != "2026-04-22" {
		t.Errorf("deadline warnings %v, overdue alerts %v: want the warning on 2026-04-17 and the first overdue on 2026-04-22", warned, overdue)
	}
	if !strings.Contains(st.DeadlineWhy, "paused 20 days (2026-03-22 to 2026-04-11) while waiting for identity") ||
		!strings.Contains(st.DeadlineWhy, "1 month from receipt on 2026-03-02 (UK time) under UK GDPR") {
		t.Errorf("deadline why %q", st.DeadlineWhy)
	}
	acts := h.auditActions()
	if !slices.Contains(acts, dsar.AuditClockPaused) || !slices.Contains(acts, dsar.AuditClockResumed) {
		t.Errorf("audit %v lacks the pause", acts)
	}
	var events []string
	for _, e := range st.Timeline {
		if e.Event == EventClockPaused || e.Event == EventClockResumed {
			events = append(events, e.Event+": "+e.Detail)
		}
	}
	equal(t, "timeline", events, []string{"clock_paused: waiting for identity: asked for a utility bill",
		"clock_resumed: the deadline moved by 20 days, due 2026-04-22T09:00:00Z"})
}

// TestCaliforniaRefusesPause: California's clock may not stop: a pause is
// refused with a conflict and the deadline stays where it was.
func TestCaliforniaRefusesPause(t *testing.T) {
	h, _ := ruleHarness(t, "us_ccpa", dsar.RequestInfo, start)
	h.verifyAndAssign(crm)
	h.at(5*day, SignalClockPaused, ClockPause{Action: Action{ID: "pause"}, Reason: PauseIdentity, By: staff})
	h.at(6*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	refusal := h.refusals()["pause"]
	if !strings.HasPrefix(refusal, dsar.ECONFLICT) || !strings.Contains(refusal, "does not allow") {
		t.Errorf("refusal %q, want a conflict: the rule does not allow it", refusal)
	}
	if !st.Deadline.Equal(start.AddDate(0, 0, 45)) || len(st.Pauses) != 0 {
		t.Errorf("deadline %v, pauses %v: want 45 days, no pause", st.Deadline, st.Pauses)
	}
}

// TestPauseCountsBusinessDays: under a rule that counts business days the
// deadline moves by the business days stopped (a pause from Friday to the
// next Tuesday stops two: Monday and Tuesday).
func TestPauseCountsBusinessDays(t *testing.T) {
	rule := dsar.Rule{ID: "bd", Name: "Business-day rule", Countries: []string{"DE"}, Period: dsar.Period{Days: 10},
		BusinessDays: true, Calendar: holidays.US, Pause: true}
	h := newHarness(t)
	hol := holidays.Between(rule.Calendar, start, start.AddDate(1, 0, 0))
	h.in.Rule, h.in.Holidays, h.in.DeadlineRule = &rule, hol, rule.ID
	h.in.Deadline = rule.Due(h.in.RequestType, start, dsar.Workdays{Holidays: hol}) // Monday 2 March + 10 business days: Monday 16 March
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(4*day, SignalClockPaused, ClockPause{Reason: PauseClarification, By: staff}) // Friday 6 March
	h.at(8*day, SignalClockResumed, ClockResume{By: staff})                           // Tuesday 10 March
	h.at(20*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	if got := date(h.in.Deadline); got != "2026-03-16" {
		t.Fatalf("deadline before the pause %s, want 2026-03-16", got)
	}
	if got := date(st.Deadline); got != "2026-03-18" || st.Pauses[0].Moved != 2 {
		t.Errorf("deadline %s after moving %d business days, want 2026-03-18 after 2", got, st.Pauses[0].Moved)
	}
	if !strings.Contains(st.DeadlineWhy, "paused 2 business days") {
		t.Errorf("deadline why %q", st.DeadlineWhy)
	}
}

// TestPauseCountsBusinessDaysInTheRuleZone: a pause is counted in the
// rule's time zone. Stopped at 18:00 on Friday 6 March 2026 in California
// (02:00 UTC on Saturday) and restarted at 17:30 on Monday 9 March (00:30
// UTC on Tuesday, the clocks gone forward on Sunday), it stopped one
// business day, Monday; read in UTC it would be two. The deadline, Monday
// 16 March at 01:00 Pacific, moves to Tuesday 17 March at 01:00.
func TestPauseCountsBusinessDaysInTheRuleZone(t *testing.T) {
	rule := dsar.Rule{ID: "bd", Name: "Business-day rule", Countries: []string{"US"}, Period: dsar.Period{Days: 10},
		BusinessDays: true, Calendar: holidays.US, Pause: true, Timezone: "America/Los_Angeles"}
	h := newHarness(t)
	days, err := rule.Workdays(holidays.Between(rule.Calendar, start, start.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	h.in.Country, h.in.Rule, h.in.Holidays, h.in.DeadlineRule = "US", &rule, days.Holidays, rule.ID
	h.in.Deadline = rule.Due(h.in.RequestType, start, days) // 01:00 on Monday 2 March in California
	pausedAt := time.Date(2026, time.March, 7, 2, 0, 0, 0, time.UTC)
	resumedAt := time.Date(2026, time.March, 10, 0, 30, 0, 0, time.UTC)
	h.at(time.Hour, SignalEmailVerified, EmailVerified{Action: Action{At: start.Add(time.Hour)}})
	h.at(pausedAt.Sub(start), SignalClockPaused, ClockPause{Reason: PauseClarification, By: staff})
	h.at(resumedAt.Sub(start), SignalClockResumed, ClockResume{By: staff})
	h.at(20*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	st := h.run()
	if want := time.Date(2026, time.March, 16, 8, 0, 0, 0, time.UTC); !h.in.Deadline.Equal(want) {
		t.Fatalf("deadline before the pause %v, want %v", h.in.Deadline, want)
	}
	if want := time.Date(2026, time.March, 17, 8, 0, 0, 0, time.UTC); !st.Deadline.Equal(want) || st.Pauses[0].Moved != 1 {
		t.Errorf("deadline %v after moving %d business days, want %v after 1", st.Deadline, st.Pauses[0].Moved, want)
	}
	if !strings.Contains(st.DeadlineWhy, "paused 1 business day (2026-03-06 to 2026-03-09)") {
		t.Errorf("deadline why %q", st.DeadlineWhy)
	}
}

// TestAcknowledgementAlertWithoutMail: where the rule asks for a
// confirmation of receipt but no automatic mail, staff are alerted once
// when its deadline comes.
func TestAcknowledgementAlertWithoutMail(t *testing.T) {
	rule := dsar.Rule{ID: "ack", Name: "Acknowledging rule", Countries: []string{"DE"}, Period: dsar.Period{Days: 30},
		Acknowledge: dsar.Period{Days: 10}, AckBusinessDays: true, Calendar: holidays.US}
	h := newHarness(t)
	h.in.Rule, h.in.Holidays, h.in.DeadlineRule = &rule, holidays.Between(rule.Calendar, start, start.AddDate(1, 0, 0)), rule.ID
	h.verifyAndAssign(crm)
	h.at(20*day, SignalRequestClosed, Closure{Outcome: OutcomeRejected, Reasons: []dsar.RejectReason{dsar.RejectOther}, By: staff})
	h.run()
	// Monday 2 March 2026 + 10 business days: Monday 16 March.
	got := h.alertTimes(store.AlertAcknowledgeDue)
	if len(got) != 1 || date(abs(got[0])) != "2026-03-16" {
		t.Errorf("acknowledgement alerts at %v, want one on 2026-03-16", got)
	}
	if slices.Contains(h.mailKinds(), activities.MailAcknowledgement) {
		t.Error("an acknowledgement mail went out where the rule asks for none")
	}
}
