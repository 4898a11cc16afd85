package worker_test

import (
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/holidays"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// ruleDays are the business days of rule for a request received at
// received, as intake gives them: its calendar's holidays for three years
// from the date of receipt in the rule's zone.
func ruleDays(t *testing.T, rule dsar.Rule, received time.Time) dsar.Workdays {
	t.Helper()
	days, err := rule.Workdays(nil)
	if err != nil {
		t.Fatal(err)
	}
	from := days.Local(received)
	days.Holidays = holidays.Between(rule.Calendar, from, from.AddDate(3, 0, 0))
	return days
}

// TestClocksOnDevServer runs the jurisdiction rule's clocks on the dev
// server, and records the history for the replay test. The rule is the UK
// GDPR's (the clock may stop, an extension must be noticed within a
// month) with a confirmation of receipt by mail within 10 business days,
// as the CCPA asks and a company's table may ask of every rule: one
// request then takes every step of the clocks' path. Its address verified,
// the requester is mailed the acknowledgement; staff stop the clock while
// waiting for identity and restart it; identity is verified, the deadline
// extended within its notice period, the task done and the request
// completed and erased.
func TestClocksOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	source, err := db.CreateDataSource(l.ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	crm := source.ID
	rule, ok := dsar.DefaultRules.Match("GB", "")
	if !ok || !rule.Pause || rule.ExtensionNoticeWithin.IsZero() {
		t.Fatal("no UK rule that stops the clock and asks an extension to be noticed")
	}
	rule.Acknowledge, rule.AckBusinessDays, rule.AckMail = dsar.Period{Days: 10}, true, true
	now := time.Now().UTC().Truncate(time.Millisecond)
	days := ruleDays(t, rule, now)
	hol := days.Holidays
	deadline := rule.Due(dsar.RequestDeletion, now, days)
	email := "una@example.net"
	id := insertRequest(t, db, keys, store.PII{FirstName: "Una", LastName: "Kingdom", Email: email, Description: "delete me"}, now, deadline)
	in := l.input(id, now, deadline)
	in.Country, in.DeadlineRule, in.MaxExtension, in.Rule, in.Holidays = "GB", rule.ID, rule.ExtensionFor(dsar.RequestDeletion), &rule, hol
	in.Periods.VerificationReminderAfter, in.Periods.ReminderEvery = time.Hour, time.Hour
	run := l.start(id, in)

	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	l.waitStatus(id, dsar.StatusAwaitingIdentity)
	eventually(t, "the acknowledgement mailed", func() bool { return l.state(id).AcknowledgedAt != nil })
	l.signal(id, workflows.SignalClockPaused, workflows.ClockPause{Action: workflows.Action{At: time.Now()},
		Reason: workflows.PauseIdentity, Note: "asked for a utility bill", By: owner.ID})
	eventually(t, "the clock stopped", func() bool { return l.state(id).Paused != nil })
	l.signal(id, workflows.SignalClockResumed, workflows.ClockResume{Action: workflows.Action{At: time.Now()}, By: owner.ID})
	eventually(t, "the clock restarted", func() bool { st := l.state(id); return st.Paused == nil && len(st.Pauses) == 1 })
	l.signal(id, workflows.SignalIdentityDecided, workflows.IdentityDecision{Verified: true, By: owner.ID})
	l.waitStatus(id, dsar.StatusIdentityVerified)
	l.signal(id, workflows.SignalDeadlineExtended, workflows.Extension{Action: workflows.Action{At: time.Now()},
		Days: 30, Reason: "the records are archived off site", By: owner.ID})
	eventually(t, "the deadline extended", func() bool { return l.state(id).Extended })
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{crm}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: crm, Outcome: dsar.TaskErased, By: owner.ID})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted || final.AcknowledgedAt == nil || len(final.Pauses) != 1 || !final.Extended {
		t.Fatalf("final: %s, acknowledged %v, pauses %+v, extended %v", final.Status, final.AcknowledgedAt, final.Pauses, final.Extended)
	}
	if r, err := db.Request(l.ctx, id, ""); err != nil || r.AcknowledgedAt == nil || r.ScrubbedAt == nil || r.DeadlineWhy == "" {
		t.Fatalf("the row: acknowledged %v, scrubbed %v, why %q (%v)", r.AcknowledgedAt, r.ScrubbedAt, r.DeadlineWhy, err)
	}
	l.export(id, "dsar_baseline_clocks.json")
}
