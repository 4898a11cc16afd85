package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// oidcEnv is the service with single sign-on against a real OpenID
// provider (mockoidc) the test starts, password sign-in off.
type oidcEnv struct {
	*staffEnv
	idp *mockoidc.MockOIDC
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	c := idp.Config()
	e := newStaffEnvWithoutWorker(t, map[string]any{
		"auth.oidc.issuer":                   c.Issuer,
		"auth.oidc.client_id":                c.ClientID,
		"auth.oidc.client_secret":            c.ClientSecret,
		"auth.oidc.scopes":                   []string{"openid", "email", "profile", "groups"},
		"auth.oidc.role_groups.admin":        []string{"DSAR Admins"},
		"auth.oidc.role_groups.manager":      []string{"dsar-managers"},
		"auth.oidc.role_groups.source_owner": []string{"dsar-owners"},
		"auth.password_login":                false,
	})
	// The callback is on the test's server, whose address is known only now;
	// the server reads it at each sign-in.
	e.cfg.Auth.OIDC.RedirectURL = e.http.URL + "/auth/oidc/callback"
	return &oidcEnv{staffEnv: e, idp: idp}
}

// browser is an HTTP client with cookies that does not follow redirects,
// so each leg of the flow is seen.
func (e *oidcEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get fetches u with b and returns the status, the Location and the body.
func (e *oidcEnv) get(b *http.Client, u string) (int, string, string) {
	e.t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// authorize is the first two legs: the service's login (its redirect to
// the provider, with the state cookie set) and the provider's answer (its
// redirect to the callback). change edits the provider URL first.
func (e *oidcEnv) authorize(b *http.Client, user *mockoidc.MockUser, change func(url.Values)) (callback string) {
	e.t.Helper()
	e.idp.QueueUser(user)
	st, toIdP, body := e.get(b, e.http.URL+"/auth/oidc/login")
	if st != http.StatusFound || !strings.HasPrefix(toIdP, e.idp.Issuer()) {
		e.t.Fatalf("login: %d to %q: %s", st, toIdP, body)
	}
	u, _ := url.Parse(toIdP)
	q := u.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			e.t.Fatalf("the provider is not sent a %s: %s", k, toIdP)
		}
	}
	if q.Get("code_challenge_method") != "S256" {
		e.t.Fatalf("PKCE method %q", q.Get("code_challenge_method"))
	}
	if change != nil {
		change(q)
		u.RawQuery = q.Encode()
	}
	st, back, body := e.get(b, u.String())
	if st != http.StatusFound || !strings.HasPrefix(back, e.http.URL+"/auth/oidc/callback") {
		e.t.Fatalf("provider: %d to %q: %s", st, back, body)
	}
	return back
}

// staffCookieSession is what GET /api/v1/sessions/current says of b's
// staff cookie.
func (e *oidcEnv) staffCookieSession(b *http.Client) (int, string) {
	e.t.Helper()
	st, _, body := e.get(b, e.http.URL+"/api/v1/sessions/current")
	return st, body
}

func mockUser(sub, email string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: sub, Email: email, EmailVerified: true, PreferredUsername: "Grace Hopper", Groups: groups}
}

