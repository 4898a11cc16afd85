package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestAppealInBrowser: a Virginia requester whose request was rejected
// appeals from its portal page; a staff member who did not reject it
// finds the appeal in the console and upholds it; the portal then shows
// the decision, its reasons and the attorney general's complaint contact.
func TestAppealInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, deciderTok := e.user(dsar.RoleManager)
	reviewer, _ := e.user(dsar.RoleAdmin)
	email := "ada.appeals@example.org"
	id := e.request(newRequest{Email: email, Country: "US", Region: "US-VA"})
	e.verifyEmail(id)
	e.portalSession(id, email) // sets the password "a long enough password"
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", deciderTok, map[string]any{"reasons": []string{"manifestly_unfounded"}}),
		http.StatusOK, "reject")
	b := newConsoleBrowser(t)

	b.step("sign in to the portal and open the request",
		chromedp.Navigate(e.http.URL+"/portal/login"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "a long enough password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("appeal-form")),
	)
	if body := b.text("#appeal"); !strings.Contains(body, "You may appeal our decision until") {
		t.Errorf("the page does not say until when to appeal: %q", body)
	}
	b.step("appeal with reasons",
		chromedp.SendKeys(chromedp.ID("appeal-reason"), "You hold my order history; here is my order number."),
		chromedp.Click(chromedp.ID("appeal-button")),
		chromedp.WaitVisible(chromedp.ID("appeal-status")),
	)
	if notice := b.text(".notice"); !strings.Contains(notice, "appeal is filed") {
		t.Errorf("after appealing, the page says %q", notice)
	}
	if st := b.text("#appeal-status"); !strings.Contains(st, "Appeal open") {
		t.Errorf("the appeal reads %q", st)
	}

	b.signIn(e.http.URL+"/console/appeals", reviewer.Email, "correct horse battery")
	b.step("decide the appeal in the console",
		chromedp.WaitVisible(chromedp.CSS(`section[data-appeal] form.decide-appeal`)),
		chromedp.SetValue(chromedp.CSS(`section[data-appeal] select[name=outcome]`), "upheld"),
		chromedp.SendKeys(chromedp.CSS(`section[data-appeal] textarea[name=explanation]`), "We hold no order under this address."),
		chromedp.Click(chromedp.CSS(`section[data-appeal] form.decide-appeal button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#appeals p.summary`)), // the open list is empty now
		chromedp.Navigate(e.http.URL+"/console/appeals?status=upheld"),
		chromedp.WaitVisible(chromedp.CSS(`section[data-appeal] .appeal-status`)),
	)
	if st := b.text(`section[data-appeal] .appeal-status`); !strings.Contains(st, "the decision stands") {
		t.Errorf("the console shows the appeal as %q", st)
	}
	b.step("the request's page shows its appeal and whom it is about",
		chromedp.Click(chromedp.CSS(`section[data-appeal] h2 a`)),
		chromedp.WaitVisible(chromedp.ID("request-appeal")),
	)
	if st := b.text("#request-appeal"); !strings.Contains(st, "the decision stands") || !strings.Contains(st, "We hold no order under this address.") {
		t.Errorf("the request's appeal reads %q", st)
	}

	b.step("the portal shows the decision",
		chromedp.Navigate(e.http.URL+"/portal/requests/"+id),
		chromedp.WaitVisible(chromedp.ID("appeal-authority")),
	)
	if a := b.text("#appeal-authority"); !strings.Contains(a, "Virginia Office of the Attorney General") {
		t.Errorf("the portal names %q", a)
	}
	if x := b.text("#appeal-explanation"); x != "We hold no order under this address." {
		t.Errorf("the portal's explanation: %q", x)
	}
	b.check()
}
