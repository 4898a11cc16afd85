package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// TestConsoleRecordsARequest: a manager records a phone request from the
// console: the 422 of a checked identity without a note is shown beside
// the note; then the request is recorded once and its page shows the
// channel and the day received.
func TestConsoleRecordsARequest(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	manager, _ := e.user(dsar.RoleManager)
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console", manager.Email, "correct horse battery")
	b.step("open the recording form",
		chromedp.Click(chromedp.ID("record-link")),
		chromedp.WaitVisible(chromedp.ID("record-form")),
		chromedp.SetValue(chromedp.CSS(`#record-form select[name=channel]`), "phone"),
		chromedp.SendKeys(chromedp.CSS(`#record-form input[name=first_name]`), "Grace"),
		chromedp.SendKeys(chromedp.CSS(`#record-form input[name=last_name]`), "Hopper"),
		chromedp.SendKeys(chromedp.CSS(`#record-form input[name=email]`), "grace-console@example.org"),
		chromedp.SetValue(chromedp.CSS(`#record-form select[name=country]`), "DE"),
		chromedp.SetValue(chromedp.CSS(`#record-form select[name=requestor_type]`), "customer"),
		chromedp.SetValue(chromedp.CSS(`#record-form select[name=request_type]`), "deletion"),
		chromedp.SendKeys(chromedp.CSS(`#record-form textarea[name=description]`), "Asked on the phone to delete her account."),
		chromedp.Click(chromedp.CSS(`#record-form input[name=identity_checked]`)),
	)
	b.expectRefusals(func() {
		b.step("record with identity checked but no note",
			chromedp.Click(chromedp.CSS(`#record-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#record-form textarea[name=identity_note][aria-invalid=true]`)),
		)
	}, http.StatusUnprocessableEntity)
	if n := e.count(`SELECT count(*) FROM requests`); n != 0 {
		t.Fatalf("%d requests after the refusal, want none", n)
	}
	b.step("record it with the note",
		chromedp.SendKeys(chromedp.CSS(`#record-form textarea[name=identity_note]`), "Answered the security questions on file."),
		chromedp.Click(chromedp.CSS(`#record-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#request-channel[data-channel="phone"]`)),
	)
	if facts := b.text("#view"); !strings.Contains(facts, "Arrived by") || !strings.Contains(facts, "Phone") || !strings.Contains(facts, "Received") {
		t.Errorf("the request page shows %q, want the channel and the day received", facts)
	}
	var ids []string
	if err := e.db.SelectContext(e.ctx, &ids, `SELECT id::text FROM requests WHERE channel = 'phone' AND accepted`); err != nil || len(ids) != 1 {
		t.Errorf("phone requests stored: %v (%v), want 1", ids, err)
	}
	for _, id := range ids {
		// Identity was checked on the call: the request starts verified.
		e.eventually("the recorded request is identity-verified", func() bool {
			r, err := e.db.Request(e.ctx, id, "")
			return err == nil && r.Status == dsar.StatusIdentityVerified
		})
		_ = e.temporal.TerminateWorkflow(e.ctx, workflows.WorkflowID(id), "", "test over")
	}
	b.check()
}
