package mail_test

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar/mail"
)

// TestClosingMailsSayAnExplanationMayFollowInThePortal: the completion and
// rejection mails tell the requester that staff may explain further in the
// portal, that no mail will say when (their address is erased), and link
// to the portal, in the text and in the HTML part.
func TestClosingMailsSayAnExplanationMayFollowInThePortal(t *testing.T) {
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	const portal = "https://privacy.example.com/portal"
	company := map[string]string{"Name": "Example Ltd", "AuthorityName": "the data protection authority"}
	for _, kind := range []string{"request_completed", "request_rejected"} {
		t.Run(kind, func(t *testing.T) {
			m, err := tmpl.Render(kind, "ada@example.org", map[string]any{
				"FirstName": "Ada", "RequestType": "Access to my data", "PortalURL": portal,
				"Reasons": []string{"We could not confirm your identity."}, "Company": company,
			})
			if err != nil {
				t.Fatal(err)
			}
			for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
				flat := strings.Join(strings.Fields(body), " ")
				for _, want := range []string{
					"further explanation",
					"may follow",
					"we cannot write to tell you when it does: sign in to the portal to read it",
					"ask for a sign-in link",
					portal,
				} {
					if !strings.Contains(flat, want) {
						t.Errorf("the %s part does not say %q:\n%s", part, want, body)
					}
				}
			}
		})
	}
}
