package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
)

// signInLinkRe finds the sign-in link's token in a mail.
var signInLinkRe = regexp.MustCompile(`/portal/sign-in\?token=([A-Za-z0-9_-]+)`)

// signInMails returns the tokens of the sign-in links mailed to email,
// newest first.
func (e *portalEnv) signInMails(email string) []string {
	e.t.Helper()
	mails, err := e.outbox.List(e.ctx, email, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	var tokens []string
	for _, m := range mails {
		if !strings.HasPrefix(m.IdempotencyKey, "portal-sign-in-") {
			continue
		}
		found := signInLinkRe.FindStringSubmatch(m.Text)
		if found == nil || !strings.Contains(m.HTML, "/portal/sign-in?token="+found[1]) {
			e.t.Fatalf("a sign-in mail without its link in both parts: %q", m.Text)
		}
		tokens = append(tokens, found[1])
	}
	return tokens
}

// awaitSignInMails waits until n sign-in links have been mailed to email
// (they are sent after the answer) and returns their tokens, newest first;
// more than n fails the test.
func (e *portalEnv) awaitSignInMails(email string, n int) []string {
	e.t.Helper()
	var tokens []string
	e.eventually(fmt.Sprintf("%d sign-in mails to %s", n, email), func() bool {
		tokens = e.signInMails(email)
		return len(tokens) >= n
	})
	if len(tokens) != n {
		e.t.Fatalf("%d sign-in mails to %s, want %d", len(tokens), email, n)
	}
	return tokens
}

// signIn asks for a link for email, takes it from the mail and signs in
// with it; it returns the session token and whether the account has a
// password.
func (e *portalEnv) signIn(email string) (string, bool) {
	e.t.Helper()
	before := len(e.signInMails(email))
	e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": email}, http.StatusAccepted)
	links := e.awaitSignInMails(email, before+1)
	var out struct {
		Token       string `json:"token"`
		HasPassword bool   `json:"has_password"`
	}
	e.decode(e.expect("POST", "/api/v1/portal/sign-ins", "", map[string]string{"token": links[0]}, http.StatusCreated), &out)
	if out.Token == "" {
		e.t.Fatal("signing in answered no session token")
	}
	return out.Token, out.HasPassword
}

// TestSignInLinkAnswersAlike: a known and an unknown address get the same
// answer; only the known one is mailed, once, at the address as typed.
func TestSignInLinkAnswersAlike(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, nil)
	e.insertRequest("ada@example.org", dsar.StatusInProgress)

	unknown := e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": "nobody@example.org"}, http.StatusAccepted)
	known := e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": " Ada@Example.org "}, http.StatusAccepted)
	if !bytes.Equal(unknown, known) {
		t.Errorf("the answers differ: unknown %s, known %s", unknown, known)
	}
	e.awaitSignInMails("ada@example.org", 1)
	all, err := e.outbox.List(e.ctx, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].To != "Ada@Example.org" || !strings.Contains(all[0].Subject, "sign-in link") {
		t.Fatalf("mails sent: %+v; want one sign-in mail to the address as typed", all)
	}
	if !strings.Contains(all[0].Text, "works until") {
		t.Errorf("the mail does not say how long the link works: %s", all[0].Text)
	}

	for _, tc := range []struct{ body, field string }{
		{`{}`, "email"},
		{`{"email": "not an address"}`, "email"},
		{`{"email": "ada@example.org", "name": "Ada"}`, "name"},
	} {
		resp, data := e.do("POST", "/api/v1/portal/sign-in-links", "", json.RawMessage(tc.body))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(data), `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want 422 naming %s", tc.body, resp.StatusCode, data, tc.field)
		}
	}
}

// TestSignInLinkWorksOnceAndExpires: the link signs in once (then 410, the
// page says so too), an expired one is 410, a forged one 404; the session
// it gives reads the requester's requests.
func TestSignInLinkWorksOnceAndExpires(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": "ada@example.org"}, http.StatusAccepted)
	token := e.awaitSignInMails("ada@example.org", 1)[0]

	page := e.expect("GET", "/portal/sign-in?token="+token, "", nil, http.StatusOK)
	if !strings.Contains(string(page), `id="sign-in-form"`) {
		t.Fatalf("the link's page shows no sign-in button: %s", page)
	}
	e.expect("GET", "/portal/sign-in?token="+token, "", nil, http.StatusOK) // opening the page (a mail scanner) uses nothing

	var out struct{ Token string }
	resp, data := e.do("POST", "/api/v1/portal/sign-ins", "", map[string]string{"token": token})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign in: %d %s", resp.StatusCode, data)
	}
	e.decode(data, &out)
	if !hasCookie(resp, "dsar_portal") {
		t.Error("signing in set no portal cookie")
	}
	var list struct{ Items []store.PortalRequest }
	e.decode(e.expect("GET", "/api/v1/portal/requests", out.Token, nil, http.StatusOK), &list)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("signed in, the portal lists %+v, want request %s", list.Items, id)
	}

	e.expect("POST", "/api/v1/portal/sign-ins", "", map[string]string{"token": token}, http.StatusGone)
	if page := e.expect("GET", "/portal/sign-in?token="+token, "", nil, http.StatusGone); !strings.Contains(string(page), "already been used") {
		t.Errorf("the used link's page does not say so: %s", page)
	}

	e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": "ada@example.org"}, http.StatusAccepted)
	late := e.awaitSignInMails("ada@example.org", 2)[0]
	if _, err := e.db.ExecContext(e.ctx, `UPDATE tokens SET expires_at = now() - interval '1 second' WHERE kind = 'portal_sign_in' AND used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	e.expect("POST", "/api/v1/portal/sign-ins", "", map[string]string{"token": late}, http.StatusGone)
	e.expect("POST", "/api/v1/portal/sign-ins", "", map[string]string{"token": strings.Repeat("A", 43)}, http.StatusNotFound)
	e.expect("POST", "/api/v1/portal/sign-ins", "", map[string]string{}, http.StatusUnprocessableEntity)
}

// TestSignInThenSetPassword: a requester without an account signs in with
// a link (an account is opened, without a password: logging in with any
// password fails), sets a password (the rules of account creation), then
// logs in with it; setting it ended their other session.
func TestSignInThenSetPassword(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, nil)
	e.insertRequest("grace@example.org", dsar.StatusAwaitingIdentity)

	first, hasPassword := e.signIn("grace@example.org")
	if hasPassword {
		t.Fatal("a new account has a password")
	}
	e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "grace@example.org", "password": "anything at all"}, http.StatusUnauthorized)
	second, _ := e.signIn("grace@example.org")

	for _, pw := range []string{"short", strings.Repeat("x", 129)} {
		resp, data := e.do("PUT", "/api/v1/portal/password", second, map[string]string{"password": pw})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(data), `"password"`) {
			t.Errorf("password of %d characters: %d %s, want 422 naming password", len(pw), resp.StatusCode, data)
		}
	}
	e.expect("PUT", "/api/v1/portal/password", "", map[string]string{"password": "grace's long password"}, http.StatusUnauthorized)
	e.expect("PUT", "/api/v1/portal/password", second, map[string]string{"password": "grace's long password"}, http.StatusNoContent)

	e.expect("GET", "/api/v1/portal/requests", second, nil, http.StatusOK)
	e.expect("GET", "/api/v1/portal/requests", first, nil, http.StatusUnauthorized)
	e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "grace@example.org", "password": "grace's long password"}, http.StatusCreated)

	// A later link says the account has a password; changing it works the same.
	third, hasPassword := e.signIn("grace@example.org")
	if !hasPassword {
		t.Error("after setting a password, signing in says there is none")
	}
	e.expect("PUT", "/api/v1/portal/password", third, map[string]string{"password": "a newer long password"}, http.StatusNoContent)
	e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "grace@example.org", "password": "grace's long password"}, http.StatusUnauthorized)
	e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "grace@example.org", "password": "a newer long password"}, http.StatusCreated)
}

