package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/opendsar/dsar/locale"
)

// DefaultAuthorityName is company.authority_name's default; left as it is,
// requesters read its translation into their language.
const DefaultAuthorityName = "your data protection supervisory authority"

// CompanyTexts is the company's own wording in one language. An empty
// field falls back to English's, then to the built-in text.
type CompanyTexts struct {
	// FormIntro replaces the form's introduction.
	FormIntro string `mapstructure:"form_intro"`
	// Signature ends every mail to the requester (default: company.name).
	Signature string `mapstructure:"signature"`
	// PrivacyURL is the privacy notice in this language (default:
	// company.privacy_url).
	PrivacyURL string `mapstructure:"privacy_url"`
}

// Authority is a supervisory authority as the requester reads of it.
type Authority struct {
	Name string `mapstructure:"name"`
	URL  string `mapstructure:"url"`
}

// CompanyText is the company's wording in language l, each field falling
// back to English's, then to the defaults (signature: the company's name;
// privacy notice: company.privacy_url; form introduction: "", the
// built-in one).
func (c *Config) CompanyText(l locale.Lang) CompanyTexts {
	own, en := c.Company.Texts[string(l.Or())], c.Company.Texts[string(locale.English)]
	pick := func(vs ...string) string {
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				return v
			}
		}
		return ""
	}
	return CompanyTexts{
		FormIntro:  pick(own.FormIntro, en.FormIntro),
		Signature:  pick(own.Signature, en.Signature, c.Company.Name),
		PrivacyURL: pick(own.PrivacyURL, en.PrivacyURL, c.Company.PrivacyURL),
	}
}

// AuthorityOf is the supervisory authority for a request under
// jurisdiction (a rule id) in language l: company.authority.<jurisdiction>
// in l, else in English, else company.authority_name and _url (their
// default name translated into l).
func (c *Config) AuthorityOf(jurisdiction string, l locale.Lang) Authority {
	byLang := c.Company.Authority[strings.ToLower(jurisdiction)]
	for _, k := range []locale.Lang{l.Or(), locale.English} {
		if a, ok := byLang[string(k)]; ok && a.Name != "" {
			return a
		}
	}
	a := Authority{Name: c.Company.AuthorityName, URL: c.Company.AuthorityURL}
	if a.Name == DefaultAuthorityName || a.Name == "" {
		a.Name = locale.T(l, "authority.default")
	}
	return a
}

// checkCompanyTexts validates company.texts and company.authority: known
// languages and jurisdictions, web links.
func (c *Config) checkCompanyTexts(bad func(key, format string, args ...any) error) error {
	web := func(v string) bool {
		u, err := url.Parse(v)
		return v == "" || err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
	}
	langs := fmt.Sprint(locale.Langs)
	for l, t := range c.Company.Texts {
		if !locale.Lang(l).Valid() {
			return bad("company.texts."+l, "is not a language offered %s", langs)
		}
		if !web(t.PrivacyURL) {
			return bad("company.texts."+l+".privacy_url", "must be an http(s) link, not %q", t.PrivacyURL)
		}
	}
	for j, byLang := range c.Company.Authority {
		known := false
		for _, r := range c.Jurisdictions {
			known = known || strings.EqualFold(r.ID, j)
		}
		if !known {
			return bad("company.authority."+j, "is not the id of a rule in jurisdictions")
		}
		for l, a := range byLang {
			key := "company.authority." + j + "." + l
			if !locale.Lang(l).Valid() {
				return bad(key, "is not a language offered %s", langs)
			}
			if a.Name == "" {
				return bad(key+".name", "must not be empty")
			}
			if !web(a.URL) {
				return bad(key+".url", "must be an http(s) link, not %q", a.URL)
			}
		}
	}
	return nil
}
