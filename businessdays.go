package dsar

import (
	"fmt"
	"slices"
	"time"
)

// Holidays is a sorted list of dates (YYYY-MM-DD) that are not business days:
// the part of a holiday calendar a request's clocks can reach. Intake
// computes it (package holidays) and the workflow carries it, so the
// workflow's date arithmetic needs no calendar code and no config.
type Holidays []string

// IsBusinessDay reports whether the date of t, read in t's location, is a
// weekday outside h.
func (h Holidays) IsBusinessDay(t time.Time) bool { return Workdays{Holidays: h}.IsBusinessDay(t) }

// AddBusinessDays is Workdays.AddBusinessDays with dates read in t's location.
func (h Holidays) AddBusinessDays(t time.Time, n int) time.Time {
	return Workdays{Holidays: h}.AddBusinessDays(t, n)
}

// BusinessDaysBetween is Workdays.BusinessDaysBetween with dates read in
// from's and to's locations.
func (h Holidays) BusinessDaysBetween(from, to time.Time) int {
	return Workdays{Holidays: h}.BusinessDaysBetween(from, to)
}

// Workdays are the business days of a jurisdiction: the weekdays outside
// Holidays, their dates read in Zone, where the law's days begin and end.
// A request received at 18:00 on a Friday in California is received on
// that Friday, though it is Saturday in UTC.
type Workdays struct {
	Holidays Holidays
	// Zone is the time zone dates are read in; times computed in it come
	// back in UTC. Nil: each time's own location (UTC for the workflow's
	// times), and results in that location: how every rule counted
	// before rules had zones.
	Zone *time.Location
}

// Local is t in w's zone: the date and time of day the jurisdiction reads.
func (w Workdays) Local(t time.Time) time.Time {
	if w.Zone == nil {
		return t
	}
	return t.In(w.Zone)
}

// out is a computed local time as the caller keeps it: UTC under a zone.
func (w Workdays) out(t time.Time) time.Time {
	if w.Zone == nil {
		return t
	}
	return t.UTC()
}

// IsBusinessDay reports whether the date of t in w's zone is a weekday
// outside w's holidays.
func (w Workdays) IsBusinessDay(t time.Time) bool {
	t = w.Local(t)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, found := slices.BinarySearch(w.Holidays, t.Format(time.DateOnly))
	return !found
}

// AddBusinessDays returns t moved on by n business days, at the same local
// time of day: the day of t does not count, and each following weekday that
// is not a holiday counts one. Zero or negative n returns t.
func (w Workdays) AddBusinessDays(t time.Time, n int) time.Time {
	t = w.Local(t)
	k := 0
	for n > 0 {
		k++
		// Each step from t, not from the step before: a day whose
		// clock time does not exist (a spring-forward night) does
		// not shift the days after it.
		if w.IsBusinessDay(t.AddDate(0, 0, k)) {
			n--
		}
	}
	return w.out(t.AddDate(0, 0, k))
}

// BusinessDaysBetween counts the business days after the date of from up to
// and including the date of to, both read in w's zone: AddBusinessDays(from,
// n) falls on to's date when to is a business day. It is zero when to is not
// after from.
func (w Workdays) BusinessDaysBetween(from, to time.Time) int {
	from, to = w.Local(from), w.Local(to)
	last := to.Format(time.DateOnly)
	n := 0
	for k := 1; ; k++ {
		d := from.AddDate(0, 0, k)
		if d.Format(time.DateOnly) > last {
			return n
		}
		if w.IsBusinessDay(d) {
			n++
		}
	}
}

// Add returns t moved on by p, counting p's days as business days when
// business is set (months stay calendar months, counted in w's zone with
// them). A calendar period (business unset) is the same instant in any
// zone: p.AddTo(t).
func (w Workdays) Add(t time.Time, p Period, business bool) time.Time {
	if !business {
		return p.AddTo(t)
	}
	return w.AddBusinessDays(Period{Months: p.Months}.AddTo(w.Local(t)), p.Days)
}

// Workdays are r's business days with the holidays h of its calendar,
// dates read in r's Timezone. A rule without one (every rule a workflow
// carried before rules had zones) reads them in each time's own location.
// The error names the rule when its zone is unknown to this binary.
func (r Rule) Workdays(h Holidays) (Workdays, error) {
	if r.Timezone == "" {
		return Workdays{Holidays: h}, nil
	}
	loc, err := LoadZone(r.Timezone)
	if err != nil {
		return Workdays{}, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	return Workdays{Holidays: h, Zone: loc}, nil
}

// Due is the deadline of a request of type t received at received under r:
// the opt-out track's period when it governs t, else the rule's period.
func (r Rule) Due(t RequestType, received time.Time, w Workdays) time.Time {
	if tr := r.OptOutTrack(t); tr != nil {
		return w.Add(received, tr.Period, tr.BusinessDays)
	}
	return w.Add(received, r.Period, r.BusinessDays)
}

// ExtensionFor is how far the deadline of a request of type t may be
// extended under r: the opt-out track's own extension when it governs t
// (none on California's: CCPA regs §7026(f) give 15 business days and no
// more), else the rule's extension.
func (r Rule) ExtensionFor(t RequestType) Period {
	if tr := r.OptOutTrack(t); tr != nil {
		return tr.Extension
	}
	return r.Extension
}

// AcknowledgeBy is when receipt must be confirmed, and whether the rule asks
// for a confirmation at all.
func (r Rule) AcknowledgeBy(received time.Time, w Workdays) (time.Time, bool) {
	if r.Acknowledge.IsZero() {
		return time.Time{}, false
	}
	return w.Add(received, r.Acknowledge, r.AckBusinessDays), true
}
