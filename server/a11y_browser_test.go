package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/opendsar/dsar"
)

// axeSource is axe-core, vendored in testdata/axe (its README says which
// version and how to update it).
var axeSource = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
})

// axeRun runs axe on the page against WCAG 2.0, 2.1 and 2.2, levels A and
// AA, and gives its violations as JSON.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
	.then((r) => JSON.stringify(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary}))}))))`

// axeViolation is one rule a page breaks, with where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  json.RawMessage `json:"target"`
		Summary string          `json:"summary"`
	} `json:"nodes"`
}

// axeViolations runs axe-core (WCAG 2.2 AA) on the page as it stands.
func (b *consoleBrowser) axeViolations(page string) []axeViolation {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	loaded, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`typeof axe === 'object'`))
	if err != nil {
		b.t.Fatalf("axe: %s: %v", page, err)
	}
	if !loaded {
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](string(src)+"\n;typeof axe === 'object'")); err != nil {
			b.t.Fatalf("axe: inject into %s: %v", page, err)
		}
	}
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe: run on %s: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("axe: %s: %v", page, err)
	}
	return vs
}

// axe checks the page as it stands with axe-core (WCAG 2.2 AA) and fails
// the test with every violation: its rule, impact and the elements.
func (b *consoleBrowser) axe(page string) {
	b.t.Helper()
	for _, v := range b.axeViolations(page) {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("%s (%s)", n.Target, strings.ReplaceAll(n.Summary, "\n", " ")))
		}
		b.t.Errorf("axe: %s: %s (%s): %s:\n\t%s", page, v.ID, v.Impact, v.Help, strings.Join(where, "\n\t"))
	}
}

// TestAxeConsole checks the console's pages with axe-core as an org owner
// sees them: the sign-in (also with its error), the queue, a request whose
// tasks are done with files and a package to review, My tasks with a task
// to work on, users and data sources.
func TestAxeConsole(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, tok := e.user(dsar.RoleOrgOwner)
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "Customer records", []string{boss.ID})
	if err != nil {
		t.Fatal(err)
	}
	web, err := e.db.CreateDataSource(e.ctx, "Web logs", "", []string{boss.ID})
	if err != nil {
		t.Fatal(err)
	}
	done := e.request(newRequest{Document: tinyPNG(t)})
	open := e.request(newRequest{Country: "FR"})
	for _, id := range []string{done, open} {
		e.verifyEmail(id)
		e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", tok, map[string]any{"verified": true}), http.StatusOK, "verify")
	}
	e.want(e.do("POST", "/api/v1/requests/"+done+"/assignments", tok, map[string]any{"data_source_ids": []string{crm.ID, web.ID}}),
		http.StatusOK, "assign")
	e.want(e.do("POST", "/api/v1/requests/"+open+"/assignments", tok, map[string]any{"data_source_ids": []string{crm.ID}}),
		http.StatusOK, "assign")
	e.uploadTaskFile(tok, done, crm.ID, "orders.csv", "order,item\n1,Analytical Engine\n")
	e.uploadTaskFile(tok, done, web.ID, "logins.json", `{"logins": []}`)
	for _, ds := range []string{crm.ID, web.ID} {
		e.want(e.do("POST", "/api/v1/requests/"+done+"/tasks/"+ds+"/completion", tok,
			map[string]any{"outcome": "data_provided", "record_count": 1}), http.StatusOK, "complete the task")
	}
	e.want(e.do("POST", "/api/v1/requests/"+done+"/messages", tok, map[string]string{"body": "Your data is on its way."}),
		http.StatusCreated, "write to the requester")
	e.eventually("the access package is built", func() bool {
		a := e.do("GET", "/api/v1/requests/"+done+"/package", tok, nil)
		return a.Status == http.StatusOK && a.JSON(t)["status"] == "ready"
	})
	b := newConsoleBrowser(t)

	b.step("open the console", chromedp.Navigate(e.http.URL+"/console"), chromedp.WaitVisible(chromedp.ID("signin-email")))
	b.axe("the console's sign-in")
	b.expectRefusals(func() {
		b.step("sign in with a wrong password",
			chromedp.SendKeys(chromedp.ID("signin-email"), boss.Email),
			chromedp.SendKeys(chromedp.ID("signin-password"), "wrong horse battery"),
			chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#signin-form .form-error[role=alert]")),
		)
	}, http.StatusUnauthorized)
	b.axe("the console's sign-in with its error")

	b.signIn(e.http.URL+"/console", boss.Email, "correct horse battery")
	b.step("see the queue", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+open+`"]`)))
	b.axe("the queue")

	b.step("open the request with its package",
		chromedp.Click(chromedp.CSS(`tr[data-id="`+done+`"] a`)),
		requestStatus(dsar.StatusReadyToClose),
		chromedp.WaitVisible(chromedp.CSS(`#package-status[data-status="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.messages li`)),
	)
	b.axe("a request page with tasks, files, messages and its package")
	b.step("open the closed forms", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#view details').forEach((d) => { d.open = true; })`))
	b.axe("a request page with its forms open")

	b.step("open My tasks",
		chromedp.Click(chromedp.CSS(`a[data-nav="tasks"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.task-work[data-request="`+open+`"] .upload-form`)),
	)
	b.axe("My tasks")

	b.step("open the users", chromedp.Click(chromedp.CSS(`a[data-nav="users"]`)), chromedp.WaitVisible(chromedp.CSS(`#view table`)))
	b.axe("the users")

	b.step("open the data sources", chromedp.Click(chromedp.CSS(`a[data-nav="data-sources"]`)), chromedp.WaitVisible(chromedp.ID("data-sources")))
	b.axe("the data sources")

	// The check is no formality: a field without a label is found.
	b.step("add a field without a label", chromedp.Evaluate[chromedp.Void](`document.getElementById('view').append(document.createElement('input'))`))
	if vs := b.axeViolations("a page with a field without a label"); len(vs) != 1 || vs[0].ID != "label" {
		t.Errorf("axe finds %+v in a field without a label, want the rule label", vs)
	}
	b.check()
}

