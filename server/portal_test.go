package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/server"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// portalEnv is a server over a fresh database with the dev outbox mailer,
// for the portal and message tests. No Temporal: these routes need none.
type portalEnv struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	cfg    *config.Config
	keys   *crypto.Keyring
	outbox *mail.Outbox
	srv    *httptest.Server
}

func newPortalEnv(t *testing.T, extra map[string]any) *portalEnv {
	t.Helper()
	return newPortalEnvMailing(t, extra, nil)
}

// newPortalEnvMailing is newPortalEnv whose server sends its mail through
// via(outbox) (via nil: straight to the outbox).
func newPortalEnvMailing(t *testing.T, extra map[string]any, via func(mail.Mailer) mail.Mailer) *portalEnv {
	t.Helper()
	log := testenv.Log(t)
	db := testenv.DB(t)
	cfg := testenv.Config(t, "", "", extra)
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := mail.LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	outbox := mail.NewOutbox(db, cfg.Email.From)
	var mailer mail.Mailer = outbox
	if via != nil {
		mailer = via(outbox)
	}
	s, err := server.New(server.Deps{Config: cfg, DB: db, Keys: keys, Mailer: mailer, Templates: tmpl, Outbox: outbox,
		Log: log, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &portalEnv{t: t, ctx: context.Background(), db: db, cfg: cfg, keys: keys, outbox: outbox, srv: srv}
}

// insertRequest stores an accepted request by email in status st, the way
// intake and the workflow's projection leave it, and returns its id.
func (e *portalEnv) insertRequest(email string, st dsar.Status) string {
	e.t.Helper()
	id := uuid.NewString()
	sealed, err := store.NewSealedRequest(e.keys, id, store.PII{FirstName: "Ada", LastName: "Lovelace", Email: email, Description: "what do you hold"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	submitted := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	var verified *time.Time
	if st != dsar.StatusPendingEmailVerification && st != dsar.StatusExpired {
		v := submitted.Add(time.Hour)
		verified = &v
	}
	const q = `INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii, email_verified_at)
		VALUES ($1, true, $2, 'info', 'customer', 'DE', $3, $4, $4, 'gdpr', 'GDPR', $5, $6, $7)`
	if _, err := e.db.ExecContext(e.ctx, q, id, st, submitted, submitted.AddDate(0, 1, 0), sealed.EmailHash, sealed.PII, verified); err != nil {
		e.t.Fatal(err)
	}
	const qKey = `INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`
	if _, err := e.db.ExecContext(e.ctx, qKey, id, sealed.KeyID, sealed.WrappedKey); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// staff creates a staff user with role and returns them with a session token.
func (e *portalEnv) staff(role dsar.Role) (store.User, string) {
	e.t.Helper()
	u, err := e.db.CreateUser(e.ctx, store.User{Email: uuid.NewString()[:8] + "@staff.example", Name: "Staff " + string(role),
		Role: role, PasswordHash: "unused"})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.db.CreateSession(e.ctx, store.SessionStaff, u.ID, time.Hour, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return u, tok
}

// verificationToken returns the (already used) email-verification token of
// a verified request, as the verification link carries it.
func (e *portalEnv) verificationToken(requestID, email string) string {
	e.t.Helper()
	raw, err := e.db.CreateToken(e.ctx, store.TokenEmailVerification, requestID, e.keys.BlindIndex(email), time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.UseToken(e.ctx, raw, store.TokenEmailVerification); err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// requester opens a portal account for email (which has a verified request
// requestID) and logs in; it returns the Bearer token.
func (e *portalEnv) requester(requestID, email, password string) string {
	e.t.Helper()
	tok := e.verificationToken(requestID, email)
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": tok, "password": password}, http.StatusCreated)
	var out struct{ Token string }
	e.decode(e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": email, "password": password}, http.StatusCreated), &out)
	if out.Token == "" {
		e.t.Fatal("login answered no token")
	}
	return out.Token
}

// do sends a request with an optional Bearer token and JSON body (or a
// *multipartBody) and returns the answer with its body read.
func (e *portalEnv) do(method, path, token string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case *multipartBody:
		r, ct = &b.buf, b.w.FormDataContentType()
	default:
		j, _ := json.Marshal(b)
		r, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// expect is do that fails the test unless the answer has status want.
func (e *portalEnv) expect(method, path, token string, body any, want int) []byte {
	e.t.Helper()
	resp, data := e.do(method, path, token, body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	return data
}

// eventually polls ok every 20ms for up to 10s: for what the server does
// after its answer (a sign-in link is mailed in the background).
func (e *portalEnv) eventually(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *portalEnv) decode(data []byte, v any) {
	e.t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		e.t.Fatalf("decode %s: %v", data, err)
	}
}

// multipartBody is a message form with files.
type multipartBody struct {
	buf bytes.Buffer
	w   *multipart.Writer
}

func newMultipart(t *testing.T, body string, files map[string][]byte) *multipartBody {
	t.Helper()
	m := &multipartBody{}
	m.w = multipart.NewWriter(&m.buf)
	_ = m.w.WriteField("body", body)
	for name, data := range files {
		fw, err := m.w.CreateFormFile("attachments", name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(data)
	}
	_ = m.w.Close()
	return m
}

// portalMessages is the answer of a messages route.
type portalMessages struct {
	Items []struct {
		ID          string `json:"id"`
		From        string `json:"from"`
		Body        string `json:"body"`
		SentAt      string `json:"sent_at"`
		Attachments []struct {
			ID          string `json:"id"`
			Filename    string `json:"filename"`
			ContentType string `json:"content_type"`
			URL         string `json:"url"`
		} `json:"attachments"`
	} `json:"items"`
	Unread int `json:"unread"`
}

// TestPortalAccounts covers opening an account from each kind of token,
// and every way a token or password can be refused.
func TestPortalAccounts(t *testing.T) {
	e := newPortalEnv(t, nil)
	verified := e.insertRequest("ada@example.org", dsar.StatusAwaitingIdentity)
	pending := e.insertRequest("bob@example.org", dsar.StatusPendingEmailVerification)

	// An email-verification token of a request whose email is not verified yet.
	raw, err := e.db.CreateToken(e.ctx, store.TokenEmailVerification, pending, e.keys.BlindIndex("bob@example.org"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": raw, "password": "a long password"}, http.StatusConflict)

	// Bad input names the field and stores nothing.
	tok := e.verificationToken(verified, "ada@example.org")
	var bad server.ErrorBody
	e.decode(e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": tok, "password": "short"}, http.StatusUnprocessableEntity), &bad)
	if bad.Error.Fields["password"] == "" {
		t.Errorf("a short password: the error names no password field: %+v", bad)
	}
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": strings.Repeat("x", 43), "password": "a long password"}, http.StatusNotFound)

	// The verification token opens the account once; the account's email is the verified one.
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": tok, "password": "a long password"}, http.StatusCreated)
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": tok, "password": "another password"}, http.StatusConflict)
	e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ADA@example.org ", "password": "a long password"}, http.StatusCreated)

	// An invitation works once, then is gone.
	carol := e.insertRequest("carol@example.org", dsar.StatusInProgress)
	inv, err := e.db.CreateToken(e.ctx, store.TokenPortalInvitation, carol, e.keys.BlindIndex("carol@example.org"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": inv, "password": "carol's password"}, http.StatusCreated)
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": inv, "password": "carol's password"}, http.StatusGone)
}

// TestPortalLogin checks the generic failure, the cookie and the backoff.
func TestPortalLogin(t *testing.T) {
	e := newPortalEnv(t, map[string]any{"auth.login_free_failures": 2, "auth.login_per_minute": 100})
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	tok := e.verificationToken(id, "ada@example.org")
	e.expect("POST", "/api/v1/portal/accounts", "", map[string]string{"token": tok, "password": "a long password"}, http.StatusCreated)

	resp, body := e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ada@example.org", "password": "a long password"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "dsar_portal" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("session cookie = %+v, want dsar_portal, HttpOnly, SameSite=Strict, Path=/", cookie)
	}

	_, wrongPassword := e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ada@example.org", "password": "not the password"})
	_, unknownEmail := e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "nobody@example.org", "password": "not the password"})
	if string(wrongPassword) != string(unknownEmail) {
		t.Errorf("a wrong password (%s) and an unknown email (%s) answer differently", wrongPassword, unknownEmail)
	}
	// Two failures of one account from one network: that network waits, even with the right password.
	e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ada@example.org", "password": "wrong again"})
	resp, _ = e.do("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ada@example.org", "password": "a long password"})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a login after two failures: status %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.expect("GET", "/api/v1/portal/requests", "", nil, http.StatusUnauthorized)
}

// TestPortalPages checks the pages' answers to mistakes, without a browser:
// each re-renders its form with a message and a fitting status.
func TestPortalPages(t *testing.T) {
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	tok := e.verificationToken(id, "ada@example.org")
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	page := func(method, path string, form url.Values, want int, contains string) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = client.Get(e.srv.URL + path)
		} else {
			resp, err = client.PostForm(e.srv.URL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || !strings.Contains(string(body), contains) {
			t.Errorf("%s %s: status %d, want %d with %q:\n%s", method, path, resp.StatusCode, want, contains, body)
		}
	}
	page("GET", "/portal", nil, http.StatusOK, `id="login-form"`) // not logged in: the login page
	page("GET", "/portal/accounts/new?token=nonsense", nil, http.StatusNotFound, "This link is not valid")
	page("GET", "/portal/accounts/new?token="+tok, nil, http.StatusOK, `name="token" value="`+tok+`"`)
	page("POST", "/portal/accounts", url.Values{"token": {tok}, "password": {"long enough"}, "password_confirm": {"different"}},
		http.StatusUnprocessableEntity, "does not match")
	page("POST", "/portal/accounts", url.Values{"token": {tok}, "password": {"long enough"}, "password_confirm": {"long enough"}},
		http.StatusOK, "account is ready")
	page("POST", "/portal/accounts", url.Values{"token": {tok}, "password": {"long enough"}, "password_confirm": {"long enough"}},
		http.StatusConflict, "exists already")
	page("POST", "/portal/login", url.Values{"email": {"ada@example.org"}, "password": {"wrong password"}},
		http.StatusUnauthorized, "the email address or the password is wrong")
	page("POST", "/portal/login", url.Values{"email": {"ada@example.org"}, "password": {"long enough"}}, http.StatusOK, "Your privacy requests")
	page("GET", "/portal/requests/"+id, nil, http.StatusOK, "No messages yet")
	page("POST", "/portal/requests/"+id+"/messages", url.Values{"body": {" "}}, http.StatusUnprocessableEntity, `id="body-error"`)
	page("POST", "/portal/requests/"+id+"/messages", url.Values{"body": {"A question <b>about</b> it"}}, http.StatusOK,
		"A question &lt;b&gt;about&lt;/b&gt; it")
	page("POST", "/portal/logout", nil, http.StatusOK, "You have logged out")
	page("GET", "/portal/requests/"+id, nil, http.StatusOK, `id="login-form"`)
}

// TestPortalDatesInTheRequestsZone: the portal's pages write a request's
// dates in its rule's time zone, as its mail does. A California request
// received at 18:00 on Friday 11 December 2026, Pacific time (02:00 UTC on
// Saturday), reads as submitted on the 11th, with its deadline, the one it
// was extended from, the time of a message (named as Pacific), the day it
// closed and the last day to appeal in Pacific time; a GDPR request (no zone) received at the same instant
// reads the UTC date, the 12th. The API answers the same UTC instants.
func TestPortalDatesInTheRequestsZone(t *testing.T) {
	e := newPortalEnv(t, nil)
	received := time.Date(2026, 12, 12, 2, 0, 0, 0, time.UTC)
	california := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	europe := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	for _, r := range []struct{ id, rule string }{{california, "us_ccpa"}, {europe, "gdpr"}} {
		if _, err := e.db.ExecContext(e.ctx, `UPDATE requests SET deadline_rule = $2, submitted_at = $3, original_deadline = $4,
			deadline = $5, extended_at = $3, extension_reason = 'many systems' WHERE id = $1`, r.id, r.rule, received,
			time.Date(2027, 1, 26, 2, 0, 0, 0, time.UTC), time.Date(2027, 3, 12, 2, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	closed := e.insertRequest("ada@example.org", dsar.StatusCompleted)
	if _, err := e.db.ExecContext(e.ctx, `UPDATE requests SET deadline_rule = 'us_ccpa', closed_at = $2, appeal_until = $3 WHERE id = $1`,
		closed, received, time.Date(2027, 3, 1, 3, 0, 0, 0, time.UTC)); err != nil { // until 28 February, 19:00 Pacific
		t.Fatal(err)
	}
	m, err := e.db.AddMessage(e.ctx, e.keys, store.NewMessage{RequestID: california, Sender: store.SenderStaff, Body: "We are on it."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(e.ctx, `UPDATE messages SET created_at = $2 WHERE id = $1`, m.ID, received.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	page := func(path string, form url.Values) string {
		t.Helper()
		var resp *http.Response
		var err error
		if form == nil {
			resp, err = client.Get(e.srv.URL + path)
		} else {
			resp, err = client.PostForm(e.srv.URL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d:\n%s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	tok := e.verificationToken(california, "ada@example.org")
	page("/portal/accounts", url.Values{"token": {tok}, "password": {"long enough"}, "password_confirm": {"long enough"}})
	list := page("/portal/login", url.Values{"email": {"ada@example.org"}, "password": {"long enough"}})
	for _, want := range []string{
		`<time datetime="2026-12-12T02:00:00Z">11 December 2026</time>`, // California
		`<time datetime="2026-12-12T02:00:00Z">12 December 2026</time>`, // GDPR
		`<time datetime="2027-03-12T02:00:00Z">11 March 2027</time>`,
		`<time datetime="2027-03-12T02:00:00Z">12 March 2027</time>`,
	} {
		if !strings.Contains(list, want) {
			t.Errorf("the list of requests lacks %s:\n%s", want, list)
		}
	}
	for _, c := range []struct {
		id   string
		want []string
	}{
		{california, []string{`<time datetime="2026-12-12T02:00:00Z">11 December 2026</time>`, "extended from 25 January 2027",
			`<time datetime="2026-12-12T02:30:00Z">11 December 2026, 18:30 PST</time>`}},
		{europe, []string{`<time datetime="2026-12-12T02:00:00Z">12 December 2026</time>`, "extended from 26 January 2027"}},
		{closed, []string{`<time datetime="2026-12-12T02:00:00Z">11 December 2026</time>`, "28 February 2027"}},
	} {
		body := page("/portal/requests/"+c.id, nil)
		for _, want := range c.want {
			if !strings.Contains(body, want) {
				t.Errorf("the page of %s lacks %s:\n%s", c.id, want, body)
			}
		}
	}

	// The API answers instants, in UTC.
	var session struct{ Token string }
	e.decode(e.expect("POST", "/api/v1/portal/sessions", "", map[string]string{"email": "ada@example.org", "password": "long enough"},
		http.StatusCreated), &session)
	var got struct {
		SubmittedAt string `json:"submitted_at"`
		Deadline    string `json:"deadline"`
	}
	e.decode(e.expect("GET", "/api/v1/portal/requests/"+california, session.Token, nil, http.StatusOK), &got)
	if got.SubmittedAt != "2026-12-12T02:00:00Z" || got.Deadline != "2027-03-12T02:00:00Z" {
		t.Errorf("the API answers %+v, want the UTC instants", got)
	}
}
