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
	for _, kind := range []string{activities.MailVerification, activities.MailVerificationReminder, activities.MailExtension,
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
