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
