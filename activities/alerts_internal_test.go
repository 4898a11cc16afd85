package activities

import (
	"testing"
	"time"
)

// TestDigestDay: a run belongs to the digest of the latest digest time at
// or before it, in the digest's zone, so a retry past midnight or a run by
// hand the next morning does not start a new day.
func TestDigestDay(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 4, 1, 15, 0, 0, 0, time.UTC), "2026-04-01"},  // 17:00 in Berlin: on time
		{time.Date(2026, 4, 1, 14, 59, 0, 0, time.UTC), "2026-03-31"}, // a minute early: yesterday's
		{time.Date(2026, 4, 1, 23, 30, 0, 0, time.UTC), "2026-04-01"}, // 01:30 the next day in Berlin: a retry
		{time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC), "2026-04-01"},   // by hand the next morning
	} {
		if got := digestDay(c.now, "17:00", berlin); got != c.want {
			t.Errorf("%s: %s, want %s", c.now, got, c.want)
		}
	}
}
