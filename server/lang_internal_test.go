package server

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar/locale"
)

// TestFormErrorsTranslated: every message the form's validation can give
// has its German, French and Spanish text, so a requester never reads an
// English error beside a translated field.
func TestFormErrorsTranslated(t *testing.T) {
	long := strings.Repeat("x", 6000)
	subs := []submission{
		{},
		{FirstName: "a\x01", LastName: "\xff", Email: "nope", Description: "a\x00", Country: "ZZ", Region: "US-XX", Language: "it"},
		{FirstName: long, LastName: long, Email: long + "@example.org", Description: long + long, Country: "US", Region: "DE-BY"},
	}
	for _, sub := range subs {
		for field, why := range validate(sub, false) {
			if field == "language" {
				continue // API clients only: the form always sends a language offered
			}
			if !locale.ErrorKnown(why) {
				t.Errorf("%s: %q has no translation", field, why)
			}
		}
	}
	for _, why := range []string{"attach a photo or scan of an identity document (JPEG, PNG or PDF)", "this captcha was already used; solve a new one"} {
		if !locale.ErrorKnown(why) {
			t.Errorf("%q has no translation", why)
		}
	}
}
