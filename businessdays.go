package dsar

import (
	"slices"
	"time"
)

// Holidays is a sorted list of dates (YYYY-MM-DD) that are not business days:
// the part of a holiday calendar a request's clocks can reach. Intake
// computes it (package holidays) and the workflow carries it, so the
// workflow's date arithmetic needs no calendar code and no config.
type Holidays []string

// IsBusinessDay reports whether the date of t is a weekday outside h. Dates
// are read in t's location (UTC for the workflow's times).
func (h Holidays) IsBusinessDay(t time.Time) bool {
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, found := slices.BinarySearch(h, t.Format(time.DateOnly))
	return !found
}

// AddBusinessDays returns t moved on by n business days, at the same time of
// day: the day of t does not count, and each following weekday that is not a
// holiday counts one. Zero or negative n returns t.
func (h Holidays) AddBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if h.IsBusinessDay(t) {
			n--
		}
	}
	return t
}

// BusinessDaysBetween counts the business days after the date of from up to
// and including the date of to: AddBusinessDays(from, n) falls on to's date
// when to is a business day. It is zero when to is not after from.
func (h Holidays) BusinessDaysBetween(from, to time.Time) int {
	n := 0
	for d := from.AddDate(0, 0, 1); !dateAfter(d, to); d = d.AddDate(0, 0, 1) {
		if h.IsBusinessDay(d) {
			n++
		}
	}
	return n
}

func dateAfter(a, b time.Time) bool {
	return a.Format(time.DateOnly) > b.Format(time.DateOnly)
}

// Add returns t moved on by p, counting p's days as business days when
// business is set (months stay calendar months).
func (h Holidays) Add(t time.Time, p Period, business bool) time.Time {
	if !business {
		return p.AddTo(t)
	}
	return h.AddBusinessDays(Period{Months: p.Months}.AddTo(t), p.Days)
}

// Due is the deadline of a request of type t received at received under r:
// the opt-out track's period when it governs t, else the rule's period.
func (r Rule) Due(t RequestType, received time.Time, h Holidays) time.Time {
	if tr := r.OptOutTrack(t); tr != nil {
		return h.Add(received, tr.Period, tr.BusinessDays)
	}
	return h.Add(received, r.Period, r.BusinessDays)
}

// ExtensionFor is how far the deadline of a request of type t may be
// extended under r: none on the opt-out track (CCPA regs §7026(f) give 15
// business days and no extension), else the rule's extension.
func (r Rule) ExtensionFor(t RequestType) Period {
	if r.OptOutTrack(t) != nil {
		return Period{}
	}
	return r.Extension
}

// AcknowledgeBy is when receipt must be confirmed, and whether the rule asks
// for a confirmation at all.
func (r Rule) AcknowledgeBy(received time.Time, h Holidays) (time.Time, bool) {
	if r.Acknowledge.IsZero() {
		return time.Time{}, false
	}
	return h.Add(received, r.Acknowledge, r.AckBusinessDays), true
}
