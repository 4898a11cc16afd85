package dsar

import "strings"

// Rule is one jurisdiction's clock rule: which requesters it covers
// (countries of residence, or subdivisions where the law is the state's), how
// long the company has to answer and by how much it may extend, how receipt
// must be acknowledged, the shorter track for opt-outs, whether the clock may
// stop, and the appeal the requester has against the answer. The workflow
// gets the rule matched at intake as a snapshot (see workflows.Input.Rule),
// so a change of config never moves a running request's clocks.
type Rule struct {
	ID        string   `mapstructure:"id" json:"id"`
	Name      string   `mapstructure:"name" json:"name"`
	Countries []string `mapstructure:"countries" json:"countries,omitempty"`
	Regions   []string `mapstructure:"regions" json:"regions,omitempty"`
	Period    Period   `mapstructure:"period" json:"period"`
	Extension Period   `mapstructure:"extension" json:"extension"`

	// BusinessDays: Period and Extension count business days (weekdays
	// outside Calendar's holidays), not calendar days.
	BusinessDays bool `mapstructure:"business_days" json:"business_days,omitempty"`
	// Calendar is the holiday calendar's id (see package holidays): "us",
	// "us-ca", "gb-eng"; empty: weekends only.
	Calendar string `mapstructure:"calendar" json:"calendar,omitempty"`
	// Timezone is the IANA time zone in which business days and holidays
	// are read ("America/Los_Angeles"): a request received there on a
	// Friday evening counts from that Friday. Calendar periods are the
	// same instant in any zone. Empty: UTC.
	Timezone string `mapstructure:"timezone" json:"timezone,omitempty"`
	// ExtensionNotice says how the requester must be told of an extension
	// (words for staff).
	ExtensionNotice string `mapstructure:"extension_notice" json:"extension_notice,omitempty"`
	// ExtensionNoticeWithin is how long after receipt an extension may still
	// be noticed (GDPR: P1M); zero: any time before the deadline.
	ExtensionNoticeWithin Period `mapstructure:"extension_notice_within" json:"extension_notice_within"`
	// Acknowledge is the period within which receipt must be confirmed
	// (CCPA: 10 business days); zero: no acknowledgement is due.
	Acknowledge     Period `mapstructure:"acknowledge" json:"acknowledge"`
	AckBusinessDays bool   `mapstructure:"ack_business_days" json:"ack_business_days,omitempty"`
	// AckMail: the requester is sent an automatic acknowledgement mail.
	AckMail bool `mapstructure:"ack_mail" json:"ack_mail,omitempty"`
	// OptOut is the separate track for opt_out and do_not_sell requests;
	// nil: they follow the main period.
	OptOut *Track `mapstructure:"opt_out" json:"opt_out,omitempty"`
	// Pause: the clock may stop while the company waits for the requester's
	// identity or a clarification.
	Pause bool `mapstructure:"pause" json:"pause,omitempty"`
	// Appeal is the requester's right to appeal the answer; nil: none.
	Appeal *AppealRule `mapstructure:"appeal" json:"appeal,omitempty"`
	// Source is the statute citation, shown on the request page and in docs.
	Source string `mapstructure:"source" json:"source,omitempty"`
}

// Track is a separate clock for some request types (opt-out, do-not-sell).
type Track struct {
	Period       Period `mapstructure:"period" json:"period"`
	BusinessDays bool   `mapstructure:"business_days" json:"business_days,omitempty"`
	// Extension is how far the track's deadline may be extended: none
	// unless set (California's 15 business days allow none).
	Extension Period `mapstructure:"extension" json:"extension,omitzero"`
	// NoIdentityDocument: the law forbids requiring proof of identity for
	// these requests; the form asks for none and verification is skipped.
	NoIdentityDocument bool `mapstructure:"no_identity_document" json:"no_identity_document,omitempty"`
}

// AppealRule is the requester's right to appeal a refusal or a partial answer.
type AppealRule struct {
	// Window is how long after the decision the requester may appeal.
	Window Period `mapstructure:"window" json:"window"`
	// Period is the deadline to decide an appeal, from its receipt.
	Period       Period `mapstructure:"period" json:"period"`
	BusinessDays bool   `mapstructure:"business_days" json:"business_days,omitempty"`
	// Authority is the name of the authority a requester whose appeal is
	// upheld may complain to, and Contact its complaint contact (a URL or
	// an address).
	Authority string `mapstructure:"authority" json:"authority,omitempty"`
	Contact   string `mapstructure:"contact" json:"contact,omitempty"`
}

// OptOutTrack is the track that governs requests of type t under r: r.OptOut
// for opt-out and do-not-sell requests when the rule has one, else nil.
func (r Rule) OptOutTrack(t RequestType) *Track {
	if r.OptOut != nil && (t == RequestOptOut || t == RequestDoNotSell) {
		return r.OptOut
	}
	return nil
}

// Rules is the jurisdiction table, searched in order: a rule that names the
// requester's region wins over one that names the country.
type Rules []Rule

// ByID returns the rule whose id is id, and whether there is one.
func (rs Rules) ByID(id string) (Rule, bool) {
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

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
