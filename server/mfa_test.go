package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// totpCode is the code of secret at t, as an authenticator app shows it.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongTOTPCode is a code that is none of secret's codes near now.
func wrongTOTPCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for d := -2; d <= 2; d++ {
		near[totpCode(t, secret, time.Now().Add(time.Duration(d)*30*time.Second))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// fieldOf is the message of field in an error answer.
func fieldOf(t *testing.T, a answer, field string) string {
	t.Helper()
	e, _ := a.JSON(t)["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	s, _ := f[field].(string)
	return s
}

// TestTOTPEnrolmentLoginAndRefusals: a role config requires a second factor
// of; the password gives a session that can only enrol; a code confirms the
// enrolment and gives recovery codes and a full session; then the password
// gives a session that owes a code, which a wrong, a reused or a spent
// recovery code does not pay; an org owner's reset makes them enrol again.
func TestTOTPEnrolmentLoginAndRefusals(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"auth.mfa_required_roles": []string{"admin"},
		"auth.login_per_minute": 30}) // many sign-ins of one user here
	admin, _ := e.user(dsar.RoleAdmin)
	owner, ownerToken := e.user(dsar.RoleOrgOwner)
	login := func(email string) map[string]any {
		return e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "correct horse battery"}),
			http.StatusCreated, "login").JSON(t)
	}

	// Not required of an org owner here: a full session at once.
	if out := login(owner.Email); out["mfa"] != nil {
		t.Fatalf("org owner's login owes %v", out["mfa"])
	}

	// Required of admins: a session that can only enrol.
	out := login(admin.Email)
	if out["mfa"] != "enrol" {
		t.Fatalf("mfa = %v, want enrol", out["mfa"])
	}
	enrolling := out["token"].(string)
	e.want(e.do("GET", "/api/v1/requests", enrolling, nil), http.StatusUnauthorized, "the queue with an enrol-only session")
	e.want(e.do("POST", "/api/v1/sessions/current/second-factor", enrolling, map[string]string{"code": "123456"}),
		http.StatusUnauthorized, "a code with an enrol-only session")
	if cur := e.want(e.do("GET", "/api/v1/sessions/current", enrolling, nil), http.StatusOK, "current").JSON(t); cur["mfa"] != "enrol" {
		t.Fatalf("current session: %v", cur)
	}
	started := e.want(e.do("POST", "/api/v1/me/totp", enrolling, nil), http.StatusCreated, "start enrolment").JSON(t)
	secret := started["secret"].(string)
	if !strings.HasPrefix(started["qr_png"].(string), "data:image/png;base64,") || !strings.HasPrefix(started["otpauth_uri"].(string), "otpauth://totp/") {
		t.Fatalf("enrolment: %v", started)
	}
	// The secret is sealed at rest.
	var sealed []byte
	if err := e.db.Get(&sealed, `SELECT secret_sealed FROM staff_totp WHERE user_id = $1`, admin.ID); err != nil || strings.Contains(string(sealed), secret) {
		t.Fatalf("stored secret: %v (plaintext: %v)", err, strings.Contains(string(sealed), secret))
	}
	bad := e.want(e.do("POST", "/api/v1/me/totp/confirmation", enrolling, map[string]string{"code": wrongTOTPCode(t, secret)}),
		http.StatusUnprocessableEntity, "confirm with a wrong code")
	if fieldOf(t, bad, "code") == "" {
		t.Fatalf("the refusal does not name the code: %s", bad.Body)
	}
	confirmed := e.want(e.do("POST", "/api/v1/me/totp/confirmation", enrolling, map[string]string{"code": totpCode(t, secret, time.Now())}),
		http.StatusOK, "confirm").JSON(t)
	codes, _ := confirmed["recovery_codes"].([]any)
	full, _ := confirmed["token"].(string)
	if len(codes) != 10 || full == "" {
		t.Fatalf("confirmation: %v", confirmed)
	}
	e.want(e.do("GET", "/api/v1/requests", enrolling, nil), http.StatusUnauthorized, "the enrol-only session after confirming")
	e.want(e.do("GET", "/api/v1/requests", full, nil), http.StatusOK, "the queue with the full session")
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM staff_recovery_codes WHERE user_id = $1 AND code_hash LIKE '%' || $2 || '%'`,
		admin.ID, strings.ReplaceAll(codes[0].(string), "-", "")); err != nil || n != 0 {
		t.Fatalf("a recovery code stored in plaintext (%v)", err)
	}
	e.want(e.do("POST", "/api/v1/me/totp", full, nil), http.StatusConflict, "enrol again while enrolled")
	// A full session of someone not enrolled needs the password to enrol.
	_, ownerTok2 := e.user(dsar.RoleOrgOwner)
	e.want(e.do("POST", "/api/v1/me/totp", ownerTok2, nil), http.StatusUnprocessableEntity, "enrol from a full session without the password")
	e.want(e.do("POST", "/api/v1/me/totp", ownerTok2, map[string]string{"current_password": "not it at all"}),
		http.StatusUnprocessableEntity, "enrol with a wrong password")
	e.want(e.do("POST", "/api/v1/me/totp", ownerTok2, map[string]string{"current_password": "correct horse battery"}),
		http.StatusCreated, "enrol with the password")

	// Signing in now owes a code.
	pending := login(admin.Email)
	if pending["mfa"] != "totp" {
		t.Fatalf("mfa = %v, want totp", pending["mfa"])
	}
	partial := pending["token"].(string)
	e.want(e.do("GET", "/api/v1/requests", partial, nil), http.StatusUnauthorized, "the queue before the code")
	e.want(e.do("POST", "/api/v1/me/totp", partial, nil), http.StatusUnauthorized, "enrol with a session that owes a code")
	wrong := e.want(e.do("POST", "/api/v1/sessions/current/second-factor", partial, map[string]string{"code": wrongTOTPCode(t, secret)}),
		http.StatusUnprocessableEntity, "a wrong code")
	if fieldOf(t, wrong, "code") == "" {
		t.Fatalf("the refusal does not name the code: %s", wrong.Body)
	}
	e.want(e.do("POST", "/api/v1/sessions/current/second-factor", partial, map[string]string{}),
		http.StatusUnprocessableEntity, "no code")
	// The next step's code (the confirmation spent this one's).
	next := totpCode(t, secret, time.Now().Add(30*time.Second))
	signedIn := e.want(e.do("POST", "/api/v1/sessions/current/second-factor", partial, map[string]string{"code": next}),
		http.StatusCreated, "the right code").JSON(t)
	e.want(e.do("GET", "/api/v1/requests", partial, nil), http.StatusUnauthorized, "the partial session after the code")
	e.want(e.do("GET", "/api/v1/requests", signedIn["token"].(string), nil), http.StatusOK, "the queue after the code")

	// The same code again does not sign in.
	again := login(admin.Email)["token"].(string)
	reused := e.want(e.do("POST", "/api/v1/sessions/current/second-factor", again, map[string]string{"code": next}),
		http.StatusUnprocessableEntity, "a code used already")
	if fieldOf(t, reused, "code") == "" {
		t.Fatalf("the refusal does not name the code: %s", reused.Body)
	}

	// A recovery code works once, however it is typed.
	rc := codes[0].(string)
	e.want(e.do("POST", "/api/v1/sessions/current/second-factor", again, map[string]string{"recovery_code": " " + strings.ToUpper(rc) + " "}),
		http.StatusCreated, "a recovery code")
	third := login(admin.Email)["token"].(string)
	spent := e.want(e.do("POST", "/api/v1/sessions/current/second-factor", third, map[string]string{"recovery_code": rc}),
		http.StatusUnprocessableEntity, "a recovery code used already")
	if fieldOf(t, spent, "recovery_code") == "" {
		t.Fatalf("the refusal does not name the recovery code: %s", spent.Body)
	}
	cur := e.want(e.do("GET", "/api/v1/sessions/current", signedIn["token"].(string), nil), http.StatusOK, "current").JSON(t)
	if sf := cur["second_factor"].(map[string]any); sf["enrolled"] != true || sf["recovery_codes_left"] != float64(9) {
		t.Fatalf("second factor: %v", sf)
	}

	// Audited: the enrolment, the refusals, the recovery code.
	for action, want := range map[string]int{dsar.AuditStaffMFAEnrolled: 1, dsar.AuditStaffMFARecoveryUsed: 1, dsar.AuditStaffMFAFailed: 4} {
		if got := e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND actor_id = $2`, action, admin.ID); got != want {
			t.Errorf("%s audited %d times, want %d", action, got, want)
		}
	}

	// Only org owners reset it; the reset ends the sessions and the next
	// sign-in enrols again.
	e.want(e.do("DELETE", "/api/v1/users/"+admin.ID+"/totp", signedIn["token"].(string), nil), http.StatusForbidden, "an admin resets")
	e.want(e.do("DELETE", "/api/v1/users/"+admin.ID+"/totp", ownerToken, nil), http.StatusNoContent, "the org owner resets")
	e.want(e.do("GET", "/api/v1/requests", signedIn["token"].(string), nil), http.StatusUnauthorized, "a session after the reset")
	if out := login(admin.Email); out["mfa"] != "enrol" {
		t.Fatalf("after the reset, mfa = %v, want enrol", out["mfa"])
	}
}

