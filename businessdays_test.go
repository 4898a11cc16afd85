package dsar_test

import (
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/holidays"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBusinessDays: business days counted by hand on the 2026 and 2027
// calendars; the day of receipt never counts, weekends and the calendar's
// holidays are skipped, the time of day is kept. Without a zone dates are
// read in UTC (as every rule did before rules had zones); with one, in
// that zone, and the result, at the same local time of day, comes back in
// UTC.
func TestBusinessDays(t *testing.T) {
	const pacific, london = "America/Los_Angeles", "Europe/London"
	cases := []struct {
		name string
		cal  string
		zone string
		from string
		days int
		want string
	}{
		// Wednesday before Thanksgiving: Thursday and the day after are
		// California holidays; 15 business days end on Friday 18 December.
		{"CA opt-out across Thanksgiving", holidays.USCA, "", "2026-11-25T10:00:00Z", 15, "2026-12-18T10:00:00Z"},
		// The same in Pacific time: 02:00 on the same Wednesday there.
		{"CA opt-out across Thanksgiving, Pacific", holidays.USCA, pacific, "2026-11-25T10:00:00Z", 15, "2026-12-18T10:00:00Z"},
		// The federal calendar does not close on the day after Thanksgiving.
		{"federal across Thanksgiving", holidays.US, "", "2026-11-25T10:00:00Z", 15, "2026-12-17T10:00:00Z"},
		// Across Christmas and New Year: 25 Dec and 1 Jan are holidays.
		{"CA acknowledgement over the year's end", holidays.USCA, "", "2026-12-21T09:30:00Z", 10, "2027-01-06T09:30:00Z"},
		// Friday 11 December 2026 at 18:00 Pacific is Saturday 02:00 UTC.
		// Counted from that Friday: 14-18 Dec (5), 21-24 Dec (9),
		// Christmas, 28-31 Dec (13), New Year's Day, 4-5 Jan (15): Tuesday
		// 5 January at 18:00 Pacific. Read in UTC it would count from the
		// Saturday and end at 02:00 UTC on 5 January, 18:00 on Monday 4
		// January in California: a business day early.
		{"Friday evening in California", holidays.USCA, pacific, "2026-12-12T02:00:00Z", 15, "2027-01-06T02:00:00Z"},
		{"Friday evening in California, read in UTC", holidays.USCA, "", "2026-12-12T02:00:00Z", 15, "2027-01-05T02:00:00Z"},
		// Sunday 28 March 2027 at 20:00 Pacific (Monday 03:00 UTC): Monday
		// and Tuesday count, so it is due Tuesday 20:00. Read in UTC it
		// would count from Monday, skip César Chávez Day (Wednesday 31
		// March) and end on Thursday.
		{"Sunday evening in California", holidays.USCA, pacific, "2027-03-29T03:00:00Z", 2, "2027-03-31T03:00:00Z"},
		// Saturday night before the US clocks go back (Sunday 1 November
		// 2026): 22:00 PDT, 05:00 UTC. Monday 2 to Friday 6 November count;
		// due Friday at 22:00, now PST: 06:00 UTC.
		{"Saturday night before the US clocks go back", holidays.USCA, pacific, "2026-11-01T05:00:00Z", 5, "2026-11-07T06:00:00Z"},
		// Received at 02:30 on Saturday 13 March 2027; Sunday has no 02:30
		// (the clocks go forward), Monday's 02:30 is PDT.
		{"the night the US clocks go forward", holidays.USCA, pacific, "2027-03-13T10:30:00Z", 1, "2027-03-15T09:30:00Z"},
		// Received on a Saturday: Monday is the first business day.
		{"from a weekend", holidays.USCA, "", "2027-03-27T12:00:00Z", 1, "2027-03-29T12:00:00Z"},
		// Easter 2027 in England: Good Friday 26 March and Easter Monday
		// 29 March are bank holidays.
		{"England across Easter", holidays.GBENG, "", "2027-03-25T08:00:00Z", 2, "2027-03-31T08:00:00Z"},
		// The same in London time: the clocks go forward on Sunday 28
		// March, and 08:00 on Wednesday is 07:00 UTC.
		{"England across Easter and the clocks change", holidays.GBENG, london, "2027-03-25T08:00:00Z", 2, "2027-03-31T07:00:00Z"},
		// 00:30 BST on Thursday 1 April is 23:30 UTC on Wednesday: counted
		// from Thursday, Friday and Monday count.
		{"just after midnight in London", holidays.GBENG, london, "2027-03-31T23:30:00Z", 2, "2027-04-04T23:30:00Z"},
		{"zero", holidays.US, "", "2027-03-25T08:00:00Z", 0, "2027-03-25T08:00:00Z"},
	}
	for _, c := range cases {
		r := dsar.Rule{ID: "r", Timezone: c.zone}
		days, err := r.Workdays(holidays.Between(c.cal, at(t, "2026-01-01T00:00:00Z"), at(t, "2028-12-31T00:00:00Z")))
		if err != nil {
			t.Fatal(err)
		}
		from := at(t, c.from)
		got := days.AddBusinessDays(from, c.days)
		if want := at(t, c.want); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: %v + %d business days = %v, want %v", c.name, from, c.days, got, want)
		}
		if n := days.BusinessDaysBetween(from, got); n != c.days {
			t.Errorf("%s: %d business days between %v and %v, want %d", c.name, n, from, got, c.days)
		}
		if c.zone == "" {
			if got := days.Holidays.AddBusinessDays(from, c.days); !got.Equal(at(t, c.want)) {
				t.Errorf("%s: Holidays.AddBusinessDays = %v, want %v", c.name, got, c.want)
			}
		}
	}
}