// TestAxeRequesterPages checks with axe-core the pages a requester meets
// after the form (whose check is TestKeyboardOnlyRequestForm's): the
// verification page, the confirmation, the portal's login (also with its
// error), the list of requests, and a request page with messages and a
// package to download.
func TestAxeRequesterPages(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, tok := e.user(dsar.RoleOrgOwner)
	email := "ada.axe@example.org"
	id := e.request(newRequest{Email: email})
	token := e.verificationMail(email)
	b := newConsoleBrowser(t)

	b.step("open the link in the mail", chromedp.Navigate(e.http.URL+"/verify-email?token="+token), chromedp.WaitVisible(chromedp.ID("confirm")))
	b.axe("the verification page")
	b.step("confirm", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("portal-account")))
	b.axe("the confirmation with the portal's password")
	const password = "correct horse battery"
	b.step("set a password",
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("password_confirm"), password),
		chromedp.Click(chromedp.CSS("#portal-account button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	b.axe("the portal's login")
	b.expectRefusals(func() {
		b.step("log in with a wrong password",
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), "wrong horse battery"),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#form-message[role=alert]")),
		)
	}, http.StatusUnauthorized)
	b.axe("the portal's login with its error")

	// Staff answer the request with a package and a message.
	ds, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{boss.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", tok, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", tok, map[string]any{"data_source_ids": []string{ds.ID}}), http.StatusOK, "assign")
	e.uploadTaskFile(tok, id, ds.ID, "orders.csv", "order,item\n1,Analytical Engine\n")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/tasks/"+ds.ID+"/completion", tok,
		map[string]any{"outcome": "data_provided", "record_count": 1}), http.StatusOK, "complete the task")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/messages", tok, map[string]string{"body": "Your data is ready."}),
		http.StatusCreated, "write to the requester")
	e.eventually("the access package is built", func() bool {
		a := e.do("GET", "/api/v1/requests/"+id+"/package", tok, nil)
		return a.Status == http.StatusOK && a.JSON(t)["status"] == "ready"
	})
	e.want(e.do("POST", "/api/v1/requests/"+id+"/package/approval", tok, map[string]any{}), http.StatusOK, "approve the package")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/completion", tok, map[string]any{"note": "sent"}), http.StatusOK, "complete")
	e.eventually("the package is published", func() bool {
		a := e.do("GET", "/api/v1/requests/"+id+"/package", tok, nil)
		return a.Status == http.StatusOK && a.JSON(t)["status"] == "published"
	})

	b.step("log in",
		chromedp.SetValue(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
	)
	b.axe("the portal's list of requests")
	b.step("open the request", chromedp.Click(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)), chromedp.WaitVisible(chromedp.ID("package-download")))
	b.axe("the portal's request page with messages and a package")
	b.step("the request page in French", chromedp.Navigate(e.http.URL+"/portal/requests/"+id+"?lang=fr"), chromedp.WaitVisible(chromedp.ID("package-download")))
	b.axe("the portal's request page in French, with the language picker")
	b.check()
}