// TestPartialSessionsReachOnlyWhatTheyOwe walks every staff route with a
// session that still owes its second factor (each kind, of an org owner,
// who may call everything): only the routes whose access-table row names
// what it owes let it past the guards; every other answers 401.
func TestPartialSessionsReachOnlyWhatTheyOwe(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	owner, _ := e.user(dsar.RoleOrgOwner)
	for _, route := range e.server.Engine().Routes() {
		rule, ok := accessRule(route.Method, route.Path)
		if !ok || rule.Who != staff {
			continue // TestAccessMatrix reports a missing row
		}
		path := strings.NewReplacer(":id", owner.ID, ":data_source_id", owner.ID, ":file_id", owner.ID,
			":attachment_id", owner.ID, ":op", "encode").Replace(route.Path)
		for _, owed := range []string{store.MFATOTP, store.MFAEnrol} {
			token, err := e.db.CreateStaffSession(e.ctx, owner.ID, owed, time.Minute, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			var body any
			if route.Method == http.MethodPost || route.Method == http.MethodPatch || route.Method == http.MethodPut {
				body = "{}"
			}
			got := e.do(route.Method, path, token, body).Status
			if allowed := slices.Contains(rule.MFA, owed); allowed == (got == http.StatusUnauthorized) {
				t.Errorf("%s %s with a session owing %s: %d (the table lets it in: %v)", route.Method, route.Path, owed, got, allowed)
			}
		}
	}
}

// TestGuessingCodesMeetsTheBackoff: wrong second-factor codes count like
// failed logins: past the free ones, that network waits (429 with
// Retry-After), however generous the per-minute rate.
func TestGuessingCodesMeetsTheBackoff(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"auth.mfa_required_roles": []string{"admin"},
		"auth.login_per_minute": 100, "auth.login_free_failures": 3})
	admin, _ := e.user(dsar.RoleAdmin)
	login := func() string {
		return e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": admin.Email, "password": "correct horse battery"}),
			http.StatusCreated, "login").JSON(t)["token"].(string)
	}
	enrolling := login()
	secret := e.want(e.do("POST", "/api/v1/me/totp", enrolling, nil), http.StatusCreated, "start enrolment").JSON(t)["secret"].(string)
	e.want(e.do("POST", "/api/v1/me/totp/confirmation", enrolling, map[string]string{"code": totpCode(t, secret, time.Now())}),
		http.StatusOK, "confirm")
	owing := login()
	for i := 0; i < 3; i++ {
		e.want(e.do("POST", "/api/v1/sessions/current/second-factor", owing, map[string]string{"code": wrongTOTPCode(t, secret)}),
			http.StatusUnprocessableEntity, "a wrong code")
	}
	a := e.do("POST", "/api/v1/sessions/current/second-factor", owing, map[string]string{"code": wrongTOTPCode(t, secret)})
	if a.Status != http.StatusTooManyRequests || a.Header.Get("Retry-After") == "" {
		t.Fatalf("the fourth wrong code: %d (Retry-After %q), want 429 with a wait", a.Status, a.Header.Get("Retry-After"))
	}
}
