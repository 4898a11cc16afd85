package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// TestCaliforniaOptOutQueuedWithoutConfirmation: a California do-not-sell
// request submitted through the API is answered as taken (identity
// verified, nothing to confirm), and is in the staff queue at once without
// anyone opening its link, its timeline saying why; its requester is
// mailed that it is acted on, with a link to follow it and without the
// name they typed. Opening the link later confirms the address and leaves
// the request where it was.
func TestCaliforniaOptOutQueuedWithoutConfirmation(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, tok := e.user(dsar.RoleManager)
	const email = "dns@example.org"
	fields := intakeFields(email, captchaFrom(t, e.http.URL))
	fields["country"], fields["region"], fields["request_type"] = "US", "US-CA", "do_not_sell"
	a := submitFrom(t, e.http.URL, "192.0.2.30", fields, nil)
	id := submittedID(t, a, "a California do-not-sell request")
	if ans := a.JSON(t); ans["status"] != string(dsar.StatusPendingEmailVerification) || ans["email_confirmation_required"] != false {
		t.Errorf("answer %v, want the contract's status pending_email_verification and email_confirmation_required false: the request needs no confirmation", ans)
	}

	inQueue := func() bool {
		q := e.want(e.do("GET", "/api/v1/requests", tok, nil), http.StatusOK, "queue").JSON(t)
		items, _ := q["items"].([]any)
		return slices.ContainsFunc(items, func(it any) bool {
			m, _ := it.(map[string]any)
			return m["id"] == id && m["status"] == string(dsar.StatusIdentityVerified)
		})
	}
	e.eventually("the unconfirmed opt-out in the queue", inQueue)
	e.eventually("its receipt acknowledged", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.AcknowledgedAt != nil
	})
	d := e.want(e.do("GET", "/api/v1/requests/"+id, tok, nil), http.StatusOK, "detail").JSON(t)
	if d["email_verified_at"] != nil || d["identity_required"] != false {
		t.Errorf("detail: email verified at %v, identity required %v; want neither", d["email_verified_at"], d["identity_required"])
	}
	var events []string
	tl, _ := d["timeline"].([]any)
	for _, x := range tl {
		m, _ := x.(map[string]any)
		events = append(events, m["event"].(string))
	}
	if !slices.Contains(events, workflows.EventOptOutAccepted) || !slices.Contains(events, workflows.EventIdentityNotRequired) {
		t.Errorf("timeline %v: want the acceptance without confirmation and the identity not required", events)
	}

	var token string
	e.eventually("the mail that it is acted on", func() bool {
		for _, m := range e.mailsTo(email) {
			if l := verifyLink.FindStringSubmatch(m.Text); l != nil && strings.Contains(m.Subject, "acting on it") {
				token = l[1]
				if strings.Contains(m.Text, "Ada") || strings.Contains(m.Text, "confirm your email") {
					t.Errorf("the mail names the requester or asks to confirm:\n%s", m.Text)
				}
				return true
			}
		}
		return false
	})
	if n := len(e.mailsTo(email)); n != 1 {
		t.Errorf("%d mails to the requester, want only the one saying it is acted on", n)
	}

	v := e.want(e.do("POST", "/api/v1/email-verifications", "", map[string]any{"token": token}), http.StatusOK, "confirm").JSON(t)
	if v["status"] != string(dsar.StatusIdentityVerified) {
		t.Errorf("confirmation answer %v, want the request still identity_verified", v)
	}
	e.eventually("the address recorded as confirmed", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.EmailVerifiedAt != nil && r.Status == dsar.StatusIdentityVerified
	})
	if !inQueue() {
		t.Error("the confirmed opt-out left the queue")
	}
}
