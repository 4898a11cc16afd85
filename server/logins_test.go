package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/crypto"
)

// solvedCaptcha fetches a captcha from the server and solves it as the
// widget would.
func (e *staffEnv) solvedCaptcha() string {
	e.t.Helper()
	v, err := bench.SolveCaptcha(context.Background(), e.http.Client(), e.http.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// portalAccount opens a portal account for email with password, as the
// verification link would.
func (e *staffEnv) portalAccountWith(email, password string) {
	e.t.Helper()
	if _, err := e.db.Exec(`INSERT INTO portal_accounts (id, email_hash, password_hash) VALUES ($1, $2, $3)`,
		uuid.NewString(), e.keys.BlindIndex(email), crypto.HashPassword(password)); err != nil {
		e.t.Fatal(err)
	}
}

// An attacker who knows the email of an account cannot lock its owner
// out: guesses from the attacker's network make that network wait, not
// the owner's; when guesses from many networks make the account ask for a
// captcha, the owner passes with a solved one (once). Staff and portal
// logins alike.
func TestGuessesDoNotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"http.trusted_proxies": trustLoopback, "auth.login_per_minute": 100,
		"auth.login_free_failures": 3, "auth.login_captcha_after": 6})
	staff, _ := e.user(dsar.RoleAdmin)
	requester := "ada-" + uuid.NewString()[:8] + "@example.org"
	e.portalAccountWith(requester, "ada's long portal password")
	for _, c := range []struct{ name, path, email, password string }{
		{"staff", "/api/v1/sessions", staff.Email, "correct horse battery"},
		{"portal", "/api/v1/portal/sessions", requester, "ada's long portal password"},
	} {
		guess := func(network string) answer {
			return e.doFrom(network, "POST", c.path, map[string]string{"email": strings.ToUpper(c.email), "password": "a wrong guess"})
		}
		login := func(network, captcha string) answer {
			body := map[string]string{"email": c.email, "password": c.password}
			if captcha != "" {
				body["captcha"] = captcha
			}
			return e.doFrom(network, "POST", c.path, body)
		}
		for range 3 {
			e.want(guess("203.0.113.9"), http.StatusUnauthorized, c.name+": a guess")
		}
		waits := e.want(guess("203.0.113.9"), http.StatusTooManyRequests, c.name+": a guess past the free ones")
		if waits.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: the network waits without Retry-After", c.name)
		}
		e.want(login("203.0.113.9", ""), http.StatusTooManyRequests, c.name+": the right password from the waiting network")
		e.want(login("2001:db8:5::1", ""), http.StatusCreated, c.name+": the owner from another network")

		// Guesses from a second network bring the account to 6 failures:
		// now every network needs a captcha, the owner's too.
		for range 3 {
			e.want(guess("2001:db8:6::1"), http.StatusUnauthorized, c.name+": a guess from the second network")
		}
		asks := e.want(login("2001:db8:5::2", ""), http.StatusTooManyRequests, c.name+": the owner without a captcha")
		if f := fieldsOf(t, asks); f["captcha"] == nil {
			t.Fatalf("%s: the 429 does not ask for a captcha: %s", c.name, asks.Body)
		}
		captcha := e.solvedCaptcha()
		e.want(login("2001:db8:5::2", captcha), http.StatusCreated, c.name+": the owner with a solved captcha")
		used := e.want(login("2001:db8:5::2", captcha), http.StatusUnprocessableEntity, c.name+": the same captcha again")
		if f := fieldsOf(t, used); f["captcha"] == nil {
			t.Fatalf("%s: a used captcha is refused without naming the field: %s", c.name, used.Body)
		}
		e.want(e.doFrom("2001:db8:7::1", "POST", c.path, map[string]string{"email": c.email, "password": "a wrong guess", "captcha": "not a solution"}),
			http.StatusUnprocessableEntity, c.name+": a made-up captcha")
	}
}

// A staff user changes their own password with the current one: their
// other sessions end, this one stays; the change is audited; a wrong
// current password or a weak new one is 422 naming the field; guesses at
// the current password share the login backoff.
func TestStaffChangesOwnPassword(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"auth.login_free_failures": 3, "auth.login_per_minute": 100})
	u, tok := e.user(dsar.RoleSourceOwner)
	other := e.session(u)
	change := func(current, next string) answer {
		return e.do("PUT", "/api/v1/me/password", tok, map[string]string{"current_password": current, "new_password": next})
	}
	for _, c := range []struct{ current, next, field string }{
		{"", "a brand new passphrase", "current_password"},
		{"correct horse battery", "short", "new_password"},
		{"correct horse battery", "password1234", "new_password"},
		{"correct horse battery", "correct horse battery", "new_password"},
		{"not my password", "a brand new passphrase", "current_password"},
	} {
		got := fieldsOf(t, e.want(change(c.current, c.next), http.StatusUnprocessableEntity, "change "+c.current+" → "+c.next))
		if got[c.field] == nil {
			t.Errorf("%q → %q: fields %v, want %s named", c.current, c.next, got, c.field)
		}
	}
	e.want(e.do("PUT", "/api/v1/me/password", "", map[string]string{"current_password": "correct horse battery", "new_password": "a brand new passphrase"}),
		http.StatusUnauthorized, "without a session")

	e.want(change("correct horse battery", "a brand new passphrase"), http.StatusNoContent, "change")
	e.want(e.do("GET", "/api/v1/sessions/current", other, nil), http.StatusUnauthorized, "the other session")
	e.want(e.do("GET", "/api/v1/sessions/current", tok, nil), http.StatusOK, "this session")
	e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": u.Email, "password": "correct horse battery"}),
		http.StatusUnauthorized, "the old password")
	e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": u.Email, "password": "a brand new passphrase"}),
		http.StatusCreated, "the new password")
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = $1 AND actor_id = $2`, dsar.AuditStaffPasswordChanged, u.ID); err != nil || n != 1 {
		t.Fatalf("password changes audited: %d (%v), want 1", n, err)
	}

	// A stolen session guesses the password no faster than a login.
	status := 0
	for i := 0; i < 5 && status != http.StatusTooManyRequests; i++ {
		status = change("guess "+string(rune('a'+i)), "another new passphrase").Status
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("guessing the current password never hit 429 (last %d)", status)
	}
}
