package mail_test

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/mail"
)

// TestClosingMailsOfferTheAppeal: a closing mail with an appeal window says
// until when to appeal and that the name and email are kept for it, never
// that they are erased already; without one it offers no appeal.
func TestClosingMailsOfferTheAppeal(t *testing.T) {
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"request_rejected", "request_completed"} {
		for _, appeal := range []bool{true, false} {
			data := map[string]any{"FirstName": "Vera", "RequestType": "Deletion", "PortalURL": "https://privacy.example/portal",
				"Reasons": []string{"Unfounded"}, "Signature": "Acme"}
			if appeal {
				data["AppealUntil"] = "1 June 2026"
			}
			m, err := tmpl.RenderIn(locale.English, name, "vera@example.org", data)
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range []string{m.Text, m.HTML} {
				offers := strings.Contains(text, "You may appeal our decision until 1 June 2026")
				erased := strings.Contains(text, "we no longer hold your email address") || strings.Contains(text, "erased the contact details")
				if offers != appeal || (appeal && erased) {
					t.Errorf("%s with appeal %v: offers the appeal %v, says the address is erased %v:\n%s", name, appeal, offers, erased, text)
				}
			}
		}
	}
}
