package dsar

import "strings"

// Rule is one jurisdiction's deadline rule: which requesters it covers
// (countries of residence, or subdivisions where the law is the state's) and
// how long the company has to answer, and by how much it may extend.
type Rule struct {
	ID        string   `mapstructure:"id" json:"id"`
	Name      string   `mapstructure:"name" json:"name"`
	Countries []string `mapstructure:"countries" json:"countries,omitempty"`
	Regions   []string `mapstructure:"regions" json:"regions,omitempty"`
	Period    Period   `mapstructure:"period" json:"period"`
	Extension Period   `mapstructure:"extension" json:"extension"`
}

// Rules is the jurisdiction table, searched in order: a rule that names the
// requester's region wins over one that names the country.
type Rules []Rule

// Match returns the rule that covers a requester living in country (ISO
// 3166-1 alpha-2) and region (ISO 3166-2, may be empty), and whether one does.
func (rs Rules) Match(country, region string) (Rule, bool) {
	country, region = strings.ToUpper(country), strings.ToUpper(region)
	if region != "" {
		for _, r := range rs {
			for _, v := range r.Regions {
				if strings.EqualFold(v, region) {
					return r, true
				}
			}
		}
	}
	for _, r := range rs {
		for _, v := range r.Countries {
			if strings.EqualFold(v, country) {
				return r, true
			}
		}
	}
	return Rule{}, false
}

// EEA lists the member states of the European Economic Area (the EU 27 plus
// Iceland, Liechtenstein and Norway), where the GDPR applies.
var EEA = []string{
	"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
	"LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
}

// DefaultRules is the jurisdiction table shipped with the service. Periods are
// the statutory ones; a company may shorten them in config, never lengthen.
var DefaultRules = Rules{
	{ID: "gdpr", Name: "EU/EEA GDPR, Art. 12(3)", Countries: EEA, Period: Period{Months: 1}, Extension: Period{Months: 2}},
	{ID: "uk_gdpr", Name: "UK GDPR, Art. 12(3)", Countries: []string{"GB"}, Period: Period{Months: 1}, Extension: Period{Months: 2}},
	{ID: "us_ccpa", Name: "California CCPA/CPRA", Regions: []string{"US-CA"}, Period: Period{Days: 45}, Extension: Period{Days: 45}},
	{ID: "us_vcdpa", Name: "Virginia VCDPA", Regions: []string{"US-VA"}, Period: Period{Days: 45}, Extension: Period{Days: 45}},
	{ID: "us_cpa", Name: "Colorado CPA", Regions: []string{"US-CO"}, Period: Period{Days: 45}, Extension: Period{Days: 45}},
	{ID: "br_lgpd", Name: "Brazil LGPD, Art. 19", Countries: []string{"BR"}, Period: Period{Days: 15}},
	{ID: "ca_pipeda", Name: "Canada PIPEDA, s. 8(3)", Countries: []string{"CA"}, Period: Period{Days: 30}, Extension: Period{Days: 30}},
}
