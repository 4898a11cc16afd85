package dsar_test

import (
	"testing"
	"time"

	"github.com/opendsar/dsar"
)

func TestCalendarMonths(t *testing.T) {
	day := func(s string) time.Time {
		v, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		from, period, want string
	}{
		{"2026-01-31", "P1M", "2026-02-28"},
		{"2028-01-31", "P1M", "2028-02-29"}, // leap year
		{"2026-03-31", "P1M", "2026-04-30"},
		{"2026-01-15", "P1M", "2026-02-15"},
		{"2026-12-31", "P2M", "2027-02-28"},
		{"2026-11-23", "P3M", "2027-02-23"},
		{"2026-01-01", "P45D", "2026-02-15"},
		{"2026-01-31", "P1M1D", "2026-03-01"},
	} {
		p, err := dsar.ParsePeriod(tc.period)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.AddTo(day(tc.from)).Format(time.DateOnly); got != tc.want {
			t.Errorf("%s + %s = %s, want %s", tc.from, tc.period, got, tc.want)
		}
	}
}

func TestParsePeriodRefusesJunk(t *testing.T) {
	for _, s := range []string{"", "P", "1M", "P1Y", "P-1D", "30 days", "PT5H"} {
		if _, err := dsar.ParsePeriod(s); err == nil {
			t.Errorf("ParsePeriod(%q) should fail", s)
		}
	}
}

func TestRulesPreferRegionOverCountry(t *testing.T) {
	rules := dsar.DefaultRules
	for _, tc := range []struct{ country, region, want string }{
		{"US", "US-CA", "us_ccpa"},
		{"US", "us-va", "us_vcdpa"},
		{"US", "US-CO", "us_cpa"},
		{"US", "US-TX", "us_tdpsa"},
		{"GB", "", "uk_gdpr"},
		{"IE", "", "gdpr"},
		{"NO", "", "gdpr"},
		{"BR", "", "br_lgpd"},
		{"CA", "CA-QC", "ca_pipeda"},
	} {
		r, ok := rules.Match(tc.country, tc.region)
		if !ok || r.ID != tc.want {
			t.Errorf("%s/%s: got %q (%v), want %s", tc.country, tc.region, r.ID, ok, tc.want)
		}
	}
	if r, ok := rules.Match("US", ""); ok {
		t.Errorf("the US without a state has no rule of its own (default applies), got %s", r.ID)
	}
	if r, ok := rules.Match("US", "US-AK"); ok {
		t.Errorf("Alaska has no privacy law in the shipped table, got %s", r.ID)
	}
}
