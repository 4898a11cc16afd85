package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

// TestTemporalUIShowsDecodedWorkflows: as after `make run`, the Temporal
// dev server's own web UI, pointed at the service's codec endpoint, with no
// setting changed and nobody signed in, shows a request's workflow in the
// list with its summary, and its page with the input decoded.
func TestTemporalUIShowsDecodedWorkflows(t *testing.T) {
	// The service's address must be known before the dev server starts:
	// the UI is told the codec endpoint on its command line.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ui := testenv.TemporalWithUI(t, "http://"+l.Addr().String()+"/codec")
	e := newStaffEnv(t, map[string]any{"temporal.address": ui.Address, "temporal.ui_url": ui.UIURL})
	srv := &http.Server{Handler: e.server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	_, managerTok := e.user(dsar.RoleManager)
	created := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "ui-1", manualForm("grace@example.org", nil)),
		http.StatusCreated, "record").JSON(t)
	id, _ := created["id"].(string)
	wid := workflows.WorkflowID(id)

	b := newConsoleBrowser(t)
	text := b.pageShowing

	// The list shows the workflow.
	text(ui.UIURL+"/namespaces/"+e.cfg.Temporal.Namespace+"/workflows", wid)
	// The workflow's page: the input decoded through the codec endpoint
	// (its field names appear only once decoded), no codec error.
	page := text(ui.UIURL+"/namespaces/"+e.cfg.Temporal.Namespace+"/workflows/"+wid, "DeadlineRule")
	for _, bad := range []string{"Codec Server could not connect", "binary/encrypted", sealedEncoding} {
		if strings.Contains(page, bad) {
			t.Errorf("the workflow's page shows %q:\n%.3000s", bad, page)
		}
	}
	if !strings.Contains(page, "Info request · DE") {
		t.Errorf("the workflow's page shows no summary in words:\n%.3000s", page)
	}
	if !strings.Contains(page, id) {
		t.Errorf("the decoded input does not show the request's id:\n%.3000s", page)
	}
}

// sealedEncoding is how the Temporal UI shows a payload it could not
// decode: its metadata's encoding, "binary/encrypted", in base64.
var sealedEncoding = base64.StdEncoding.EncodeToString([]byte("binary/encrypted"))