// TestAxeMoreRequesterPages: the embedded form (in German), the emailed
// sign-in link's page, a link that does not work, and a page refused for
// too many attempts pass the check too.
func TestAxeMoreRequesterPages(t *testing.T) {
	e := newStaffEnv(t, map[string]any{"intake.rate_per_minute": 1})
	b := newConsoleBrowser(t)
	b.step("the embedded form in German", chromedp.Navigate(e.http.URL+"/embed?lang=de"), chromedp.WaitVisible(chromedp.CSS("form")))
	b.axe("the embedded form in German")
	b.step("the sign-in page", chromedp.Navigate(e.http.URL+"/portal/sign-in"), chromedp.WaitVisible(chromedp.CSS("main")))
	b.axe("the portal's sign-in page")
	b.step("a portal account link that does not work", chromedp.Navigate(e.http.URL+"/portal/accounts/new?token=nothing"), chromedp.WaitVisible(chromedp.CSS("main")))
	b.axe("a portal account link that does not work")
	b.step("the same page refused: too many attempts", chromedp.Navigate(e.http.URL+"/portal/accounts/new?token=nothing"),
		chromedp.Navigate(e.http.URL+"/portal/accounts/new?token=nothing"), chromedp.WaitVisible(chromedp.CSS("main")))
	if h := b.text("h1"); !strings.Contains(h, "Zu viele Versuche") { // German: the picker's choice on the embedded form stays
		t.Errorf("the third visit shows %q, want the page for too many attempts, in German", h)
	}
	b.axe("the page for too many attempts")
}

// focusJS describes the focused element: whether it matches the selector
// (%s), what it is, and whether its focus shows (an outline or a shadow).
const focusJS = `(() => {
	const el = document.activeElement;
	if (!el || el === document.body) return JSON.stringify({what: 'body'});
	const s = getComputedStyle(el);
	const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
	const what = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.name ? '[name=' + el.name + ']' : '');
	return JSON.stringify({matches: el.matches(%q), what, visible});
})()`

// focus is what focusJS tells.
type focus struct {
	Matches bool   `json:"matches"`
	What    string `json:"what"`
	Visible bool   `json:"visible"`
}

// focused describes the focused element, sel saying whether it is the one.
func (b *consoleBrowser) focused(sel string) focus {
	b.t.Helper()
	var f focus
	if err := json.Unmarshal([]byte(b.eval(fmt.Sprintf(focusJS, sel))), &f); err != nil {
		b.t.Fatal(err)
	}
	return f
}

// keys types keys on the keyboard, into whatever has the focus.
func (b *consoleBrowser) keys(what, keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	b.step(what, chromedp.KeyEvent(keys, opts...))
}