// TestOIDCLoginJustInTimeAndRoles: a provider user in a mapped group is
// created at their first sign-in with the group's role and a staff session
// (the cookie); at the next, the role follows their groups; password
// sign-in is off.
func TestOIDCLoginJustInTimeAndRoles(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t)
	e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": "x@example.com", "password": "correct horse battery"}),
		http.StatusForbidden, "password sign-in while it is off")

	b := e.browser()
	st, to, body := e.get(b, e.authorize(b, mockUser("sub-grace", "grace@example.com", "engineering", "dsar-managers"), nil))
	if st != http.StatusSeeOther || !strings.HasPrefix(to, "/console") {
		t.Fatalf("callback: %d to %q: %s", st, to, body)
	}
	st, cur := e.staffCookieSession(b)
	if st != http.StatusOK || !strings.Contains(cur, `"role":"manager"`) || !strings.Contains(cur, "grace@example.com") {
		t.Fatalf("session after single sign-on: %d %s", st, cur)
	}
	u, err := e.db.UserByEmail(e.ctx, "grace@example.com")
	if err != nil || u.PasswordHash != "" || u.Name != "Grace Hopper" {
		t.Fatalf("the user made just in time: %+v (%v)", u, err)
	}

	// Next time the groups give admin: the same user, the new role.
	b2 := e.browser()
	e.get(b2, e.authorize(b2, mockUser("sub-grace", "grace@example.com", "DSAR Admins"), nil))
	if _, cur := e.staffCookieSession(b2); !strings.Contains(cur, `"role":"admin"`) {
		t.Fatalf("second sign-in: %s", cur)
	}
	if n := e.count(`SELECT count(*) FROM users WHERE lower(email) = 'grace@example.com'`); n != 1 {
		t.Fatalf("%d users for one provider subject", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND detail->>'user_id' = $2
		AND detail->>'role_before' = 'manager' AND detail->>'role' = 'admin'`, dsar.AuditUserUpdated, u.ID); n != 1 {
		t.Fatalf("%d role changes by single sign-on audited, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND actor_id = $2 AND detail->>'method' = 'oidc'`,
		dsar.AuditStaffLogin, u.ID); n != 2 {
		t.Fatalf("%d single sign-ons audited, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND actor_id = $2`, dsar.AuditUserCreated, u.ID); n != 1 {
		t.Fatalf("%d user creations audited, want 1", n)
	}
}

// TestOIDCRefusals: a callback without the login's cookie, with another
// state, an ID token of another nonce, a user in no mapped group (403,
// audited, no user made), a disabled user, and an unconfigured service.
func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t)

	// No state cookie (another browser).
	b := e.browser()
	cb := e.authorize(b, mockUser("sub-1", "one@example.com", "dsar-managers"), nil)
	if st, _, body := e.get(e.browser(), cb); st != http.StatusBadRequest || !strings.Contains(body, "start again") {
		t.Fatalf("callback without the cookie: %d %s", st, body)
	}

	// Another state.
	b = e.browser()
	cb = e.authorize(b, mockUser("sub-1", "one@example.com", "dsar-managers"), nil)
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", "not-the-state")
	u.RawQuery = q.Encode()
	if st, _, body := e.get(b, u.String()); st != http.StatusBadRequest || !strings.Contains(body, "state") {
		t.Fatalf("callback with another state: %d %s", st, body)
	}

	// The provider issues the ID token for another nonce.
	b = e.browser()
	cb = e.authorize(b, mockUser("sub-1", "one@example.com", "dsar-managers"), func(q url.Values) { q.Set("nonce", "another-nonce") })
	if st, _, body := e.get(b, cb); st != http.StatusUnauthorized || !strings.Contains(body, "nonce") {
		t.Fatalf("callback with an ID token of another nonce: %d %s", st, body)
	}

	// The cookie serves one callback: the same answer again is refused.
	b = e.browser()
	cb = e.authorize(b, mockUser("sub-1", "one@example.com", "dsar-managers"), nil)
	e.get(b, cb)
	if st, _, _ := e.get(b, cb); st != http.StatusBadRequest {
		t.Fatalf("the callback replayed: %d", st)
	}

	// A user in no mapped group.
	b = e.browser()
	cb = e.authorize(b, mockUser("sub-2", "two@example.com", "engineering"), nil)
	if st, _, body := e.get(b, cb); st != http.StatusForbidden || !strings.Contains(body, "role") {
		t.Fatalf("callback for a user without a role: %d %s", st, body)
	}
	if st, _ := e.staffCookieSession(b); st != http.StatusUnauthorized {
		t.Fatalf("a session for a user without a role: %d", st)
	}
	if _, err := e.db.UserByEmail(e.ctx, "two@example.com"); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Fatalf("a user without a role was made: %v", err)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND detail->>'reason' = 'sso_no_role'`, dsar.AuditStaffLoginFailed); n != 1 {
		t.Fatalf("%d refusals for no role audited, want 1", n)
	}

	// A disabled user.
	one, err := e.db.UserByEmail(e.ctx, "one@example.com")
	if err != nil {
		t.Fatal(err)
	}
	disabled := true
	if _, err := e.db.UpdateUser(e.ctx, one.ID, storeUserPatchDisabled(disabled)); err != nil {
		t.Fatal(err)
	}
	b = e.browser()
	if st, _, body := e.get(b, e.authorize(b, mockUser("sub-1", "one@example.com", "dsar-managers"), nil)); st != http.StatusForbidden || !strings.Contains(body, "disabled") {
		t.Fatalf("callback for a disabled user: %d %s", st, body)
	}

	// Without auth.oidc, there is no single sign-on.
	plain := newStaffEnvWithoutWorker(t, nil)
	if a := plain.do("GET", "/auth/oidc/login", "", nil); a.Status != http.StatusNotFound {
		t.Fatalf("login without auth.oidc: %d", a.Status)
	}
}

func storeUserPatchDisabled(d bool) store.UserPatch { return store.UserPatch{Disabled: &d} }
