package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/store"
)

func TestLoginAnswersTheSameForUnknownEmailAndWrongPassword(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	u, _ := e.user(dsar.RoleAdmin)

	wrong := e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": u.Email, "password": "not the password"}),
		http.StatusUnauthorized, "wrong password")
	unknown := e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": "nobody@example.com", "password": "not the password"}),
		http.StatusUnauthorized, "unknown email")
	if string(wrong.Body) != string(unknown.Body) {
		t.Fatalf("the answers differ:\n%s\n%s", wrong.Body, unknown.Body)
	}
	if strings.Contains(string(wrong.Body), "not the password") {
		t.Fatal("the answer echoes the password")
	}

	// The email is case-insensitive; the answer has the token and the user.
	ok := e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": strings.ToUpper(u.Email), "password": "correct horse battery"}),
		http.StatusCreated, "login").JSON(t)
	if tok, _ := ok["token"].(string); len(tok) < 43 {
		t.Fatalf("token %q is shorter than 256 bits", tok)
	}

	// Missing fields are named.
	bad := e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{}), http.StatusUnprocessableEntity, "empty").JSON(t)
	fields := bad["error"].(map[string]any)["fields"].(map[string]any)
	if fields["email"] == nil || fields["password"] == nil {
		t.Fatalf("fields = %v", fields)
	}

	// Every attempt is audited, the password never.
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'staff.login_failed'`); err != nil || n != 2 {
		t.Fatalf("failed logins audited: %d (%v), want 2", n, err)
	}
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'staff.login' AND actor_id = $1`, u.ID); err != nil || n != 1 {
		t.Fatalf("successful logins audited: %d (%v), want 1", n, err)
	}
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE detail::text LIKE '%password%' AND detail::text NOT LIKE '%wrong_password%'`); err != nil || n != 0 {
		t.Fatalf("audit rows mentioning a password: %d (%v)", n, err)
	}
}

func TestBruteForceLoginIsRateLimited(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"auth.login_free_failures": 5, "auth.login_per_minute": 100})
	u, _ := e.user(dsar.RoleAdmin)
	var last answer
	for i := 0; i < 8; i++ {
		last = e.do("POST", "/api/v1/sessions", "", map[string]string{"email": u.Email, "password": "guess number " + string(rune('a'+i))})
		if last.Status == http.StatusTooManyRequests {
			break
		}
		e.want(last, http.StatusUnauthorized, "a wrong guess")
	}
	e.want(last, http.StatusTooManyRequests, "guessing on")
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Even the right password is refused while the limit holds.
	e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": u.Email, "password": "correct horse battery"}),
		http.StatusTooManyRequests, "the right password while limited")
	// The refusals are audited, once a minute, not once each.
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'staff.login_failed' AND detail->>'reason' = 'rate_limited'`); err != nil || n != 1 {
		t.Fatalf("rate-limited refusals audited: %d (%v), want 1", n, err)
	}
}

// A flood of failed logins (unknown emails, so no per-account budget
// stops it) adds at most the cap of rows a window, not one each.
func TestFailedLoginsDoNotFloodTheAuditTrail(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"auth.login_per_minute": 1000})
	const attempts = 45
	for i := range attempts {
		e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong password"}),
			http.StatusUnauthorized, "an unknown email")
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'staff.login_failed'`); err != nil {
		t.Fatal(err)
	}
	// One window holds the cap; a run across two windows, at most twice it.
	if n < store.LoginFailureRowsPerWindow || n > 2*store.LoginFailureRowsPerWindow || n >= attempts {
		t.Fatalf("%d failed logins added %d rows of their own; want the cap of %d a window", attempts, n, store.LoginFailureRowsPerWindow)
	}
	if n > store.LoginFailureRowsPerWindow {
		return // the run crossed into the next window, which may have summed up the first
	}
	var counted int
	if err := e.db.Get(&counted, `SELECT coalesce(sum(failures), 0) FROM audit_login_failures`); err != nil || counted != attempts {
		t.Fatalf("failures counted for the window's summary: %d (%v), want %d", counted, err, attempts)
	}
}

func TestLoginIsLimitedPerAccountAcrossAddresses(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"auth.login_free_failures": 3, "auth.login_captcha_after": 3,
		"http.trusted_proxies": []string{"127.0.0.1/32", "::1/128"}})
	u, _ := e.user(dsar.RoleAdmin)
	status := 0
	var body []byte
	for i := 0; i < 5 && status != http.StatusTooManyRequests; i++ {
		req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/sessions",
			strings.NewReader(`{"email":"`+u.Email+`","password":"wrong password"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113."+string(rune('1'+i)))
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	if status != http.StatusTooManyRequests || !strings.Contains(string(body), `"captcha"`) {
		t.Fatalf("guessing one account from five addresses never hit a 429 asking for a captcha (last %d: %s)", status, body)
	}
}

