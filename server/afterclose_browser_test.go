package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestConsoleMessageAfterClose: on a rejected request, whose requester's
// address is erased, the console still offers the message form, says that
// the requester reads it in the portal (no mail can tell them), sends it,
// and says so again after sending.
func TestConsoleMessageAfterClose(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, bossTok := e.user(dsar.RoleOrgOwner)
	id := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/rejection", bossTok, map[string]any{"reasons": []string{"incomplete"}}),
		http.StatusOK, "reject")
	e.eventually("the PII is erased", func() bool {
		return e.want(e.do("GET", "/api/v1/requests/"+id, bossTok, nil), http.StatusOK, "detail").JSON(t)["pii_erased"] == true
	})
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console/requests/"+id, boss.Email, "correct horse battery")
	b.step("open the rejected request", requestStatus(dsar.StatusRejected), chromedp.WaitVisible(chromedp.ID("message-form")))
	if hint := b.text("#closed-message-hint"); !strings.Contains(hint, "will see it when they next sign in to the portal") ||
		!strings.Contains(hint, "no email") {
		t.Errorf("beside the form on a closed request: %q", hint)
	}
	const why = "Your request lacked the account number; write to us with it and we will look again."
	b.step("write to the requester after close",
		chromedp.SendKeys(chromedp.CSS(`#message-form textarea[name=body]`), why),
		chromedp.Click(chromedp.CSS(`#message-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("message-sent")),
	)
	if sent := b.text("#message-sent"); !strings.Contains(sent, "not emailed") || !strings.Contains(sent, "next sign in to the portal") {
		t.Errorf("after sending, the console says %q", sent)
	}
	if mine := b.text("ol.messages li.mine"); !strings.Contains(mine, why) {
		t.Errorf("the thread shows %q, want the message", mine)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById('announce').textContent.includes('portal')`)); err != nil {
		t.Errorf("the sending is not announced: %v", err)
	}
	msgs := e.want(e.do("GET", "/api/v1/requests/"+id+"/messages", bossTok, nil), http.StatusOK, "messages").JSON(t)["items"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["body"] != why {
		t.Errorf("the API has %v, want the message", msgs)
	}
	b.check()
}