// TestSignInLinksAreRateLimitedPerAddress: beyond the hourly budget of an
// address the answer is the same and no mail goes out; another address
// still gets its link.
func TestSignInLinksAreRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, map[string]any{"portal.sign_in_links_per_hour": 2})
	e.insertRequest("ada@example.org", dsar.StatusInProgress)
	e.insertRequest("bob@example.org", dsar.StatusInProgress)
	var answers [][]byte
	for range 4 {
		answers = append(answers, e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": "ada@example.org"}, http.StatusAccepted))
	}
	for _, a := range answers[1:] {
		if !bytes.Equal(a, answers[0]) {
			t.Errorf("over the limit the answer changed: %s, then %s", answers[0], a)
		}
	}
	e.awaitSignInMails("ada@example.org", 2) // 4 asks with a budget of 2 an hour
	e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": "bob@example.org"}, http.StatusAccepted)
	e.awaitSignInMails("bob@example.org", 1) // another address still gets its link
	if n := len(e.signInMails("ada@example.org")); n != 2 {
		t.Errorf("%d sign-in mails after 4 asks with a budget of 2 an hour, want 2", n)
	}
}

// heldMailer passes each mail on to next only once release is closed; it
// counts the sends begun.
type heldMailer struct {
	next    mail.Mailer
	release chan struct{}
	begun   atomic.Int32
}