// TestCalendarPeriodsIgnoreTheZone: a period of calendar days or months is
// the same instant whatever zone the rule reads business days in.
func TestCalendarPeriodsIgnoreTheZone(t *testing.T) {
	received := at(t, "2026-10-31T05:00:00Z") // Saturday night before the US clocks go back
	pacific, err := dsar.Rule{ID: "r", Timezone: "America/Los_Angeles"}.Workdays(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []dsar.Period{{Days: 45}, {Months: 1}, {Months: 1, Days: 3}} {
		if got, want := pacific.Add(received, p, false), p.AddTo(received); !got.Equal(want) {
			t.Errorf("%v in Pacific time: %v, want %v", p, got, want)
		}
	}
}

// TestRuleDue: a California opt-out runs on its 15-business-day track, any
// other California request on 45 calendar days, and the acknowledgement is
// due in 10 business days; a GDPR request has no acknowledgement.
func TestRuleDue(t *testing.T) {
	ca, _ := dsar.DefaultRules.Match("US", "US-CA")
	received := at(t, "2026-11-25T10:00:00Z")
	h, err := ca.Workdays(holidays.Between(ca.Calendar, received, received.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Due(dsar.RequestOptOut, received, h); !got.Equal(at(t, "2026-12-18T10:00:00Z")) {
		t.Errorf("opt-out due %v, want 2026-12-18", got)
	}
	if got := ca.Due(dsar.RequestDoNotSell, received, h); !got.Equal(at(t, "2026-12-18T10:00:00Z")) {
		t.Errorf("do-not-sell due %v, want 2026-12-18", got)
	}
	if got := ca.Due(dsar.RequestInfo, received, h); !got.Equal(at(t, "2027-01-09T10:00:00Z")) {
		t.Errorf("access due %v, want 45 days on, 2027-01-09", got)
	}
	// The opt-out track cannot be extended; any other request by 45 days.
	if got := ca.ExtensionFor(dsar.RequestOptOut); !got.IsZero() {
		t.Errorf("an opt-out may be extended by %v, want none", got)
	}
	if got := ca.ExtensionFor(dsar.RequestInfo); got != (dsar.Period{Days: 45}) {
		t.Errorf("an access request may be extended by %v, want 45 days", got)
	}
	// Oregon's opt-outs need no authentication but keep the 45 days and the
	// extension of any other request.
	or, _ := dsar.DefaultRules.Match("US", "US-OR")
	if tr := or.OptOutTrack(dsar.RequestOptOut); tr == nil || !tr.NoIdentityDocument {
		t.Errorf("Oregon's opt-out track %+v, want one that asks no identity document", tr)
	}
	if got := or.ExtensionFor(dsar.RequestOptOut); got != (dsar.Period{Days: 45}) {
		t.Errorf("an Oregon opt-out may be extended by %v, want 45 days", got)
	}
	if got, want := or.Due(dsar.RequestOptOut, received, dsar.Workdays{}), received.AddDate(0, 0, 45); !got.Equal(want) {
		t.Errorf("an Oregon opt-out is due %v, want 45 calendar days on, %v", got, want)
	}
	// 10 business days from Wednesday 25 November 2026: 30 Nov to 4 Dec and
	// 7 to 11 December.
	if got, ok := ca.AcknowledgeBy(received, h); !ok || !got.Equal(at(t, "2026-12-11T10:00:00Z")) {
		t.Errorf("acknowledge by %v %v, want 2026-12-11", got, ok)
	}
	gdpr, _ := dsar.DefaultRules.Match("FR", "")
	if _, ok := gdpr.AcknowledgeBy(received, dsar.Workdays{}); ok {
		t.Error("GDPR asks for no acknowledgement")
	}
	if gdpr.OptOutTrack(dsar.RequestOptOut) != nil {
		t.Error("GDPR has no separate opt-out track")
	}
	if _, err := (dsar.Rule{ID: "r", Timezone: "Mars/Olympus_Mons"}).Workdays(nil); err == nil {
		t.Error("a rule in an unknown time zone has business days")
	}
}

// TestDefaultRules: every shipped rule is complete, its time zone loads
// and has words, every US state the issue names has one, and a state law
// with an appeal names the authority and its contact.
func TestDefaultRules(t *testing.T) {
	for _, r := range dsar.DefaultRules {
		if r.ID == "" || r.Name == "" || r.Period.IsZero() || r.Source == "" || len(r.Countries)+len(r.Regions) == 0 {
			t.Errorf("rule %q is incomplete: %+v", r.ID, r)
		}
		if !holidays.Known(r.Calendar) {
			t.Errorf("rule %q: unknown calendar %q", r.ID, r.Calendar)
		}
		if _, err := r.Workdays(nil); err != nil || dsar.ZoneWords(r.Timezone) == r.Timezone {
			t.Errorf("rule %q: time zone %q loads (%v) and is said %q", r.ID, r.Timezone, err, dsar.ZoneWords(r.Timezone))
		}
		if !r.Extension.IsZero() && r.ExtensionNotice == "" {
			t.Errorf("rule %q extends without saying how to notice it", r.ID)
		}
		if a := r.Appeal; a != nil && (a.Window.IsZero() || a.Period.IsZero() || a.Authority == "" || a.Contact == "") {
			t.Errorf("rule %q: incomplete appeal %+v", r.ID, a)
		}
	}
	for _, st := range []string{"CA", "VA", "CO", "CT", "UT", "TX", "OR", "MT", "IA", "DE", "NJ", "NH", "TN", "MN", "IN", "KY", "NE", "RI", "MD"} {
		r, ok := dsar.DefaultRules.Match("US", "US-"+st)
		if !ok {
			t.Errorf("no rule for US-%s", st)
			continue
		}
		if st != "CA" && st != "UT" && r.Appeal == nil {
			t.Errorf("US-%s (%s) has no appeal", st, r.ID)
		}
	}
	for _, c := range []string{"DE", "GB", "BR", "CA", "NO"} {
		if _, ok := dsar.DefaultRules.Match(c, ""); !ok {
			t.Errorf("no rule for %s", c)
		}
	}
}
