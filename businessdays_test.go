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
// holidays are skipped, the time of day is kept.
func TestBusinessDays(t *testing.T) {
	hol := func(cal string) dsar.Holidays {
		return holidays.Between(cal, at(t, "2026-01-01T00:00:00Z"), at(t, "2028-12-31T00:00:00Z"))
	}
	cases := []struct {
		name string
		cal  string
		from string
		days int
		want string
	}{
		// Wednesday before Thanksgiving: Thursday and the day after are
		// California holidays; 15 business days end on Friday 18 December.
		{"CA opt-out across Thanksgiving", holidays.USCA, "2026-11-25T10:00:00Z", 15, "2026-12-18T10:00:00Z"},
		// The federal calendar does not close on the day after Thanksgiving.
		{"federal across Thanksgiving", holidays.US, "2026-11-25T10:00:00Z", 15, "2026-12-17T10:00:00Z"},
		// Across Christmas and New Year: 25 Dec and 1 Jan are holidays.
		{"CA acknowledgement over the year's end", holidays.USCA, "2026-12-21T09:30:00Z", 10, "2027-01-06T09:30:00Z"},
		// Received on a Saturday: Monday is the first business day.
		{"from a weekend", holidays.USCA, "2027-03-27T12:00:00Z", 1, "2027-03-29T12:00:00Z"},
		// Easter 2027 in England: Good Friday 26 March and Easter Monday
		// 29 March are bank holidays.
		{"England across Easter", holidays.GBENG, "2027-03-25T08:00:00Z", 2, "2027-03-31T08:00:00Z"},
		{"zero", holidays.US, "2027-03-25T08:00:00Z", 0, "2027-03-25T08:00:00Z"},
	}
	for _, c := range cases {
		h := hol(c.cal)
		from := at(t, c.from)
		got := h.AddBusinessDays(from, c.days)
		if want := at(t, c.want); !got.Equal(want) {
			t.Errorf("%s: %v + %d business days = %v, want %v", c.name, from, c.days, got, want)
		}
		if n := h.BusinessDaysBetween(from, got); n != c.days {
			t.Errorf("%s: %d business days between %v and %v, want %d", c.name, n, from, got, c.days)
		}
	}
}

// TestRuleDue: a California opt-out runs on its 15-business-day track, any
// other California request on 45 calendar days, and the acknowledgement is
// due in 10 business days; a GDPR request has no acknowledgement.
func TestRuleDue(t *testing.T) {
	ca, _ := dsar.DefaultRules.Match("US", "US-CA")
	received := at(t, "2026-11-25T10:00:00Z")
	h := holidays.Between(ca.Calendar, received, received.AddDate(1, 0, 0))
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
	// 10 business days from Wednesday 25 November 2026: 30 Nov to 4 Dec and
	// 7 to 11 December.
	if got, ok := ca.AcknowledgeBy(received, h); !ok || !got.Equal(at(t, "2026-12-11T10:00:00Z")) {
		t.Errorf("acknowledge by %v %v, want 2026-12-11", got, ok)
	}
	gdpr, _ := dsar.DefaultRules.Match("FR", "")
	if _, ok := gdpr.AcknowledgeBy(received, nil); ok {
		t.Error("GDPR asks for no acknowledgement")
	}
	if gdpr.OptOutTrack(dsar.RequestOptOut) != nil {
		t.Error("GDPR has no separate opt-out track")
	}
}

// TestDefaultRules: every shipped rule is complete, every US state the
// issue names has one, and a state law with an appeal names the authority
// and its contact.
func TestDefaultRules(t *testing.T) {
	for _, r := range dsar.DefaultRules {
		if r.ID == "" || r.Name == "" || r.Period.IsZero() || r.Source == "" || len(r.Countries)+len(r.Regions) == 0 {
			t.Errorf("rule %q is incomplete: %+v", r.ID, r)
		}
		if !holidays.Known(r.Calendar) {
			t.Errorf("rule %q: unknown calendar %q", r.ID, r.Calendar)
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
