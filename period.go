package dsar

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Period is a legal period in calendar terms: months and days. Laws speak in
// calendar months ("one month"), which no time.Duration can hold.
type Period struct {
	Months int
	Days   int
}

var periodRE = regexp.MustCompile(`^P(?:(\d+)M)?(?:(\d+)D)?$`)

// ParsePeriod reads an ISO 8601 period made of months and days, such as
// "P1M", "P45D" or "P1M15D". "P0D" is the empty period.
func ParsePeriod(s string) (Period, error) {
	m := periodRE.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil || (m[1] == "" && m[2] == "") {
		return Period{}, fmt.Errorf("period %q: want ISO 8601 months and days, like P1M or P45D", s)
	}
	var p Period
	if m[1] != "" {
		p.Months, _ = strconv.Atoi(m[1])
	}
	if m[2] != "" {
		p.Days, _ = strconv.Atoi(m[2])
	}
	return p, nil
}

// UnmarshalText lets config files and JSON hold a Period as "P1M".
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText writes the period back as ISO 8601.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// String is the ISO 8601 form of p.
func (p Period) String() string {
	switch {
	case p.Months > 0 && p.Days > 0:
		return fmt.Sprintf("P%dM%dD", p.Months, p.Days)
	case p.Months > 0:
		return fmt.Sprintf("P%dM", p.Months)
	}
	return fmt.Sprintf("P%dD", p.Days)
}

// IsZero reports whether p is the empty period.
func (p Period) IsZero() bool { return p.Months == 0 && p.Days == 0 }

// AddTo returns t moved on by p. Months are calendar months: when the day does
// not exist in the target month the result is that month's last day, so
// 31 January plus one month is 28 (or 29) February, as courts count it.
func (p Period) AddTo(t time.Time) time.Time {
	if p.Months != 0 {
		y, m, d := t.Date()
		first := time.Date(y, m+time.Month(p.Months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		last := first.AddDate(0, 1, -1).Day()
		if d > last {
			d = last
		}
		t = time.Date(first.Year(), first.Month(), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	}
	return t.AddDate(0, 0, p.Days)
}

// PeriodFromDuration turns a whole number of days into a Period, rounding up
// a part day. It is how a Go duration from config becomes a legal period.
func PeriodFromDuration(d time.Duration) Period {
	days := int((d + 24*time.Hour - 1) / (24 * time.Hour))
	return Period{Days: days}
}
