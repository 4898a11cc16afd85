package locale_test

import (
	"slices"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
)

// TestCatalogComplete lists every message id that lacks a language: none
// may, so no requester reads English in a German page by omission.
func TestCatalogComplete(t *testing.T) {
	ids := locale.IDs()
	slices.Sort(ids)
	for _, id := range ids {
		if missing := locale.Missing(id); len(missing) > 0 {
			t.Errorf("message %q has no %v", id, missing)
		}
	}
}

// TestDomainWordsHaveMessages: every request type, requestor type, status,
// rejection reason and task outcome has its message, so no code reaches the
// requester as itself.
func TestDomainWordsHaveMessages(t *testing.T) {
	var ids []string
	for _, v := range dsar.RequestTypes {
		ids = append(ids, "reqtype."+string(v))
	}
	for _, v := range dsar.RequestorTypes {
		ids = append(ids, "requestor."+string(v))
	}
	for _, v := range dsar.Statuses {
		ids = append(ids, "status."+string(v))
	}
	for r := range dsar.RejectReasons {
		ids = append(ids, "reason."+string(r))
	}
	ids = append(ids, "task.")
	for _, o := range dsar.TaskOutcomes {
		ids = append(ids, "task."+string(o))
	}
	for _, id := range ids {
		if !locale.Has(id) {
			t.Errorf("no message %q", id)
		}
	}
	// The English reasons are the ones reasons.go states.
	for r, text := range dsar.RejectReasons {
		if got := locale.T(locale.English, "reason."+string(r)); got != text {
			t.Errorf("reason %s: catalog says %q, reasons.go %q", r, got, text)
		}
	}
}

func TestFromAcceptLanguage(t *testing.T) {
	for header, want := range map[string]locale.Lang{
		"":                          locale.English,
		"de-DE,de;q=0.9,en;q=0.8":   locale.German,
		"fr-CH, fr;q=0.9, en;q=0.8": locale.French,
		"es-MX":                     locale.Spanish,
		"it-IT,it;q=0.9":            locale.English,
		"it;q=0.9,es;q=0.5":         locale.Spanish,
		"en-GB,de;q=0.5":            locale.English,
		"de;q=0.2,fr;q=0.8":         locale.French,
		";;;garbage":                locale.English,
	} {
		if got := locale.FromAcceptLanguage(header); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]locale.Lang{"de": locale.German, "DE-at": locale.German, "fr_CA": locale.French, "es": locale.Spanish, "en": locale.English} {
		if got, ok := locale.Parse(in); !ok || got != want {
			t.Errorf("Parse(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "it", "xx", "deu"} {
		if _, ok := locale.Parse(in); ok {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
}

func TestDatesAndNumbers(t *testing.T) {
	d := time.Date(2027, 3, 1, 14, 5, 0, 0, time.UTC)
	for l, want := range map[locale.Lang][3]string{
		locale.English: {"1 March 2027", "12,345", "1.5 MiB"},
		locale.German:  {"1. März 2027", "12.345", "1,5 MiB"},
		locale.French:  {"1er mars 2027", "12\u00a0345", "1,5 MiB"},
		locale.Spanish: {"1 de marzo de 2027", "12.345", "1,5 MiB"},
	} {
		got := [3]string{locale.Date(l, d), locale.Number(l, 12345), locale.Size(l, 3<<19)}
		if got != want {
			t.Errorf("%s: %q, want %q", l, got, want)
		}
	}
	if got := locale.T(locale.German, "requests.unread", 1234); got != "1.234 neu" {
		t.Errorf("German message with a number: %q", got)
	}
}

// TestDatesInAZone: a request's dates are read in its rule's zone. A
// Californian's Friday 18:00 (02:00 UTC on Saturday) is Friday's date in
// Pacific time, Saturday's in UTC; a time names its zone.
func TestDatesInAZone(t *testing.T) {
	pacific, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	saoPaulo, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	friday := time.Date(2026, 12, 12, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		l           locale.Lang
		loc         *time.Location
		date, stamp string
	}{
		{locale.English, pacific, "11 December 2026", "11 December 2026, 18:00 PST"},
		{locale.German, pacific, "11. Dezember 2026", "11. Dezember 2026, 18:00 PST"},
		{locale.French, pacific, "11 décembre 2026", "11 décembre 2026 à 18:00 PST"},
		{locale.Spanish, pacific, "11 de diciembre de 2026", "11 de diciembre de 2026, 18:00 PST"},
		{locale.English, nil, "12 December 2026", "12 December 2026, 02:00 UTC"},
		{locale.English, time.UTC, "12 December 2026", "12 December 2026, 02:00 UTC"},
		{locale.English, saoPaulo, "11 December 2026", "11 December 2026, 23:00 UTC-03"},
	} {
		if got := locale.DateIn(c.l, friday, c.loc); got != c.date {
			t.Errorf("%s in %v: %q, want %q", c.l, c.loc, got, c.date)
		}
		if got := locale.StampIn(c.l, friday, c.loc); got != c.stamp {
			t.Errorf("%s in %v: %q, want %q", c.l, c.loc, got, c.stamp)
		}
	}
	if got := locale.Date(locale.English, friday); got != "12 December 2026" {
		t.Errorf("Date reads UTC: %q", got)
	}
}

func TestErrorsTranslated(t *testing.T) {
	if got := locale.Error(locale.German, "enter your first name"); got != "Bitte geben Sie Ihren Vornamen ein" {
		t.Errorf("German: %q", got)
	}
	if got := locale.Error(locale.French, "must be at most 100 characters"); got != "ne doit pas dépasser 100 caractères" {
		t.Errorf("French with a number: %q", got)
	}
	if got := locale.Error(locale.Spanish, "something unknown"); got != "something unknown" {
		t.Errorf("unknown text: %q", got)
	}
}
