package server

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/mail"
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

// californiaOptOut submits a California opt-out for email from the form's
// API, as a client at ip.
func californiaOptOut(t *testing.T, e *staffEnv, ip, email string) answer {
	t.Helper()
	fields := intakeFields(email, captchaFrom(t, e.http.URL))
	fields["country"], fields["region"], fields["request_type"] = "US", "US-CA", "opt_out"
	return submitFrom(t, e.http.URL, ip, fields, nil)
}

// acceptedMails are the mails to email saying a request is acted on.
func (e *staffEnv) acceptedMails(email string) int {
	e.t.Helper()
	return len(slices.DeleteFunc(e.mailsTo(email), func(m mail.OutboxMail) bool { return !strings.Contains(m.Subject, "acting on it") }))
}

// TestAcceptedOptOutsCountTowardTheEmailCap: opt-outs accepted at
// submission whose address nobody confirmed count toward the cap of
// unconfirmed requests per email, from any network: the fourth to one
// address is refused as a fourth unconfirmed request of any kind is (429
// naming the email), nothing is stored and no fourth mail goes to that
// address. Once one of them is confirmed it counts no more.
func TestAcceptedOptOutsCountTowardTheEmailCap(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"http.trusted_proxies": []string{"127.0.0.1/32", "::1/128"}})
	const victim = "victim@example.org"
	var ids []string
	for i, ip := range []string{"192.0.2.1", "198.51.100.2", "203.0.113.3"} {
		ids = append(ids, submittedID(t, californiaOptOut(t, e, ip, victim), fmt.Sprintf("opt-out %d", i+1)))
	}
	e.eventually("the three accepted at submission, each mailed", func() bool {
		for _, id := range ids {
			if r, err := e.db.Request(e.ctx, id, ""); err != nil || r.Status != dsar.StatusIdentityVerified {
				return false
			}
		}
		return e.acceptedMails(victim) == 3
	})

	over := californiaOptOut(t, e, "2001:db8:9::4", victim)
	want := ErrorDetail{Code: dsar.ERATELIMITED,
		Message: "requests from this email address are already waiting for it to be confirmed; confirm them with the link we emailed, or wait until they expire",
		Fields:  map[string]string{"email": "has too many requests waiting for their email to be confirmed; use the link we emailed you"}}
	if got := errorOf(t, over); over.Status != http.StatusTooManyRequests || !reflect.DeepEqual(got, want) {
		t.Fatalf("a fourth opt-out to one unconfirmed address: %d %+v, want 429 %+v", over.Status, got, want)
	}
	var stored int
	if err := e.db.Get(&stored, `SELECT count(*) FROM requests WHERE email_hash = $1`, e.keys.BlindIndex(victim)); err != nil || stored != 3 {
		t.Errorf("requests stored for the address: %d (%v), want 3", stored, err)
	}
	if n := e.acceptedMails(victim); n != 3 {
		t.Errorf("%d mails to the address, want 3", n)
	}

	// Its owner opens one link: that request counts no more.
	e.confirm(e.http.URL, ids[0], victim)
	e.eventually("the address of the first recorded as confirmed", func() bool {
		r, err := e.db.Request(e.ctx, ids[0], "")
		return err == nil && r.EmailVerifiedAt != nil
	})
	submittedID(t, californiaOptOut(t, e, "2001:db8:9::4", victim), "an opt-out once one is confirmed")
}

// TestAcceptedOptOutAddressCorrectedThroughTheAPI: an opt-out accepted at
// submission under a mistyped address is corrected through the API while
// the address is unconfirmed: the request stays identity verified, the
// corrected address is told the request is acted on (without the name),
// the old address's link no longer works and the new one confirms it;
// once confirmed, the address cannot be corrected and the 409 says why.
func TestAcceptedOptOutAddressCorrectedThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	const typo, right = "ada@exmaple.org", "ada@example.org"
	id := submittedID(t, californiaOptOut(t, e, "", typo), "an opt-out to a mistyped address")
	e.eventually("the mistyped address told it is acted on", func() bool { return e.acceptedMails(typo) == 1 })
	oldLink := linkIn(t, e, typo)

	path := "/api/v1/requests/" + id + "/email"
	fixed := e.want(e.do("PUT", path, manager, map[string]any{"email": right}), http.StatusOK, "correct").JSON(t)
	if fixed["status"] != string(dsar.StatusIdentityVerified) {
		t.Errorf("the correction's answer %v, want the request still identity_verified", fixed)
	}
	e.eventually("the corrected address told it is acted on", func() bool { return e.acceptedMails(right) == 1 })
	if m := e.mailsTo(right)[0]; strings.Contains(m.Text, "Ada") {
		t.Errorf("the mail to the corrected, unconfirmed address names the requester:\n%s", m.Text)
	}
	if p, err := e.db.RequestPII(e.ctx, e.keys, id); err != nil || p.Email != right {
		t.Fatalf("the request's address is %q (%v)", p.Email, err)
	}
	if r, err := e.db.Request(e.ctx, id, ""); err != nil || r.Status != dsar.StatusIdentityVerified || r.EmailVerifiedAt != nil {
		t.Errorf("after the correction: %s, verified at %v (%v); want identity_verified, unconfirmed", r.Status, r.EmailVerifiedAt, err)
	}
	e.want(e.do("POST", "/api/v1/email-verifications", "", map[string]string{"token": oldLink}), http.StatusGone, "the old link")
	v := e.want(e.do("POST", "/api/v1/email-verifications", "", map[string]string{"token": linkIn(t, e, right)}),
		http.StatusOK, "the new link").JSON(t)
	if v["status"] != string(dsar.StatusIdentityVerified) {
		t.Errorf("confirmation answer %v, want the request still identity_verified", v)
	}
	e.eventually("the corrected address confirmed", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.EmailVerifiedAt != nil
	})
	late := e.want(e.do("PUT", path, manager, map[string]any{"email": "ada2@example.org"}), http.StatusConflict, "after the confirmation")
	if msg := errorOf(t, late).Message; !strings.Contains(msg, "it was confirmed") {
		t.Errorf("the refusal says %q, want that the address was confirmed", msg)
	}
}
