package config_test

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar/locale"
)

// TestCompanyWordingPerLanguage: company.texts and company.authority are
// read per language and jurisdiction, fall back to English then to the
// defaults, and bad keys are refused naming the key.
func TestCompanyWordingPerLanguage(t *testing.T) {
	cfg, err := devConfig(t, map[string]any{
		"company.name": "Acme",
		"company.texts": map[string]any{
			"en": map[string]any{"signature": "The Acme privacy team", "privacy_url": "https://acme.example/privacy"},
			"de": map[string]any{"form_intro": "Willkommen.", "privacy_url": "https://acme.example/de/datenschutz"},
		},
		"company.authority": map[string]any{
			"gdpr": map[string]any{"de": map[string]any{"name": "die BfDI", "url": "https://www.bfdi.bund.de"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	de := cfg.CompanyText(locale.German)
	if de.FormIntro != "Willkommen." || de.Signature != "The Acme privacy team" || de.PrivacyURL != "https://acme.example/de/datenschutz" {
		t.Errorf("German texts: %+v", de)
	}
	if fr := cfg.CompanyText(locale.French); fr.FormIntro != "" || fr.PrivacyURL != "https://acme.example/privacy" {
		t.Errorf("French texts fall back to English: %+v", fr)
	}
	if a := cfg.AuthorityOf("gdpr", locale.German); a.Name != "die BfDI" {
		t.Errorf("German GDPR authority: %+v", a)
	}
	if a := cfg.AuthorityOf("us_ccpa", locale.Spanish); a.Name != locale.T(locale.Spanish, "authority.default") {
		t.Errorf("default authority in Spanish: %+v", a)
	}
	for key, v := range map[string]any{
		"company.texts":     map[string]any{"it": map[string]any{"form_intro": "Ciao"}},
		"company.authority": map[string]any{"mars": map[string]any{"en": map[string]any{"name": "x"}}},
	} {
		_, err := devConfig(t, map[string]any{key: v})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s %v: error %v, want one naming the key", key, v, err)
		}
	}
}
