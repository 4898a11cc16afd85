package activities_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/store"
)

// TestRequesterMailsCarryTheReference (issue 15, item 7): every mail to the
// requester, sent through Resend's API, names the request by the reference
// the console and the portal show, near its top, in its text and HTML.
func TestRequesterMailsCarryTheReference(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	for _, kind := range []string{activities.MailVerification, activities.MailVerificationReminder, activities.MailAccepted, activities.MailExtension,
		activities.MailCompleted, activities.MailRejected, activities.MailWithdrawn, activities.MailPortalInvitation} {
		to := strings.ReplaceAll(kind, "_", "-") + "@example.org"
		id := f.request(store.PII{FirstName: "Ada", Email: to})
		key := "dsar-" + id + ":" + kind
		var err error
		if kind == activities.MailPortalInvitation {
			_, err = f.acts.SendPortalInvitation(f.ctx, activities.PortalInvitation{RequestID: id, Key: key})
		} else {
			err = f.acts.SendRequesterMail(f.ctx, activities.RequesterMail{RequestID: id, Kind: kind, Key: key,
				RequestType: dsar.RequestInfo, Deadline: time.Now().AddDate(0, 2, 0), ExtensionDays: 30, ExtensionReason: "many systems",
				Reasons: []dsar.RejectReason{dsar.RejectExcessive}, TokenTTL: time.Hour})
		}
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		m := mailTo(t, srv, to)
		ref := dsar.Reference(id)
		if !strings.Contains(m.Text, "Your reference: "+ref) || !strings.Contains(m.HTML, ref) {
			t.Errorf("the %s mail does not name %s:\n%s", kind, ref, m.Text)
		}
		if at := strings.Index(m.Text, ref); at > strings.Index(m.Text, "Hello") {
			t.Errorf("the %s mail names its reference below the greeting:\n%s", kind, m.Text)
		}
	}
}

// TestVerificationMailsEchoNothingTyped: the verification mail and its
// reminder go to an address nobody has shown to be theirs yet, and so do
// the mail that an opt-out accepted at submission is acted on and any mail
// after it while its link is not opened (AddressUnverified): they carry
// nothing the sender typed (a stranger could type someone else's address
// and a name or message for them to read); once the address is verified,
// mail greets the requester by name.
func TestVerificationMailsEchoNothingTyped(t *testing.T) {
	f, srv := resendFixture(t, "digest")
	for _, kind := range []string{activities.MailVerification, activities.MailVerificationReminder, activities.MailAccepted,
		activities.MailCompleted} {
		to := "unverified-" + strings.ReplaceAll(kind, "_", "-") + "@example.org"
		id := f.request(store.PII{FirstName: "Call 0900 555 to claim", LastName: "Zanzibar", Email: to})
		if err := f.acts.SendRequesterMail(f.ctx, activities.RequesterMail{RequestID: id, Kind: kind, Key: "dsar-" + id + ":" + kind,
			RequestType: dsar.RequestOptOut, TokenTTL: time.Hour, Received: time.Now(), AddressUnverified: kind == activities.MailCompleted}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		m := mailTo(t, srv, to)
		for _, body := range []string{m.Text, m.HTML, m.Subject} {
			if strings.Contains(body, "0900") || strings.Contains(body, "Zanzibar") {
				t.Errorf("the %s mail echoes what was typed:\n%s", kind, body)
			}
		}
		if !strings.Contains(m.Text, "Hello,") {
			t.Errorf("the %s mail's greeting:\n%s", kind, m.Text)
		}
	}
	to := "verified@example.org"
	id := f.request(store.PII{FirstName: "Ada", Email: to})
	if _, err := f.acts.SendPortalInvitation(f.ctx, activities.PortalInvitation{RequestID: id, Key: "dsar-" + id + ":invite"}); err != nil {
		t.Fatal(err)
	}
	if m := mailTo(t, srv, to); !strings.Contains(m.Text, "Ada") {
		t.Errorf("the invitation, after verification, does not greet by name:\n%s", m.Text)
	}
}
