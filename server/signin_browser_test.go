package server

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// TestPortalSignInLinkInBrowser walks the lost-password path in headless
// Chromium as a requester does: on /portal's login page ask for a sign-in
// link, open the link from the mail, sign in with one click, set a
// password, see the requests; then log out and log in with the new
// password. Any console error, uncaught exception or CSP violation fails
// the test.
func TestPortalSignInLinkInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	email := "ada-" + uuid.NewString()[:8] + "@example.org"
	id := e.request(newRequest{Email: email})
	e.verifyEmail(id)
	b := newConsoleBrowser(t)

	b.step("ask for a sign-in link on the portal",
		chromedp.Navigate(e.http.URL+"/portal"),
		chromedp.WaitVisible(chromedp.ID("sign-in-link-form")),
		chromedp.SendKeys(chromedp.ID("link-email"), email),
		chromedp.Click(chromedp.CSS("#sign-in-link-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("sign-in-link-sent")),
	)
	if sent := b.text("#sign-in-link-sent"); !strings.Contains(sent, "30 minutes") {
		t.Errorf("after asking, the page says %q", sent)
	}
	var tokens []string
	e.eventually("the sign-in link reaches "+email, func() bool {
		tokens = e.signInLinks(email)
		return len(tokens) > 0
	})
	link := e.http.URL + "/portal/sign-in?token=" + tokens[0]

	b.step("open the link and sign in",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-form button[type=submit]")),
		chromedp.Click(chromedp.CSS("#sign-in-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("password-step")),
	)
	if heading, at := b.text("#password-heading"), b.eval(`location.pathname + location.search`); heading != "Set a password" || at != "/portal/sign-in" {
		t.Errorf("signed in, the page offers %q at %s; want to set a password, the token gone from the address", heading, at)
	}
	b.step("set a password, mistyping the confirmation first",
		chromedp.SendKeys(chromedp.ID("password"), "ada's new portal password"),
		chromedp.SendKeys(chromedp.ID("password_confirm"), "something else entirely"),
		chromedp.Click(chromedp.CSS("#password-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("password_confirm-error")),
		chromedp.SetValue(chromedp.ID("password_confirm"), "ada's new portal password"),
		chromedp.Click(chromedp.CSS("#password-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("password-saved")),
	)
	b.step("go to the requests, signed in",
		chromedp.Click(chromedp.ID("to-requests")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
	)
	b.step("log out, then log in with the new password",
		chromedp.Click(chromedp.CSS(`form[action="/portal/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "ada's new portal password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
	)
	b.check()
}
