package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/mail"
)

var verifyLink = regexp.MustCompile(`/verify-email\?token=([A-Za-z0-9_-]+)`)

// mailsTo is every mail to email so far, newest first.
func (e *staffEnv) mailsTo(email string) []mail.OutboxMail {
	e.t.Helper()
	mails, err := e.server.Outbox.List(e.ctx, email, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	return mails
}

// verificationMail waits for the verification mail to email and returns
// the token of its link.
func (e *staffEnv) verificationMail(email string) string {
	e.t.Helper()
	var token string
	e.eventually("the verification mail reaches "+email, func() bool {
		for _, m := range e.mailsTo(email) {
			if l := verifyLink.FindStringSubmatch(m.Text); l != nil && strings.Contains(m.Subject, "confirm your email") {
				token = l[1]
				return true
			}
		}
		return false
	})
	return token
}

// verifiedWithPortal makes a request whose requester verified the address
// (from the mail) and opened a portal account, and returns its id and the
// requester's password.
func (e *staffEnv) verifiedWithPortal(email string) (id, password string) {
	e.t.Helper()
	id = e.request(newRequest{Country: "DE", Email: email})
	token := e.verificationMail(email)
	e.want(e.do("POST", "/api/v1/email-verifications", "", map[string]string{"token": token}), http.StatusOK, "verify the email")
	e.eventually("the email shows verified", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.EmailVerifiedAt != nil
	})
	password = "ada's long portal password"
	e.want(e.do("POST", "/api/v1/portal/accounts", "", map[string]string{"token": token, "password": password}),
		http.StatusCreated, "open a portal account")
	return id, password
}

// messageWaitingMails counts the "a message is waiting" mails to email.
func (e *staffEnv) messageWaitingMails(email string) int {
	e.t.Helper()
	n := 0
	for _, m := range e.mailsTo(email) {
		if strings.HasPrefix(m.IdempotencyKey, "message-waiting-") {
			n++
		}
	}
	return n
}

// TestMessageAfterClose: staff write to the requester of a rejected
// request, whose address is erased: 201 with notified false and no mail
// (while the request was open the same message was mailed about, notified
// true), and the requester reads it in the portal.
func TestMessageAfterClose(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, managerTok := e.user(dsar.RoleManager)
	const email = "ada-afterclose@example.org"
	id, password := e.verifiedWithPortal(email)

	open := e.want(e.do("POST", "/api/v1/requests/"+id+"/messages", managerTok, map[string]string{"body": "We are looking into it."}),
		http.StatusCreated, "write while open").JSON(t)
	if open["notified"] != true || e.messageWaitingMails(email) != 1 {
		t.Fatalf("while open: answer %v, %d mails; want notified and one mail", open, e.messageWaitingMails(email))
	}

	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", managerTok, map[string]any{"reasons": []string{"identity_not_verified"}}),
		http.StatusOK, "reject")
	e.eventually("the request is rejected and its PII erased", func() bool {
		d := e.want(e.do("GET", "/api/v1/requests/"+id, managerTok, nil), http.StatusOK, "detail").JSON(t)
		return d["status"] == "rejected" && d["pii_erased"] == true
	})

	const why = "To explain: the copy of the passport you sent had expired, so we could not confirm it was you."
	after := e.want(e.do("POST", "/api/v1/requests/"+id+"/messages", managerTok, map[string]string{"body": why}),
		http.StatusCreated, "write after close").JSON(t)
	if after["id"] == nil || after["notified"] != false {
		t.Errorf("after close: answer %v, want an id and notified false", after)
	}
	if n := e.messageWaitingMails(email); n != 1 {
		t.Errorf("%d message mails after close, want still the one from before", n)
	}

	// The requester signs in to the portal and reads it.
	login := e.want(e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": email, "password": password}),
		http.StatusCreated, "portal sign-in").JSON(t)
	ada := login["token"].(string)
	list := e.want(e.do("GET", "/api/v1/portal/requests", ada, nil), http.StatusOK, "portal list").JSON(t)["items"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "rejected" || list[0].(map[string]any)["unread"] != float64(2) {
		t.Errorf("the portal lists %v, want the rejected request with 2 unread", list)
	}
	msgs := e.want(e.do("GET", "/api/v1/portal/requests/"+id+"/messages", ada, nil), http.StatusOK, "portal messages").JSON(t)["items"].([]any)
	if len(msgs) != 2 || msgs[1].(map[string]any)["body"] != why || msgs[1].(map[string]any)["id"] != after["id"] {
		t.Errorf("the requester reads %v, want the explanation last", msgs)
	}
}
