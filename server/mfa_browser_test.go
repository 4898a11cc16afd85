package server

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestTOTPLoginInBrowser: in headless Chromium, a staff user whom config
// requires a second factor signs in with their password, is shown the QR
// code and key, confirms with a code (computed here as an authenticator
// app would), saves the recovery codes and reaches the queue; after signing
// out, the password asks for a code: a wrong one is shown as refused, the
// right one signs in.
func TestTOTPLoginInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"auth.mfa_required": true, "auth.login_per_minute": 30})
	admin, _ := e.user(dsar.RoleAdmin)
	b := newConsoleBrowser(t)

	b.step("sign in with the password",
		chromedp.Navigate(e.http.URL+"/console"),
		chromedp.WaitVisible(chromedp.ID("signin-email")),
		chromedp.SendKeys(chromedp.ID("signin-email"), admin.Email),
		chromedp.SendKeys(chromedp.ID("signin-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("enrol-form")),
		chromedp.Poll[chromedp.Void](`document.getElementById('enrol-qr').complete && document.getElementById('enrol-qr').naturalWidth > 0`),
	)
	secret := strings.TrimSpace(b.text("#enrol-secret"))
	if len(secret) < 16 {
		t.Fatalf("the key shown is %q", secret)
	}
	b.expectRefusals(func() {
		b.step("confirm with a wrong code",
			chromedp.SendKeys(chromedp.ID("enrol-code"), wrongTOTPCode(t, secret)),
			chromedp.Click(chromedp.CSS("#enrol-form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#enrol-form .form-error:not([hidden])")),
		)
	}, http.StatusUnprocessableEntity)
	b.step("confirm with the app's code",
		chromedp.SetValue(chromedp.ID("enrol-code"), totpCode(t, secret, time.Now())),
		chromedp.Click(chromedp.CSS("#enrol-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")),
	)
	if codes := b.text("#recovery-codes"); strings.Count(codes, "-") != 30 {
		t.Errorf("the recovery codes shown: %q", codes)
	}
	b.step("continue to the console",
		chromedp.Click(chromedp.ID("recovery-done")),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.WaitVisible(chromedp.CSS("table.queue")),
	)
	if who := b.text("#whoami"); !strings.Contains(who, admin.Name) {
		t.Errorf("signed in as %q", who)
	}

	b.step("sign out, and in again with the password",
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("signin-email")),
		chromedp.SetValue(chromedp.ID("signin-email"), admin.Email),
		chromedp.SetValue(chromedp.ID("signin-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("mfa-code")),
	)
	b.expectRefusals(func() {
		b.step("a wrong code",
			chromedp.SendKeys(chromedp.ID("mfa-code"), wrongTOTPCode(t, secret)),
			chromedp.Click(chromedp.CSS("#mfa-form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#mfa-form .form-error:not([hidden])")),
		)
	}, http.StatusUnprocessableEntity)
	// The next step's code: the confirmation spent this one's.
	b.step("the app's code",
		chromedp.SetValue(chromedp.ID("mfa-code"), totpCode(t, secret, time.Now().Add(30*time.Second))),
		chromedp.Click(chromedp.CSS("#mfa-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.WaitVisible(chromedp.CSS("table.queue")),
	)
	b.check()
}

// TestOIDCLoginInBrowser: in headless Chromium, with password sign-in off,
// the console offers only single sign-on; the button goes through the
// OpenID provider (mockoidc, started here) and back, and the console opens
// as the user the provider named, with the role their group gives. A user
// in no mapped group sees why they are refused.
func TestOIDCLoginInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newOIDCEnv(t)
	b := newConsoleBrowser(t)

	e.idp.QueueUser(mockUser("sub-ada", "ada.sso@example.com", "dsar-managers"))
	b.step("sign in with SSO",
		chromedp.Navigate(e.http.URL+"/console"),
		chromedp.WaitVisible(chromedp.ID("sso-link")),
	)
	if shown := b.eval(`String(!document.getElementById('signin-form').hidden)`); shown != "false" {
		t.Errorf("the password form is shown while password sign-in is off")
	}
	b.step("follow the provider back",
		chromedp.Click(chromedp.ID("sso-link")),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.WaitVisible(chromedp.CSS("table.queue")),
	)
	if who := b.text("#whoami"); !strings.Contains(who, "Grace Hopper") || !strings.Contains(who, "Manager") {
		t.Errorf("signed in as %q", who)
	}
	if u := b.eval(`location.pathname + location.search`); u != "/console" {
		t.Errorf("the console's address is %q", u)
	}
	b.step("reload: still signed in",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("whoami")),
		chromedp.WaitVisible(chromedp.CSS("table.queue")),
	)
	b.step("sign out",
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("sso-link")),
	)
	b.check()

	e.idp.QueueUser(mockUser("sub-eve", "eve@example.com", "engineering"))
	b.expectRefusals(func() {
		b.step("a user without a role",
			chromedp.Click(chromedp.ID("sso-link")),
			chromedp.WaitVisible(chromedp.ID("sso-error")),
		)
	}, http.StatusForbidden)
	if why := b.text("#sso-error"); !strings.Contains(why, "role") {
		t.Errorf("the refusal says %q", why)
	}
	b.check()
}
