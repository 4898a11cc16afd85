package holidays_test

import (
	"slices"
	"testing"
	"time"

	"github.com/opendsar/dsar/holidays"
)

func dates(ds []time.Time) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Format(time.DateOnly)
	}
	return out
}

// TestCalendars: each calendar's holidays in 2026 and 2027, checked by hand
// against the published lists (OPM's federal holidays, CalHR's state
// holidays, GOV.UK's bank holidays), including the observed days a weekend
// moves and the Easter-based ones.
func TestCalendars(t *testing.T) {
	cases := []struct {
		id   string
		year int
		want []string
	}{
		{holidays.US, 2026, []string{"2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19",
			"2026-07-03", "2026-09-07", "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25"}},
		// 2027: Juneteenth on a Saturday is observed the Friday before,
		// Independence Day on a Sunday the Monday after, Christmas on a
		// Saturday on the 24th, and New Year's Day 2028 (a Saturday) on
		// 31 December 2027.
		{holidays.US, 2027, []string{"2027-01-01", "2027-01-18", "2027-02-15", "2027-05-31", "2027-06-18",
			"2027-07-05", "2027-09-06", "2027-10-11", "2027-11-11", "2027-11-25", "2027-12-24", "2027-12-31"}},
		{holidays.USCA, 2026, []string{"2026-01-01", "2026-01-19", "2026-02-16", "2026-03-31", "2026-05-25",
			"2026-07-04", "2026-09-07", "2026-11-11", "2026-11-26", "2026-11-27", "2026-12-25"}},
		// California moves a Sunday holiday to Monday, never a Saturday one.
		{holidays.USCA, 2027, []string{"2027-01-01", "2027-01-18", "2027-02-15", "2027-03-31", "2027-05-31",
			"2027-07-05", "2027-09-06", "2027-11-11", "2027-11-25", "2027-11-26", "2027-12-25"}},
		// Veterans Day 2028 on a Saturday is observed the Friday before
		// (Cal. Gov. Code §6701); New Year's Day on a Saturday is not moved.
		{holidays.USCA, 2028, []string{"2028-01-01", "2028-01-17", "2028-02-21", "2028-03-31", "2028-05-29",
			"2028-07-04", "2028-09-04", "2028-11-10", "2028-11-23", "2028-11-24", "2028-12-25"}},
		// Boxing Day 2026 on a Saturday is substituted on Monday 28th.
		{holidays.GBENG, 2026, []string{"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25",
			"2026-08-31", "2026-12-25", "2026-12-28"}},
		// Christmas 2027 on a Saturday and Boxing Day on a Sunday: the
		// Monday and the Tuesday after.
		{holidays.GBENG, 2027, []string{"2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31",
			"2027-08-30", "2027-12-27", "2027-12-28"}},
		{"", 2026, []string{}},
	}
	for _, c := range cases {
		if got := dates(holidays.In(c.id, c.year)); !slices.Equal(got, c.want) {
			t.Errorf("%q %d:\n got %v\nwant %v", c.id, c.year, got, c.want)
		}
	}
}

// TestEaster: Easter Sunday in years whose dates are known.
func TestEaster(t *testing.T) {
	for year, want := range map[int]string{
		2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05", 2027: "2027-03-28", 2038: "2038-04-25", 2285: "2285-03-22",
	} {
		if got := holidays.Easter(year).Format(time.DateOnly); got != want {
			t.Errorf("Easter %d = %s, want %s", year, got, want)
		}
	}
}

// TestBetween: the holidays a workflow carries, across a year's end, both
// ends included.
func TestBetween(t *testing.T) {
	from := time.Date(2026, time.December, 25, 15, 0, 0, 0, time.UTC)
	to := time.Date(2027, time.January, 18, 1, 0, 0, 0, time.UTC)
	got := holidays.Between(holidays.US, from, to)
	want := []string{"2026-12-25", "2027-01-01", "2027-01-18"}
	if !slices.Equal(got, want) {
		t.Errorf("Between = %v, want %v", got, want)
	}
	if !holidays.Known("us-ca") || holidays.Known("us-xx") {
		t.Error("Known should know us-ca and not us-xx")
	}
}
