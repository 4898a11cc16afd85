package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/locale"
)

var signInTokenRe = regexp.MustCompile(`/portal/sign-in\?token=([A-Za-z0-9_-]+)`)

// signInWithLink asks for a sign-in link for email as the requester types
// it, waits for the new one in the mail (it is sent after the answer) and
// signs in; it returns the portal session token.
func (e *staffEnv) signInWithLink(email string) string {
	e.t.Helper()
	before := len(e.signInLinks(email))
	e.want(e.do("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": email}), http.StatusAccepted, "ask for a sign-in link")
	var links []string
	e.eventually("the sign-in link reaches "+email, func() bool {
		links = e.signInLinks(email)
		return len(links) > before
	})
	got := e.want(e.do("POST", "/api/v1/portal/sign-ins", "", map[string]string{"token": links[0]}),
		http.StatusCreated, "sign in with the link").JSON(e.t)
	return got["token"].(string)
}

// signInLinks returns the tokens of the sign-in links mailed to email,
// newest first.
func (e *staffEnv) signInLinks(email string) []string {
	e.t.Helper()
	mails, err := e.server.Outbox.List(e.ctx, email, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	var tokens []string
	for _, m := range mails {
		if found := signInTokenRe.FindStringSubmatch(m.Text); found != nil {
			tokens = append(tokens, found[1])
		}
	}
	return tokens
}

// TestPortalAfterCloseAndErasure follows a requester through the real
// workflow: the verification mail invites to the portal; with no account
// and no password they sign in with an emailed link and read what they
// asked, the extension and its reason; staff reject the request and it is
// erased; weeks later a new link still reaches them (the blind index finds
// the request), and the portal shows the outcome with the reasons in words,
// no longer the description, never the staff's note.
func TestPortalAfterCloseAndErasure(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, manager := e.user(dsar.RoleManager)
	email := "ada-" + uuid.NewString()[:8] + "@example.org"
	id := e.request(newRequest{Email: email, Country: "DE"})

	var verification string
	e.eventually("the verification mail goes out", func() bool {
		mails, err := e.server.Outbox.List(e.ctx, email, 10)
		if err == nil && len(mails) > 0 {
			verification = mails[0].Text
		}
		return verification != ""
	})
	if portal := e.cfg.PublicURL + "/portal"; !strings.Contains(verification, portal) || !strings.Contains(verification, "sign-in link") {
		t.Errorf("the verification mail does not invite to the portal (%s):\n%s", portal, verification)
	}
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/extension", manager, map[string]any{"days": 20, "reason": "Three of our systems hold data about you."}),
		http.StatusOK, "extend")

	ada := e.signInWithLink(strings.ToUpper(email))
	open := e.want(e.do("GET", "/api/v1/portal/requests/"+id, ada, nil), http.StatusOK, "the open request").JSON(t)
	ext, _ := open["extension"].(map[string]any)
	if open["description"] != "Which data do you hold about me?" || open["status"] != string(dsar.StatusAwaitingIdentity) ||
		open["outcome"] != nil || ext == nil || ext["reason"] != "Three of our systems hold data about you." || ext["deadline"] != open["deadline"] {
		t.Fatalf("the open request reads %v", open)
	}

	const note = "internal: the requester sounded like a bot"
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", manager,
		map[string]any{"reasons": []string{"incomplete", "other"}, "note": note}), http.StatusOK, "reject")
	e.eventually("the request is rejected and erased", func() bool {
		r, err := e.db.Request(e.ctx, id, "")
		return err == nil && r.Status == dsar.StatusRejected && r.ScrubbedAt != nil
	})

	ada = e.signInWithLink(email)
	closed := e.want(e.do("GET", "/api/v1/portal/requests/"+id, ada, nil), http.StatusOK, "the closed request")
	got := closed.JSON(t)
	reasons, _ := got["reasons"].([]any)
	wantReasons := []string{dsar.RejectReasons[dsar.RejectIncomplete], dsar.RejectReasons[dsar.RejectOther]}
	if got["status"] != "rejected" || got["status_label"] != requesterStatus(locale.English, dsar.StatusRejected) || got["description"] != nil ||
		got["closed_at"] == nil || got["outcome"] == nil || len(reasons) != 2 || reasons[0] != wantReasons[0] || reasons[1] != wantReasons[1] {
		t.Errorf("the closed request reads %v; want rejected, no description, the outcome and the reasons %v", got, wantReasons)
	}
	page := string(e.want(e.do("GET", "/portal/requests/"+id, ada, nil), http.StatusOK, "the request page").Body)
	for _, s := range wantReasons {
		if !strings.Contains(page, s) {
			t.Errorf("the request page does not give the reason %q", s)
		}
	}
	for _, secret := range []string{note, "Which data do you hold about me?"} {
		if strings.Contains(string(closed.Body), secret) || strings.Contains(page, secret) {
			t.Errorf("after close the portal shows %q", secret)
		}
	}

	// Both sign-in mails are on the request's record, with their kind (the
	// audit follows the send, after the answer).
	e.eventually("both sign-in mails are audited on the request", func() bool {
		events, err := e.db.RequestAudit(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for _, ev := range events {
			if ev.Action == dsar.AuditMailSent && strings.Contains(string(ev.Detail), activities.MailPortalSignIn) {
				sent++
			}
		}
		return sent == 2
	})
}