// Behind several API replicas, guesses at one account spread over them
// share one budget: the database keeps it, not each process.
func TestLoginBudgetIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"auth.login_free_failures": 3})
	u, _ := e.user(dsar.RoleAdmin)
	deps := e.server.Deps
	deps.Metrics = metrics.New()
	other, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	replica := httptest.NewServer(other.Handler())
	t.Cleanup(replica.Close)
	statuses := []int{}
	for i := range 4 {
		base := e.http.URL
		if i%2 == 1 {
			base = replica.URL
		}
		resp, err := http.Post(base+"/api/v1/sessions", "application/json",
			strings.NewReader(`{"email":"`+strings.ToUpper(u.Email)+`","password":"wrong password"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	want := []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests}
	if !slices.Equal(statuses, want) {
		t.Fatalf("four guesses over two replicas, three a minute allowed: %v, want %v", statuses, want)
	}
	// The budget is kept under keyed hashes, never the email or the address.
	var plain, rows int
	if err := e.db.Get(&plain, `SELECT count(*) FROM login_failures WHERE position(convert_to(lower($1), 'UTF8') in account) > 0
		OR position(convert_to('127.0.0.1', 'UTF8') in network) > 0`, u.Email); err != nil || plain != 0 {
		t.Fatalf("login_failures rows holding the email or the address: %d (%v)", plain, err)
	}
	if err := e.db.Get(&rows, `SELECT count(*) FROM login_failures`); err != nil || rows != 2 {
		t.Fatalf("login_failures rows: %d (%v), want the account's and the network's", rows, err)
	}
}

func TestSessionsEndOnLogoutDisableAndExpiry(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	u, tok := e.user(dsar.RoleManager)
	me := e.want(e.do("GET", "/api/v1/sessions/current", tok, nil), http.StatusOK, "who am I").JSON(t)
	if me["user"].(map[string]any)["id"] != u.ID {
		t.Fatalf("current = %v", me)
	}

	// The cookie works like the Bearer token.
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/sessions/current", nil)
	req.AddCookie(&http.Cookie{Name: "dsar_staff", Value: tok})
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cookie session: %d", resp.StatusCode)
	}

	e.want(e.do("DELETE", "/api/v1/sessions/current", tok, nil), http.StatusNoContent, "logout")
	e.want(e.do("GET", "/api/v1/sessions/current", tok, nil), http.StatusUnauthorized, "after logout")
	e.want(e.do("GET", "/api/v1/sessions/current", "", nil), http.StatusUnauthorized, "no token")
	e.want(e.do("GET", "/api/v1/sessions/current", "junk", nil), http.StatusUnauthorized, "junk token")

	// An org owner disables the user: their other sessions end.
	_, boss := e.user(dsar.RoleOrgOwner)
	other := e.session(u)
	e.want(e.do("PATCH", "/api/v1/users/"+u.ID, boss, map[string]any{"disabled": true}), http.StatusOK, "disable")
	e.want(e.do("GET", "/api/v1/sessions/current", other, nil), http.StatusUnauthorized, "a disabled user's session")
	e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": u.Email, "password": "correct horse battery"}),
		http.StatusUnauthorized, "a disabled user's login")

	// Idle and absolute expiry.
	a, _ := e.user(dsar.RoleAdmin)
	idle, err := e.db.CreateSession(e.ctx, store.SessionStaff, a.ID, time.Hour, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(`UPDATE sessions SET last_seen_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Session(e.ctx, store.SessionStaff, idle, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Fatalf("idle session: %v", err)
	}
	if _, err := e.db.Session(e.ctx, store.SessionStaff, idle, 3*time.Hour); err != nil {
		t.Fatalf("a session within a longer idle limit: %v", err)
	}
	// That use was written, so the idle expiry slid forward.
	if _, err := e.db.Session(e.ctx, store.SessionStaff, idle, time.Hour); err != nil {
		t.Fatalf("use did not slide the idle expiry: %v", err)
	}
	if _, err := e.db.Exec(`UPDATE sessions SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Session(e.ctx, store.SessionStaff, idle, 3*time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Fatalf("expired session: %v", err)
	}
	// A staff token is no portal session.
	if _, err := e.db.Session(e.ctx, store.SessionPortal, e.session(a), time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Fatalf("staff token as portal session: %v", err)
	}
}

func TestOnlyOrgOwnersManageUsers(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, owner := e.user(dsar.RoleOrgOwner)
	_, admin := e.user(dsar.RoleAdmin)
	body := map[string]string{"email": "new@example.com", "name": "New Person", "role": "manager", "password": "long enough pw"}
	e.want(e.do("POST", "/api/v1/users", admin, body), http.StatusForbidden, "admin creates a user")
	created := e.want(e.do("POST", "/api/v1/users", owner, body), http.StatusCreated, "org owner creates a user").JSON(t)
	if created["role"] != "manager" || created["password_hash"] != nil || created["password"] != nil {
		t.Fatalf("created = %v", created)
	}
	e.want(e.do("POST", "/api/v1/users", owner, body), http.StatusConflict, "the same email again")
	bad := e.want(e.do("POST", "/api/v1/users", owner, map[string]string{"email": "x", "name": "", "role": "king", "password": "short"}),
		http.StatusUnprocessableEntity, "bad user").JSON(t)
	fields := bad["error"].(map[string]any)["fields"].(map[string]any)
	for _, f := range []string{"email", "name", "role", "password"} {
		if fields[f] == nil {
			t.Errorf("no complaint about %s: %v", f, fields)
		}
	}
	e.want(e.do("PATCH", "/api/v1/users/"+boss.ID, owner, map[string]any{"role": "admin"}), http.StatusUnprocessableEntity, "demote myself")
	e.want(e.do("PATCH", "/api/v1/users/"+created["id"].(string), owner, map[string]any{"role": "admin"}), http.StatusOK, "promote")
	list := e.want(e.do("GET", "/api/v1/users", admin, nil), http.StatusOK, "admin lists users").JSON(t)
	if len(list["items"].([]any)) != 3 {
		t.Fatalf("users = %v", list)
	}
}