// pageShowing opens url and waits until its text includes want; it
// returns the page's text.
func (b *consoleBrowser) pageShowing(url, want string) string {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("open %s: %v", url, err)
	}
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!document.body && document.body.innerText.includes(`+jsString(want)+`)`))
	body, _ := chromedp.Run(context.WithoutCancel(b.ctx), chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		b.t.Fatalf("%s never showed %q: %v\npage:\n%.3000s", url, want, err, body)
	}
	return body
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestTemporalUIDecodesForSignedInStaff is README's "Running in
// production", step 7, in Chromium against the real Temporal UI: the
// service in production mode (a secret master key, so the UI's origin gets
// no anonymous decoding), the UI's codec endpoint at the service's /codec,
// and the UI told in its codec settings, as an operator does in the
// browser, to use that endpoint and include cross-origin credentials.
// Before anyone signs in to the console the UI cannot decode (/codec/decode
// answers 401: the input stays sealed, the UI says its codec server could
// not connect). An admin with a second factor then signs in to the console
// in the same browser, which keeps the session in the HttpOnly staff
// cookie (not readable by scripts); the UI, reloaded, sends that cookie
// and shows the input decoded, each decoding audited as the admin's.
func TestTemporalUIDecodesForSignedInStaff(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	service := "http://" + l.Addr().String()
	// The UI's cluster-level setting names the endpoint but cannot include
	// credentials (the dev server has no option for it); the operator's
	// browser setting below does.
	ui := testenv.TemporalWithUI(t, service+"/codec")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	e := newStaffEnv(t, map[string]any{
		"mode":                 config.ModeProduction,
		"crypto.master_key":    base64.StdEncoding.EncodeToString(key),
		"email.resend.api_key": "re_test_unused", // the test's mail goes to its outbox
		"public_url":           service,
		"temporal.address":     ui.Address,
		"temporal.ui_url":      ui.UIURL,
	})
	if e.cfg.Dev() {
		t.Fatal("the service runs in dev mode")
	}
	srv := &http.Server{Handler: e.server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	// An admin with an authenticator app: the console's session is the one
	// the second factor gives, not the password's.
	admin, tok := e.user(dsar.RoleAdmin)
	started := e.want(e.do("POST", "/api/v1/me/totp", tok, map[string]string{"current_password": "correct horse battery"}),
		http.StatusCreated, "start enrolment").JSON(t)
	secret, _ := started["secret"].(string)
	e.want(e.do("POST", "/api/v1/me/totp/confirmation", tok, map[string]string{"code": totpCode(t, secret, time.Now())}),
		http.StatusOK, "confirm enrolment")

	_, managerTok := e.user(dsar.RoleManager)
	created := e.want(e.doKeyed("POST", "/api/v1/requests/manual", managerTok, "ui-prod-1", manualForm("grace@example.org", nil)),
		http.StatusCreated, "record").JSON(t)
	id, _ := created["id"].(string)
	workflowPage := ui.UIURL + "/namespaces/" + e.cfg.Temporal.Namespace + "/workflows/" + workflows.WorkflowID(id)
	decoded := func() int {
		return e.count(`SELECT count(*) FROM audit_events WHERE action = $1`, dsar.AuditPayloadsDecoded)
	}

	b := newConsoleBrowser(t)
	// The UI's codec settings (its "Codec Server" dialog), kept in its
	// origin's localStorage: the endpoint, "Use my browser setting and
	// ignore Cluster-level setting", "Include cross-origin credentials".
	b.pageShowing(ui.UIURL+"/namespaces/"+e.cfg.Temporal.Namespace+"/workflows", workflows.WorkflowID(id))
	b.eval(`localStorage.setItem('endpoint', JSON.stringify(` + jsString(service+"/codec") + `));
		localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
		localStorage.setItem('includeCredentials', 'true');
		'set'`)

	// Nobody signed in: refused, nothing decoded.
	b.mu.Lock()
	before := len(b.problems)
	b.mu.Unlock()
	// The input, still sealed, is shown as the UI got it: its encoding
	// "binary/encrypted" in base64.
	page := b.pageShowing(workflowPage, sealedEncoding)
	if !strings.Contains(page, "Codec Server could not connect") || strings.Contains(page, "DeadlineRule") {
		t.Errorf("without a session the workflow's page is not left sealed:\n%.3000s", page)
	}
	b.mu.Lock()
	refused := 0
	for _, p := range b.problems[before:] {
		if strings.Contains(p, "status of 401") && strings.Contains(p, service+"/codec/decode") {
			refused++
		}
	}
	b.problems = b.problems[:before]
	b.mu.Unlock()
	if refused == 0 {
		t.Errorf("the browser saw no 401 from %s/codec/decode", service)
	}
	if n := decoded(); n != 0 {
		t.Errorf("%d decodings audited before anyone signed in", n)
	}

	// The admin signs in to the console, password then code, in the same
	// browser.
	b.step("sign in to the console",
		chromedp.Navigate(service+"/console"),
		chromedp.WaitVisible(chromedp.ID("signin-email")),
		chromedp.SendKeys(chromedp.ID("signin-email"), admin.Email),
		chromedp.SendKeys(chromedp.ID("signin-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("mfa-code")),
		// The next step's code: the enrolment spent this one's.
		chromedp.SetValue(chromedp.ID("mfa-code"), totpCode(t, secret, time.Now().Add(30*time.Second))),
		chromedp.Click(chromedp.CSS("#mfa-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("whoami")),
	)
	if c := b.eval(`document.cookie`); strings.Contains(c, staffCookie) {
		t.Errorf("the console's script can read the staff cookie: %q", c)
	}

	// The UI now decodes with the console's session.
	page = b.pageShowing(workflowPage, "DeadlineRule")
	for _, bad := range []string{"Codec Server could not connect", "binary/encrypted", sealedEncoding} {
		if strings.Contains(page, bad) {
			t.Errorf("signed in, the workflow's page shows %q:\n%.3000s", bad, page)
		}
	}
	if !strings.Contains(page, id) {
		t.Errorf("the decoded input does not show the request's id:\n%.3000s", page)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND actor_id = $2`, dsar.AuditPayloadsDecoded, admin.ID); n == 0 || n != decoded() {
		t.Errorf("decodings audited as the admin's: %d of %d", n, decoded())
	}
}
