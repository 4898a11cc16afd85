// Package locale holds what the requester reads in their language: the
// languages offered, the choice of one from a browser's Accept-Language,
// the message catalog, and dates and numbers written for a language.
// Staff-facing text stays English and does not use it.
package locale

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Lang is a language requesters are answered in: its ISO 639-1 code, as
// stored with a request (requests.language) and sent in ?lang= and the
// lang cookie.
type Lang string

// The languages offered. English is the default and the fallback of every
// message.
const (
	English Lang = "en"
	German  Lang = "de"
	French  Lang = "fr"
	Spanish Lang = "es"
)

// Langs lists the languages offered, in the picker's order.
var Langs = []Lang{English, German, French, Spanish}

var tags = []language.Tag{language.English, language.German, language.French, language.Spanish}

var matcher = language.NewMatcher(tags)

// Parse reads a language code ("de", "de-DE", "DE"); ok is false for a
// language not offered.
func Parse(s string) (Lang, bool) {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "-")
	base, _, _ = strings.Cut(base, "_")
	for _, l := range Langs {
		if string(l) == base {
			return l, true
		}
	}
	return "", false
}

// Valid reports whether l is a language offered.
func (l Lang) Valid() bool {
	_, ok := Parse(string(l))
	return ok && string(l) == strings.ToLower(string(l))
}

// Or is l, or English when l is not a language offered (an empty column, a
// stale cookie).
func (l Lang) Or() Lang {
	if p, ok := Parse(string(l)); ok {
		return p
	}
	return English
}

// Name is the language's name in itself, for the picker.
func (l Lang) Name() string {
	switch l {
	case German:
		return "Deutsch"
	case French:
		return "Français"
	case Spanish:
		return "Español"
	}
	return "English"
}

// Tag is the language's BCP 47 tag.
func (l Lang) Tag() language.Tag {
	for i, v := range Langs {
		if v == l {
			return tags[i]
		}
	}
	return language.English
}

// FromAcceptLanguage picks the offered language that best fits an
// Accept-Language header (RFC 9110 12.5.4, with weights); English when none
// fits or the header is empty or malformed.
func FromAcceptLanguage(header string) Lang {
	if strings.TrimSpace(header) == "" {
		return English
	}
	prefs, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(prefs) == 0 {
		return English
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		return English
	}
	return Langs[i]
}

// T is message id in language l, filled with args as fmt does (numbers
// written for the language). A message not translated into l is English;
// an unknown id is itself, which TestCatalogComplete forbids for every id
// the code uses.
func T(l Lang, id string, args ...any) string {
	return Format(l, Text(l, id), args...)
}

// Text is message id in language l, unfilled: English when l lacks it, the
// id itself when the catalog lacks it.
func Text(l Lang, id string) string {
	m, ok := catalog[id]
	if !ok {
		return id
	}
	if text := m[index(l)]; text != "" {
		return text
	}
	return m[0]
}

// Format fills format with args as fmt does, numbers written for l.
func Format(l Lang, format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return message.NewPrinter(l.Or().Tag()).Sprintf(format, args...)
}

// Has reports whether id is a message of the catalog.
func Has(id string) bool { _, ok := catalog[id]; return ok }

// IDs lists every message id, for tests.
func IDs() []string {
	ids := make([]string, 0, len(catalog))
	for id := range catalog {
		ids = append(ids, id)
	}
	return ids
}

// Missing lists the languages message id lacks.
func Missing(id string) []Lang {
	var out []Lang
	for i, l := range Langs {
		if catalog[id][i] == "" {
			out = append(out, l)
		}
	}
	return out
}

func index(l Lang) int {
	for i, v := range Langs {
		if v == l {
			return i
		}
	}
	return 0
}

var months = [4][12]string{
	{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
}

// Date writes t's day in UTC as people of language l do; see DateIn.
func Date(l Lang, t time.Time) string { return DateIn(l, t, time.UTC) }

// DateIn writes t's day in zone loc (nil: UTC) as people of language l do:
// 2 March 2027, 2. März 2027, 2 mars 2027, 2 de marzo de 2027. A request's
// dates are written in its rule's zone, so that a requester in California
// reads the Pacific day on which they wrote. The zero time is "".
func DateIn(l Lang, t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	d, m, y := t.Day(), months[index(l.Or())][t.Month()-1], t.Year()
	switch l.Or() {
	case German:
		return fmt.Sprintf("%d. %s %d", d, m, y)
	case Spanish:
		return fmt.Sprintf("%d de %s de %d", d, m, y)
	case French:
		if d == 1 {
			return fmt.Sprintf("1er %s %d", m, y)
		}
	}
	return fmt.Sprintf("%d %s %d", d, m, y)
}

// Stamp writes t in UTC as a date and a time of day; see StampIn.
func Stamp(l Lang, t time.Time) string { return StampIn(l, t, time.UTC) }

// StampIn writes t in zone loc (nil: UTC) as a date and a time of day
// named with its zone, so a reader elsewhere can tell the hour: 2 March
// 2027, 14:05 UTC in English; 2 March 2027, 06:05 PST in Pacific time,
// with the date as DateIn writes it. A zone without a lettered abbreviation
// is named by its offset (UTC-03).
func StampIn(l Lang, t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	sep := ", "
	if l.Or() == French {
		sep = " à "
	}
	t = t.In(loc)
	return DateIn(l, t, loc) + sep + t.Format("15:04") + " " + zoneName(t)
}

// zoneName names t's zone as its clocks show it: its abbreviation (UTC,
// PST, BST), or its offset from UTC where the zone has none in letters.
func zoneName(t time.Time) string {
	name, offset := t.Zone()
	if name != "" && (name[0] >= 'A' && name[0] <= 'Z') {
		return name
	}
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	h, m := offset/3600, offset%3600/60
	if m != 0 {
		return fmt.Sprintf("UTC%s%02d:%02d", sign, h, m)
	}
	return fmt.Sprintf("UTC%s%02d", sign, h)
}

// Number writes an integer with the language's digit grouping: 12,345;
// 12.345; 12 345; 12.345.
func Number(l Lang, n int64) string {
	return message.NewPrinter(l.Or().Tag()).Sprint(n)
}

// Size writes a number of bytes for people as humanBytes always has (10
// MiB, 1.5 MiB, 512 KiB, 300 bytes), with the language's decimal comma and
// word for bytes.
func Size(l Lang, n int64) string {
	p := message.NewPrinter(l.Or().Tag())
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return p.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return p.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return p.Sprintf("%d KiB", n>>10)
	}
	return p.Sprintf("%d %s", n, T(l, "unit.bytes"))
}

// SizeSI writes a number of bytes in decimal units (1.5 MB; 1,5 MB in
// German, French and Spanish), as the access package's index does.
func SizeSI(l Lang, n int64) string {
	p := message.NewPrinter(l.Or().Tag())
	const unit = 1000
	if n < unit {
		return p.Sprintf("%d %s", n, T(l, "unit.bytes"))
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return p.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
