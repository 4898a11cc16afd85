package worker_test

import (
	"slices"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// TestOptOutAcceptedOnDevServer runs a California opt-out on the dev
// server, and records the history for the replay test: accepted at
// submission (no link to wait for, no reminder, no expiry), the org owners
// reminded while it has no data source, the link opened later (the address
// confirmed, the portal invitation sent), the source assigned, its task
// done, the request completed.
func TestOptOutAcceptedOnDevServer(t *testing.T) {
	l := newLifecycle(t)
	db, keys := l.app.DB, l.app.Keys
	owner := l.orgOwner()
	carl, err := db.CreateUser(l.ctx, store.User{Email: "carl@example.com", Name: "Carl", Role: dsar.RoleSourceOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	adtech, err := db.CreateDataSource(l.ctx, "Ad platform", "", []string{carl.ID})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(dsar.DefaultRules, func(r dsar.Rule) bool { return r.ID == "us_ccpa" })
	rule := dsar.DefaultRules[i]
	now := time.Now().UTC().Truncate(time.Millisecond)
	days := ruleDays(t, rule, now)
	hol := days.Holidays
	deadline := rule.Due(dsar.RequestOptOut, now, days)
	const email = "olive@example.net"
	id := insertRequest(t, db, keys, store.PII{FirstName: "Olive", Email: email}, now, deadline)
	if _, err := db.Exec(`UPDATE requests SET request_type = 'opt_out', country = 'US', region = 'US-CA', deadline_rule = 'us_ccpa' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	in := l.input(id, now, deadline)
	in.RequestType, in.Country, in.Region, in.DeadlineRule, in.MaxExtension = dsar.RequestOptOut, "US", "US-CA", rule.ID, dsar.Period{}
	in.Rule, in.Holidays = &rule, hol
	in.Periods.VerificationReminderAfter = time.Second // the old course would remind at once
	in.Periods.ReminderEvery = time.Second
	run := l.start(id, in)

	l.waitStatus(id, dsar.StatusIdentityVerified)
	eventually(t, "the mail that it is acted on", func() bool { return l.hasMail(email, "acting on it") })
	eventually(t, "an unassigned reminder", func() bool {
		alerts, err := db.RequestAlerts(l.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(alerts, func(a store.Alert) bool { return a.Kind == store.AlertUnassigned })
	})
	if l.hasMail(email, "Reminder") || l.hasMail(email, "confirm your email") {
		t.Fatal("an opt-out accepted at submission was asked to confirm its email")
	}
	l.signal(id, workflows.SignalEmailVerified, workflows.EmailVerified{Action: workflows.Action{At: time.Now()}})
	eventually(t, "the portal invitation", func() bool { return l.hasMail(email, "Follow your privacy request") })
	if st := l.state(id); st.EmailVerifiedAt == nil || st.Status != dsar.StatusIdentityVerified {
		t.Fatalf("after the link: email verified at %v, status %s", st.EmailVerifiedAt, st.Status)
	}
	l.signal(id, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: []string{adtech.ID}, By: owner.ID})
	l.waitStatus(id, dsar.StatusInProgress)
	l.signal(id, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: adtech.ID, By: carl.ID, Outcome: dsar.TaskOptedOut})
	l.waitStatus(id, dsar.StatusReadyToClose)
	l.signal(id, workflows.SignalRequestClosed, workflows.Closure{Outcome: workflows.OutcomeCompleted, By: owner.ID})
	var final workflows.State
	if err := run.Get(l.ctx, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != dsar.StatusCompleted || final.OptOutAcceptedAt == nil {
		t.Fatalf("final status %s, accepted at %v", final.Status, final.OptOutAcceptedAt)
	}
	l.export(id, "dsar_baseline_optout_accepted.json")
}
