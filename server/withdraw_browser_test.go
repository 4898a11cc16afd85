package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
)

// TestPortalWithdrawInBrowser: a requester signs in to the portal, opens
// an open request, withdraws it with a reason from its page, and sees it
// withdrawn with the form gone; staff see it withdrawn and erased.
func TestPortalWithdrawInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, bossTok := e.user(dsar.RoleOrgOwner)
	email := "ada.withdraws@example.org"
	id := e.request(newRequest{Email: email})
	e.verifyEmail(id)
	e.portalSession(id, email) // sets the password "a long enough password"
	b := newConsoleBrowser(t)

	b.step("sign in to the portal",
		chromedp.Navigate(e.http.URL+"/portal/login"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "a long enough password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
	)
	b.step("open the request",
		chromedp.Click(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("withdraw-form")),
	)
	b.step("withdraw it, confirming",
		chromedp.SendKeys(chromedp.ID("withdraw-reason"), "I sorted it out on the phone."),
		chromedp.Click(chromedp.ID("withdraw-confirm")),
		chromedp.Click(chromedp.ID("withdraw-button")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice := b.text(".notice"); !strings.Contains(notice, "withdrawn") {
		t.Errorf("after withdrawing, the page says %q", notice)
	}
	if st := b.text("#request-status"); !strings.Contains(st, "Withdrawn") {
		t.Errorf("the status reads %q", st)
	}
	if n := b.eval(`String(document.querySelectorAll('#withdraw-form').length)`); n != "0" {
		t.Errorf("a withdrawn request still offers the withdrawal form")
	}
	e.eventually("staff see it withdrawn and erased", func() bool {
		d := e.want(e.do("GET", "/api/v1/requests/"+id, bossTok, nil), http.StatusOK, "detail").JSON(t)
		return d["status"] == string(dsar.StatusWithdrawn) && d["pii_erased"] == true
	})
	// The reason is a message in the thread, sealed like every message; no
	// plain copy of the requester's words outlives the erasure.
	msgs := e.want(e.do("GET", "/api/v1/requests/"+id+"/messages", bossTok, nil), http.StatusOK, "messages").JSON(t)["items"].([]any)
	if len(msgs) != 1 || !strings.Contains(msgs[0].(map[string]any)["body"].(string), "I sorted it out on the phone.") {
		t.Errorf("staff do not read the requester's reason in the thread: %v", msgs)
	}
	if d := e.want(e.do("GET", "/api/v1/requests/"+id, bossTok, nil), http.StatusOK, "detail").JSON(t); d["close_note"] != "" {
		t.Errorf("the requester's words are kept as the closing note: %v", d["close_note"])
	}
	b.check()
}

// TestEveryStatusHasRequesterWords: the portal says each status, and how
// each closed request ended, in words of its own.
func TestEveryStatusHasRequesterWords(t *testing.T) {
	for _, st := range dsar.Statuses {
		if l := requesterStatus(locale.English, st); l == "" || l == string(st) {
			t.Errorf("status %s has no words for the requester", st)
		}
		if st.Closed() && requesterOutcome(locale.English, st, "the authority") == "This request is closed." {
			t.Errorf("closed status %s has no outcome sentence", st)
		}
	}
}
