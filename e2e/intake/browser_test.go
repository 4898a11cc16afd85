package intake_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium or Chrome binary.
func chromium() string {
	if p := os.Getenv("DSAR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserSubmitsAndVerifies fills in the form in headless Chromium, lets
// the ALTCHA widget solve the captcha, submits, opens the verification link
// from the dev mailbox and confirms.
func TestBrowserSubmitsAndVerifies(t *testing.T) {
	t.Parallel()
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium binary (chromium, google-chrome; or set DSAR_CHROMIUM): skipping the browser test")
	}
	e := start(t, nil)
	doc := filepath.Join(t.TempDir(), "passport.png")
	if err := os.WriteFile(doc, pngWithText(t, "exif-like"), 0o600); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-gpu", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()

	// Record what the browser complains about: CSP violations, script errors.
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *log.EventEntryAdded:
			// The browser asks for /favicon.ico on its own; that is no fault of the page.
			if ev.Entry.Level == log.EntryLevelError && !strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	report := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(problems, "; ")
	}
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	const email = "margaret.hamilton@example.org"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{})
			return err
		}),
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(css("#first_name")),
		chromedp.SendKeys(css("#first_name"), "Margaret"),
		chromedp.SendKeys(css("#last_name"), "Hamilton"),
		chromedp.SendKeys(css("#email"), email),
		chromedp.SetValue(css("#country"), "US"),
	)
	if err != nil {
		t.Fatalf("fill in the form: %v (browser: %s)", err, report())
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('country').dispatchEvent(new Event('change'))`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(css("#region")),
		chromedp.SetValue(css("#region"), "US-CA"),
		chromedp.Click(css("input[name=requestor_type][value=employee]")),
		chromedp.SetValue(css("#request_type"), "deletion"),
		chromedp.SendKeys(css("#description"), "Please delete everything you hold about me."),
		chromedp.SetUploadFiles(css("#identity_document"), []string{doc}),
		chromedp.WaitVisible(css("altcha-widget input[type=checkbox]")),
		chromedp.Click(css("altcha-widget input[type=checkbox]")),
	)
	if err != nil {
		t.Fatalf("fill in the form: %v (browser: %s)", err, report())
	}
	captcha, err := chromedp.Run(ctx, chromedp.Poll[string](`(document.querySelector('input[name=captcha]') || {}).value || ''`,
		chromedp.WithPollingTimeout(45*time.Second), chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil || captcha == "" {
		t.Fatalf("the widget solved no captcha: %v (browser: %s)", err, report())
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css("#submit")),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Check your inbox")]`)),
	)
	if err != nil {
		body, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("main")))
		t.Fatalf("submit: %v (browser: %s)\n%s", err, report(), body)
	}
	if c := e.counts(); c.requests != 1 || c.accepted != 1 {
		t.Fatalf("rows after the browser's submission: %+v", c)
	}
	var region, requestor string
	if err := e.app.DB.QueryRow(`SELECT region, requestor_type FROM requests`).Scan(&region, &requestor); err != nil || region != "US-CA" || requestor != "employee" {
		t.Errorf("stored region %q requestor %q (%v)", region, requestor, err)
	}

	tok := e.waitForVerificationMail(email, 30*time.Second)
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/verify-email?token="+tok),
		chromedp.WaitVisible(css("#confirm")),
		chromedp.Click(css("#confirm")),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Email address confirmed")]`)),
		chromedp.WaitVisible(css("#password_confirm")),
	)
	if err != nil {
		t.Fatalf("confirm the email: %v (browser: %s)", err, report())
	}
	var id string
	if err := e.app.DB.Get(&id, `SELECT id FROM requests`); err != nil {
		t.Fatal(err)
	}
	if n := signalled(t, e, id); n != 1 {
		t.Errorf("the workflow got %d email-verified signals, want 1", n)
	}
	if p := report(); p != "" {
		t.Errorf("the browser reported: %s", p)
	}
}