// tabTo presses Tab until the focus reaches sel (at most 60 times, else
// the test ends); every element the focus stops at on the way must show
// it.
func (b *consoleBrowser) tabTo(sel string) {
	b.t.Helper()
	for range 60 {
		b.keys("press Tab", kb.Tab)
		f := b.focused(sel)
		if f.What != "body" && !f.Visible {
			b.t.Errorf("the focus on %s does not show", f.What)
		}
		if f.Matches {
			return
		}
	}
	b.t.Fatalf("Tab never reaches %s", sel)
}

// TestKeyboardOnlyRequestForm fills in and submits the request form with
// the keyboard alone, as someone who cannot use a mouse does: Tab from
// field to field, typing, choosing in the selects by typing, Space on the
// radio button, the captcha's checkbox and the file field (the file chooser
// answered as the system's would be), Enter to submit. Submitted empty
// first, the form's errors take the focus and are announced (role=alert),
// each error links to its field, and each field names its error. axe-core
// finds nothing on the empty form, the form with errors or the page after
// submitting. Every focus stop shows the focus.
func TestKeyboardOnlyRequestForm(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	doc := filepath.Join(t.TempDir(), "passport.png")
	if err := os.WriteFile(doc, tinyPNG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newConsoleBrowser(t)
	choosers := make(chan cdp.BackendNodeID, 1)
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if ev, ok := ev.(*cdppage.EventFileChooserOpened); ok {
			select {
			case choosers <- ev.BackendNodeID:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	b.step("open the form", chromedp.Navigate(e.http.URL+"/"), chromedp.WaitVisible(chromedp.ID("request-form")))
	b.axe("the empty form")
	b.tabTo("#submit")
	b.expectRefusals(func() {
		b.keys("submit the empty form", kb.Enter)
		b.step("see the errors", chromedp.WaitVisible(chromedp.CSS(`#form-message[role=alert]`)),
			chromedp.Poll[chromedp.Void](`document.activeElement?.id === 'form-message'`))
	}, http.StatusUnprocessableEntity)
	if msg := b.text("#form-message"); !strings.Contains(msg, "First name") {
		t.Errorf("the errors read %q, want each field named", msg)
	}
	if note := b.eval(`document.getElementById(document.getElementById('first_name').getAttribute('aria-describedby'))?.textContent ?? ''`); note == "" {
		t.Error("the first name does not name its error")
	}
	b.axe("the form with its errors")
	b.tabTo(`#form-message a[href="#first_name"]`)
	b.keys("follow the error to its field", kb.Enter)
	if f := b.focused("#first_name"); !f.Matches {
		t.Errorf("the error's link took the focus to %s, want the first name", f.What)
	}

	email := "ada.keys@example.org"
	b.keys("type the first name", "Ada")
	b.tabTo("#last_name")
	b.keys("type the last name", "Lovelace")
	b.tabTo("#email")
	b.keys("type the email", email)
	b.tabTo("#country")
	b.keys("choose the country", "Germany")
	b.tabTo(`input[name=requestor_type]`)
	b.keys("choose the first kind of requester", " ")
	b.tabTo("#request_type")
	b.keys("choose the type of request", "Info")
	b.tabTo("#description")
	b.keys("describe the request", "Which data do you hold about me?")
	if got := b.eval(`['first_name','last_name','email','country','request_type','description'].map((n) => document.getElementById(n).value).join('|') +
		'|' + (document.querySelector('input[name=requestor_type]:checked')?.value ?? '')`); got != "Ada|Lovelace|"+email+"|DE|info|Which data do you hold about me?|customer" {
		t.Fatalf("the keyboard filled in %q", got)
	}

	b.tabTo(`altcha-widget input[type=checkbox]`)
	b.keys("start the captcha", " ")
	b.step("the captcha is solved", chromedp.Poll[chromedp.Void](`!!document.querySelector('#request-form input[name=captcha]')?.value`))

	b.tabTo("#identity_document")
	if _, err := chromedp.Call(b.ctx, cdppage.SetInterceptFileChooserDialog, cdppage.SetInterceptFileChooserDialogParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	b.keys("open the file chooser", " ")
	select {
	case node := <-choosers:
		if _, err := chromedp.Call(b.ctx, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: []string{doc}, BackendNodeID: node}); err != nil {
			t.Fatal(err)
		}
	case <-b.ctx.Done():
		t.Fatal("Space on the file field opened no file chooser")
	}
	if n := b.eval(`String(document.getElementById('identity_document').files.length)`); n != "1" {
		t.Fatalf("the file field holds %s files", n)
	}

	b.tabTo("#submit")
	b.keys("submit", kb.Enter)
	b.step("see it submitted", chromedp.WaitVisible(chromedp.CSS(`main .notice[role=status]`)))
	b.axe("the page after submitting")
	if token := e.verificationMail(email); token == "" {
		t.Error("no verification mail")
	}
	b.check()
}

// TestKeyboardOnlyConsole works the console with the keyboard alone: sign
// in (a wrong password first, whose error is announced), open a request
// from the queue, be refused an assignment without a data source (the
// error announced), verify the requester's identity. Every focus stop
// shows the focus.
func TestKeyboardOnlyConsole(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, _ := e.user(dsar.RoleOrgOwner)
	if _, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{boss.ID}); err != nil {
		t.Fatal(err)
	}
	id := e.request(newRequest{Document: tinyPNG(t)})
	e.verifyEmail(id)
	b := newConsoleBrowser(t)

	b.step("open the console", chromedp.Navigate(e.http.URL+"/console"), chromedp.WaitVisible(chromedp.ID("signin-email")))
	if f := b.focused("#signin-email"); !f.Matches {
		t.Errorf("the sign-in starts with the focus on %s, want the email", f.What)
	}
	b.keys("type the email", boss.Email)
	b.tabTo("#signin-password")
	b.expectRefusals(func() {
		b.keys("type a wrong password and press Enter", "wrong horse battery"+kb.Enter)
		b.step("see the refusal", chromedp.WaitVisible(chromedp.CSS(`#signin-form .form-error[role=alert]`)))
	}, http.StatusUnauthorized)
	if msg := b.text(`#signin-form .form-error`); msg == "" {
		t.Error("the refusal says nothing")
	}
	b.tabTo("#signin-password")
	b.keys("select the password", "a", chromedp.KeyModifiers(chromedp.ModifierCtrl))
	b.keys("type the password and press Enter", "correct horse battery"+kb.Enter)
	b.step("see the queue", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+id+`"] a`)))

	b.tabTo(`tr[data-id="` + id + `"] a`)
	b.keys("open the request", kb.Enter)
	b.step("see the request", requestStatus(dsar.StatusAwaitingIdentity))

	b.tabTo(`#identity-form textarea[name=note]`)
	b.keys("note what was checked", "passport matches")
	b.tabTo("#verify-identity")
	b.keys("verify the identity", kb.Enter)
	b.step("see it verified", requestStatus(dsar.StatusIdentityVerified))
	if f := b.focused("#request-status"); !f.Matches {
		t.Errorf("after the action the focus is on %s, want the new status", f.What)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById('announce').textContent.length > 0`)); err != nil {
		t.Errorf("the action is not announced: %v", err)
	}

	b.expectRefusals(func() {
		b.tabTo(`#assign-form button[type=submit]`)
		b.keys("assign nothing", kb.Enter)
		b.step("see the refusal", chromedp.WaitVisible(chromedp.CSS(`#assign-form .form-error[role=alert]`)))
	}, http.StatusUnprocessableEntity)
	b.tabTo(`#assign-form input[name=data_source_ids]`)
	b.keys("choose the data source", " ")
	b.tabTo(`#assign-form button[type=submit]`)
	b.keys("assign it", kb.Enter)
	b.step("see it in progress", requestStatus(dsar.StatusInProgress))
	b.check()
}