func (m *heldMailer) Send(ctx context.Context, msg mail.Message) error {
	m.begun.Add(1)
	select {
	case <-m.release:
		return m.next.Send(ctx, msg)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSignInLinkAnswersBeforeSending: the answer for a known address does
// not wait for its mail (which would tell it from an unknown one by its
// timing): while the mailer is held, the 202 comes back; the mail goes out,
// and is audited, once the mailer is released. An unknown address starts
// no send.
func TestSignInLinkAnswersBeforeSending(t *testing.T) {
	t.Parallel()
	held := &heldMailer{release: make(chan struct{})}
	e := newPortalEnvMailing(t, nil, func(next mail.Mailer) mail.Mailer { held.next = next; return held })
	release := sync.OnceFunc(func() { close(held.release) })
	t.Cleanup(release)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)

	unknown := e.expect("POST", "/api/v1/portal/sign-in-links", "", map[string]string{"email": "nobody@example.org"}, http.StatusAccepted)
	answered := make(chan []byte, 1)
	go func() {
		resp, err := e.srv.Client().Post(e.srv.URL+"/api/v1/portal/sign-in-links", "application/json",
			strings.NewReader(`{"email": "ada@example.org"}`))
		if err != nil {
			answered <- []byte(err.Error())
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- append([]byte(resp.Status+" "), body...)
	}()
	select {
	case got := <-answered:
		if want := append([]byte("202 Accepted "), unknown...); !bytes.Equal(got, want) {
			t.Fatalf("known address, mail held: %s; want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer for a known address while its mail is held: the answer waits for the send")
	}
	e.eventually("the send begins", func() bool { return held.begun.Load() == 1 })
	if n := len(e.signInMails("ada@example.org")); n != 0 {
		t.Fatalf("%d sign-in mails while the mailer is held", n)
	}

	release()
	e.awaitSignInMails("ada@example.org", 1)
	e.eventually("the mail is audited on the request", func() bool {
		events, err := e.db.RequestAudit(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.Action == dsar.AuditMailSent && strings.Contains(string(ev.Detail), activities.MailPortalSignIn) {
				return true
			}
		}
		return false
	})
	if n := held.begun.Load(); n != 1 {
		t.Errorf("%d sends begun, want 1 (none for the unknown address)", n)
	}
}

// TestPortalRequestExplainsItself: the requester reads one request of
// theirs explained (what was asked while it is open, the extension with its
// reason); someone else's request is 404.
func TestPortalRequestExplainsItself(t *testing.T) {
	t.Parallel()
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	other := e.insertRequest("eve@example.org", dsar.StatusInProgress)
	ada, _ := e.signIn("ada@example.org")

	var got map[string]any
	e.decode(e.expect("GET", "/api/v1/portal/requests/"+id, ada, nil, http.StatusOK), &got)
	want := map[string]any{"id": id, "request_type": "info", "status": "in_progress", "status_label": "In progress",
		"description": "what do you hold", "outcome": nil, "extension": nil, "closed_at": nil, "package": nil}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if ref, _ := got["reference"].(string); !strings.Contains(strings.ToUpper(ref), strings.ToUpper(id[:8])) {
		t.Errorf("reference %q does not name the request", ref)
	}
	if r, ok := got["reasons"].([]any); !ok || len(r) != 0 {
		t.Errorf("reasons of an open request = %v, want []", got["reasons"])
	}

	deadline := time.Now().UTC().AddDate(0, 2, 0).Truncate(time.Second)
	if _, err := e.db.ExecContext(e.ctx, `UPDATE requests SET deadline = $2, extended_at = now(), extension_days = 30,
		extension_reason = 'We need answers from three systems.' WHERE id = $1`, id, deadline); err != nil {
		t.Fatal(err)
	}
	e.decode(e.expect("GET", "/api/v1/portal/requests/"+id, ada, nil, http.StatusOK), &got)
	ext, _ := got["extension"].(map[string]any)
	if ext == nil || ext["reason"] != "We need answers from three systems." || ext["deadline"] != deadline.Format(time.RFC3339) {
		t.Errorf("extension = %v, want the new deadline %s and the reason", got["extension"], deadline.Format(time.RFC3339))
	}
	page := string(e.expect("GET", "/portal/requests/"+id, ada, nil, http.StatusOK))
	for _, s := range []string{"what do you hold", "We need answers from three systems.", "extended from",
		`id="request-status">In progress<`} { // the status in the API's words
		if !strings.Contains(page, s) {
			t.Errorf("the request page does not say %q", s)
		}
	}

	e.expect("GET", "/api/v1/portal/requests/"+other, ada, nil, http.StatusNotFound)
	e.expect("GET", "/api/v1/portal/requests/"+uuid.NewString(), ada, nil, http.StatusNotFound)
	e.expect("GET", "/api/v1/portal/requests/not-an-id", ada, nil, http.StatusNotFound)
	e.expect("GET", "/api/v1/portal/requests/"+id, "", nil, http.StatusUnauthorized)
}

func hasCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}
