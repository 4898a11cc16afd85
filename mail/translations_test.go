package mail_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/mail"
)

// requesterMails are the mails to requesters; staff_alerts is staff's and
// stays English.
var requesterMails = []string{"verify_email", "request_accepted", "portal_invitation", "deadline_extended", "request_completed",
	"request_rejected", "request_withdrawn", "message_waiting", "portal_sign_in", "appeal_decided", "acknowledgement"}

// company is the company as the mail templates read it.
type company struct {
	Name, PrivacyURL, PrimaryColor, AccentColor, AuthorityName, AuthorityURL string
}

// englishWords are words an English mail cannot do without and no German,
// French or Spanish one uses: one in a translation is English left behind.
var englishWords = regexp.MustCompile(`\b(Hello|Your|your|the|and|please|Please|we|We|request|link|email|Thank|If|you|until|reference|privacy|complain|data)\b`)

// TestEveryMailTranslated renders every requester mail in every language
// with every branch taken, and lists the mails without their own
// translation and any English word left in a translation.
func TestEveryMailTranslated(t *testing.T) {
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range locale.Langs {
		for _, name := range requesterMails {
			if !tmpl.Has(l, name) {
				t.Errorf("mail %s has no %s translation", name, l)
				continue
			}
			if l == locale.English {
				continue
			}
			for _, branch := range []bool{false, true} {
				data := map[string]any{
					"Company":   company{Name: "Acme", PrivacyURL: "https://acme.example/p", PrimaryColor: "#123456", AccentColor: "#654321", AuthorityName: "CNIL", AuthorityURL: "https://cnil.example"},
					"Signature": "Acme", "FirstName": "Zoë", "Reference": "R-1234", "RequestType": "X", "Deadline": locale.Date(l, time.Now()),
					"PortalURL": "https://acme.example/portal", "Link": "https://acme.example/l?token=x", "Expires": locale.Date(l, time.Now()),
					"Reminder": branch, "ExtensionDays": 30, "ExtensionReason": "Z", "Reasons": []string{"Z"}, "NothingToSend": branch,
					"Sources": []map[string]any{{"Name": "Billing", "Outcome": "Z", "Records": new(int64(3))}},
				}
				if branch {
					data["AppealUntil"] = locale.Date(l, time.Now())
					data["Upheld"] = true
					data["Explanation"] = "Z"
					data["Authority"] = "Virginia Attorney General"
					data["AuthorityContact"] = "https://oag.example/complaint"
					data["Package"] = map[string]any{"Size": "1,5 MB", "Expires": "Z"}
				}
				m, err := tmpl.RenderIn(l, name, "z@example.org", data)
				if err != nil {
					t.Fatalf("%s/%s: %v", l, name, err)
				}
				for part, text := range map[string]string{"subject": m.Subject, "text": m.Text, "html": stripTags(m.HTML)} {
					text = strings.NewReplacer("acme.example", "", "example.org", "", "token=x", "").Replace(text)
					if w := englishWords.FindAllString(text, -1); len(w) > 0 {
						t.Errorf("%s/%s %s holds English %q:\n%s", l, name, part, w, text)
					}
				}
			}
		}
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string { return tagRE.ReplaceAllString(s, " ") }

// TestGreetingWithoutName renders every requester mail in every language
// without the requester's name, as a mail to an address not yet shown to
// be theirs goes (an opt-out accepted at submission): the greeting reads
// without it, leaving no gap.
func TestGreetingWithoutName(t *testing.T) {
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	gap := regexp.MustCompile(`(Hello|Guten Tag|Bonjour) ,|Estimado/a :`)
	for _, l := range locale.Langs {
		for _, name := range requesterMails {
			data := map[string]any{"Company": company{Name: "Acme", AccentColor: "#654321"}, "Signature": "Acme", "RequestType": "X",
				"Deadline": "D", "Received": "R", "PortalURL": "https://acme.example/portal", "Link": "https://acme.example/l", "Expires": "E"}
			m, err := tmpl.RenderIn(l, name, "z@example.org", data)
			if err != nil {
				t.Fatalf("%s/%s: %v", l, name, err)
			}
			for part, text := range map[string]string{"text": m.Text, "html": stripTags(m.HTML)} {
				if g := gap.FindString(text); g != "" {
					t.Errorf("%s/%s %s: %q, a gap for the missing name:\n%s", l, name, part, g, text)
				}
			}
		}
	}
}
