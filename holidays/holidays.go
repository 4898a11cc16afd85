// Package holidays computes the public holidays of the calendars the
// jurisdiction rules count business days in. Every date is computed from its
// rule (a fixed date and how it is observed, the nth weekday of a month, or
// an offset from Easter), never listed per year, so the calendars hold for
// any year. One-off holidays a government declares (a royal jubilee, a
// national day of mourning) cannot be computed and are not included.
package holidays

import (
	"slices"
	"time"
)

// Calendar ids.
const (
	US    = "us"     // United States federal holidays (5 U.S.C. §6103)
	USCA  = "us-ca"  // California state holidays (Cal. Gov. Code §6700)
	GBENG = "gb-eng" // England and Wales bank holidays
)

// Known reports whether id names a calendar this package computes. The empty
// id is known: it is the calendar with no holidays (weekends only).
func Known(id string) bool {
	switch id {
	case "", US, USCA, GBENG:
		return true
	}
	return false
}

// In returns the holidays of calendar id in year, sorted, as dates at
// midnight UTC. An unknown or empty id has none.
func In(id string, year int) []time.Time {
	var ds []time.Time
	switch id {
	case US:
		ds = federal(year)
	case USCA:
		ds = california(year)
	case GBENG:
		ds = england(year)
	}
	slices.SortFunc(ds, func(a, b time.Time) int { return a.Compare(b) })
	return slices.Compact(ds)
}

// Between returns the holidays of calendar id from the date of from to the
// date of to, both included, as YYYY-MM-DD strings in order: the form a
// workflow carries in its input.
func Between(id string, from, to time.Time) []string {
	first, last := day(from.Year(), from.Month(), from.Day()), day(to.Year(), to.Month(), to.Day())
	var out []string
	for y := from.Year(); y <= to.Year(); y++ {
		for _, d := range In(id, y) {
			if !d.Before(first) && !d.After(last) {
				out = append(out, d.Format(time.DateOnly))
			}
		}
	}
	return out
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// nth is the n-th weekday wd of month m (n from 1), or the last one when n is -1.
func nth(y int, m time.Month, wd time.Weekday, n int) time.Time {
	if n < 0 {
		last := day(y, m+1, 0)
		return last.AddDate(0, 0, -((int(last.Weekday()) - int(wd) + 7) % 7))
	}
	first := day(y, m, 1)
	return first.AddDate(0, 0, (int(wd)-int(first.Weekday())+7)%7+7*(n-1))
}

// federalObserved moves a fixed federal holiday on a Saturday to the Friday
// before and one on a Sunday to the Monday after (5 U.S.C. §6103(b)).
func federalObserved(d time.Time) time.Time {
	switch d.Weekday() {
	case time.Saturday:
		return d.AddDate(0, 0, -1)
	case time.Sunday:
		return d.AddDate(0, 0, 1)
	}
	return d
}

// federal is the year's federal holidays as observed. New Year's Day of the
// next year observed on 31 December of this one counts in this one.
func federal(y int) []time.Time {
	ds := []time.Time{
		nth(y, time.January, time.Monday, 3),    // Birthday of Martin Luther King, Jr.
		nth(y, time.February, time.Monday, 3),   // Washington's Birthday
		nth(y, time.May, time.Monday, -1),       // Memorial Day
		nth(y, time.September, time.Monday, 1),  // Labor Day
		nth(y, time.October, time.Monday, 2),    // Columbus Day
		nth(y, time.November, time.Thursday, 4), // Thanksgiving Day
	}
	for _, d := range []time.Time{
		day(y, time.June, 19), day(y, time.July, 4), day(y, time.November, 11), day(y, time.December, 25),
	} {
		ds = append(ds, federalObserved(d))
	}
	if ny := federalObserved(day(y, time.January, 1)); ny.Year() == y {
		ds = append(ds, ny)
	}
	if next := federalObserved(day(y+1, time.January, 1)); next.Year() == y {
		ds = append(ds, next)
	}
	return ds
}

// california is the year's California state holidays on which state offices
// close: a holiday on a Sunday is observed the Monday after; one on a
// Saturday is not moved, except Veterans Day, observed the Friday before
// (Cal. Gov. Code §§6700, 6701, 19853).
func california(y int) []time.Time {
	sunday := func(d time.Time) time.Time {
		if d.Weekday() == time.Sunday {
			return d.AddDate(0, 0, 1)
		}
		return d
	}
	veterans := sunday(day(y, time.November, 11))
	if veterans.Weekday() == time.Saturday {
		veterans = veterans.AddDate(0, 0, -1)
	}
	thanksgiving := nth(y, time.November, time.Thursday, 4)
	return []time.Time{
		sunday(day(y, time.January, 1)),
		nth(y, time.January, time.Monday, 3),  // Martin Luther King, Jr. Day
		nth(y, time.February, time.Monday, 3), // Presidents' Day
		sunday(day(y, time.March, 31)),        // César Chávez Day
		nth(y, time.May, time.Monday, -1),     // Memorial Day
		sunday(day(y, time.July, 4)),
		nth(y, time.September, time.Monday, 1), // Labor Day
		veterans,                               // Veterans Day
		thanksgiving,
		thanksgiving.AddDate(0, 0, 1), // the day after Thanksgiving
		sunday(day(y, time.December, 25)),
	}
}

// Easter is the date of Easter Sunday in the Gregorian calendar (the
// anonymous Gregorian algorithm, also known as Meeus/Jones/Butcher).
func Easter(y int) time.Time {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	dd := (h+l-7*m+114)%31 + 1
	return day(y, time.Month(month), dd)
}

// england is the year's bank holidays in England and Wales (Banking and
// Financial Dealings Act 1971, Sch. 1, and the yearly proclamations that
// keep the same pattern): a holiday on a weekend is substituted by the next
// weekday that is not already a holiday.
func england(y int) []time.Time {
	easter := Easter(y)
	ds := []time.Time{
		easter.AddDate(0, 0, -2),             // Good Friday
		easter.AddDate(0, 0, 1),              // Easter Monday
		nth(y, time.May, time.Monday, 1),     // early May bank holiday
		nth(y, time.May, time.Monday, -1),    // spring bank holiday
		nth(y, time.August, time.Monday, -1), // summer bank holiday
	}
	taken := func(d time.Time) bool { return slices.ContainsFunc(ds, d.Equal) }
	for _, d := range []time.Time{day(y, time.January, 1), day(y, time.December, 25), day(y, time.December, 26)} {
		for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || taken(d) {
			d = d.AddDate(0, 0, 1)
		}
		ds = append(ds, d)
	}
	return ds
}
