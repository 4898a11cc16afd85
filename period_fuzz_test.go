package dsar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
)

// FuzzParsePeriod fuzzes ISO 8601 periods from config and the API: what
// parses is months and days, never negative, written back in a form that
// parses to the same period, and adding it to a date moves forward.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"P1M", "P45D", "P1M15D", "P0D", "p2m", " P3D ", "P", "PT1H", "P-1M", "P1Y",
		"P99999999999999999999M", "P1M1M", "P1D1M", "1M", "P٣D", "P1M\n", "P\x00"} {
		f.Add(s)
	}
	from := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := dsar.ParsePeriod(s)
		if err != nil {
			if p != (dsar.Period{}) {
				t.Fatalf("an error with a period %+v", p)
			}
			return
		}
		if p.Months < 0 || p.Days < 0 {
			t.Fatalf("%q parses as a negative period %+v", s, p)
		}
		if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s)), "P") {
			t.Fatalf("%q parses without the leading P", s)
		}
		again, err := dsar.ParsePeriod(p.String())
		if err != nil || again != p {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, p, p.String(), again, err)
		}
		if p.Months < 10000 && p.Days < 1000000 {
			if to := p.AddTo(from); to.Before(from) {
				t.Fatalf("%q moves %s back to %s", s, from, to)
			}
		}
	})
}
