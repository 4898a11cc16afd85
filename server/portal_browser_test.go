package server_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// chromiumPath is the headless browser the page tests drive.
const chromiumPath = "/usr/bin/chromium"

// TestPortalInBrowser walks the portal as a requester does, in headless
// Chromium without help from the test: open the link from the verification
// email, set a password, log in, open the request, read the staff message,
// reply; staff then see the reply.
func TestPortalInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s", chromiumPath)
	}
	e := newPortalEnv(t, nil)
	id := e.insertRequest("ada@example.org", dsar.StatusInProgress)
	_, managerTok := e.staff(dsar.RoleManager)
	token := e.verificationToken(id, "ada@example.org")
	const staffMessage = "Hello Ada, which of your two accounts does this request cover?"
	e.expect("POST", "/api/v1/requests/"+id+"/messages", managerTok, map[string]string{"body": staffMessage}, http.StatusCreated)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.Flag("disable-background-networking", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first run starts the browser and must not carry the timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser: read %s: %v", sel, err)
		}
		return v
	}

	step("set a password from the email's link",
		chromedp.Navigate(e.srv.URL+"/portal/accounts/new?token="+token),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.SendKeys(chromedp.ID("password_confirm"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#account-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	if notice := text(".notice"); !strings.Contains(notice, "account is ready") {
		t.Errorf("after setting the password the login page says %q", notice)
	}
	step("log in",
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.org"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("table")),
	)
	if list := text("table"); !strings.Contains(list, "Info") || !strings.Contains(list, "1 new") {
		t.Errorf("the request list shows %q, want the Info request with 1 new message", list)
	}
	step("open the request",
		chromedp.Click(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.ID("reply-form")),
	)
	if body := text("ol.messages .message-body"); body != staffMessage {
		t.Errorf("the request page shows %q, want the staff message", body)
	}
	step("reply",
		chromedp.SendKeys(chromedp.ID("body"), "The customer account, please."),
		chromedp.Click(chromedp.CSS("#reply-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if notice, msgs := text(".notice"), text("ol.messages"); !strings.Contains(notice, "sent") || !strings.Contains(msgs, "The customer account, please.") {
		t.Errorf("after replying: notice %q, messages %q", notice, msgs)
	}

	var staffView portalMessages
	e.decode(e.expect("GET", "/api/v1/requests/"+id+"/messages", managerTok, nil, http.StatusOK), &staffView)
	if len(staffView.Items) != 2 || staffView.Items[1].Body != "The customer account, please." || staffView.Unread != 1 {
		t.Errorf("staff see %+v (unread %d), want the reply, unread", staffView.Items, staffView.Unread)
	}
}
