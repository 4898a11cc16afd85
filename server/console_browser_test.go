package server

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// consoleChromium is the headless browser the console test drives.
const consoleChromium = "/usr/bin/chromium"

// consoleBrowser is a headless Chromium tab on the console, and what the
// browser reported that a user would call broken: console errors and
// warnings, uncaught exceptions, CSP violations, failed loads.
type consoleBrowser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// newConsoleBrowser starts Chromium for the test; it is stopped at the end.
func newConsoleBrowser(t *testing.T) *consoleBrowser {
	t.Helper()
	b := &consoleBrowser{t: t}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(consoleChromium), chromedp.NoSandbox, chromedp.Flag("disable-background-networking", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(cancelBrowser)
	// The first run starts the browser and must not carry the timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancel)
	b.ctx = ctx
	return b
}

// listen keeps what the browser reports as wrong.
func (b *consoleBrowser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *log.EventEntryAdded:
		if strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
			return // the site has no icon; not the console's concern
		}
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		what := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			what += " " + ev.ExceptionDetails.Exception.Description
		}
		b.problems = append(b.problems, "uncaught: "+what)
	}
}

// step runs actions; a failure ends the test.
func (b *consoleBrowser) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// text is the text of the first element sel matches.
func (b *consoleBrowser) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: read %s: %v", sel, err)
	}
	return v
}

// eval runs a script expression that gives a string.
func (b *consoleBrowser) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

// signIn signs in on the console's page at url.
func (b *consoleBrowser) signIn(url, email, password string) {
	b.t.Helper()
	b.step("sign in as "+email,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("signin-email")),
		chromedp.SendKeys(chromedp.ID("signin-email"), email),
		chromedp.SendKeys(chromedp.ID("signin-password"), password),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("whoami")),
	)
}

// expectRefusals runs f, during which the browser logs the API's refusals
// (failed loads with one of statuses) as a user would expect; anything
// else it reports is a problem.
func (b *consoleBrowser) expectRefusals(f func(), statuses ...int) {
	b.t.Helper()
	b.mu.Lock()
	before := len(b.problems)
	b.mu.Unlock()
	f()
	// Let the log events of the last answer arrive.
	_, _ = chromedp.Run(b.ctx, chromedp.Evaluate[bool](`true`))
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.problems[:before]
next:
	for _, p := range b.problems[before:] {
		for _, st := range statuses {
			if strings.Contains(p, fmt.Sprintf("status of %d", st)) {
				continue next
			}
		}
		kept = append(kept, p)
	}
	b.problems = kept
}

// check fails the test on every problem the browser reported.
func (b *consoleBrowser) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser: %s", p)
	}
	b.problems = nil
}

// status waits until the request page shows st.
func requestStatus(st dsar.Status) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`#request-status[data-status="` + string(st) + `"]`))
}

// TestConsoleInBrowser walks the staff console as an org owner does, in
// headless Chromium: sign in, filter the queue, add a data source, open a
// verified request from the queue, view the identity document, verify
// identity, assign the data source, write to the requester, be refused
// completion while the task is open (the 409 shown beside the form),
// complete the task and the request, see it completed, sign out. Any
// console error, uncaught exception or CSP violation fails the test.
func TestConsoleInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	const temporalUI = "http://127.0.0.1:8233"
	e := newStaffEnv(t, map[string]any{"temporal.ui_url": temporalUI})
	boss, _ := e.user(dsar.RoleOrgOwner)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	other := e.request(newRequest{Country: "FR"})
	id := e.request(newRequest{Document: tinyPNG(t), Country: "DE"})
	e.verifyEmail(id)
	e.verifyEmail(other) // the queue leaves unverified submissions out unless asked
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console", boss.Email, "correct horse battery")
	b.step("see the queue", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+id+`"]`)))
	if who := b.text("#whoami"); !strings.Contains(who, "Organisation owner") {
		t.Errorf("signed in as %q", who)
	}
	if queue := b.text("table.queue tbody"); !strings.Contains(queue, "Waiting for identity verification") || !strings.Contains(queue, "FR") {
		t.Errorf("the queue shows %q, want both requests", queue)
	}
	if counts := b.text(".dashboard"); !strings.Contains(counts, "2 open") {
		t.Errorf("the dashboard shows %q, want 2 open", counts)
	}

	b.step("filter the queue by country",
		chromedp.SendKeys(chromedp.CSS(`#filters input[name=country]`), "de"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-id="`+other+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+id+`"]`)),
	)
	if u := b.eval(`location.search`); u != "?country=DE" {
		t.Errorf("the filtered queue's address ends in %q", u)
	}

	b.step("add a data source owned by a source owner",
		chromedp.Click(chromedp.CSS(`a[data-nav="data-sources"]`)),
		chromedp.WaitVisible(chromedp.ID("data-source-form")),
		chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=name]`), "CRM"),
		chromedp.SendKeys(chromedp.CSS(`#data-source-form textarea[name=description]`), "Customer records"),
		chromedp.Click(chromedp.CSS(`#data-source-form input[value="`+olivia.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("data-sources")),
	)
	if list := b.text("#data-sources"); !strings.Contains(list, "CRM") || !strings.Contains(list, olivia.Name) {
		t.Errorf("the data sources show %q, want CRM owned by %s", list, olivia.Name)
	}
	b.step("edit the data source's description",
		chromedp.Click(chromedp.CSS(`#data-sources button[aria-label="Edit CRM"]`)),
		chromedp.SetValue(chromedp.CSS(`#data-source-form textarea[name=description]`), "Customer records and orders"),
		chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('data-sources')?.textContent.includes('and orders')`),
	)
	b.step("add a second data source, then delete it",
		chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=name]`), "Old wiki"),
		chromedp.Click(chromedp.CSS(`#data-source-form input[value="`+olivia.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#data-sources button[aria-label="Delete Old wiki"]`)),
		chromedp.Click(chromedp.CSS(`#data-sources button[aria-label="Delete Old wiki"]`)),
		chromedp.Click(chromedp.CSS(`#data-sources form:not([hidden]) button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#data-sources button[aria-label="Delete Old wiki"]`)),
	)
	if list := b.text("#data-sources"); !strings.Contains(list, "CRM") || strings.Contains(list, "Old wiki") {
		t.Errorf("after the deletion the data sources show %q", list)
	}

	b.step("open the verified request from the queue",
		chromedp.Click(chromedp.CSS(`a[data-nav="queue"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-id="`+id+`"] a`)),
		requestStatus(dsar.StatusAwaitingIdentity),
	)
	if facts := b.text("#view"); !strings.Contains(facts, "Ada Lovelace") || !strings.Contains(facts, "Why this due date") {
		t.Errorf("the request page shows %q, want the requester and why it is due then", facts)
	}
	wantLink := temporalUI + "/namespaces/" + e.cfg.Temporal.Namespace + "/workflows/dsar-" + id
	if got := b.eval(`document.querySelector('a[href*="/workflows/dsar-"]')?.href ?? ''`); got != wantLink {
		t.Errorf("the workflow link is %q, want %q", got, wantLink)
	}

	b.step("view the identity document",
		chromedp.Click(chromedp.ID("show-document")),
		chromedp.WaitVisible(chromedp.ID("document-image")),
	)
	w, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('document-image').decode().then(() => String(document.getElementById('document-image').naturalWidth))`, chromedp.EvalAwaitPromise))
	if err != nil || w != "2" {
		t.Errorf("the identity document shows %s pixels wide (%v), want the 2-pixel image", w, err)
	}

	b.step("verify identity",
		chromedp.SendKeys(chromedp.CSS(`#identity-form textarea[name=note]`), "passport matches"),
		chromedp.Click(chromedp.ID("verify-identity")),
		requestStatus(dsar.StatusIdentityVerified),
	)
	b.step("assign the data source",
		chromedp.Click(chromedp.CSS(`#assign-form input[name=data_source_ids]`)),
		chromedp.Click(chromedp.CSS(`#assign-form button[type=submit]`)),
		requestStatus(dsar.StatusInProgress),
	)
	if tasks := b.text(`section[aria-labelledby="tasks-title"] table`); !strings.Contains(tasks, "CRM") || !strings.Contains(tasks, "Open") {
		t.Errorf("the tasks show %q, want CRM open", tasks)
	}

	b.step("write to the requester",
		chromedp.SendKeys(chromedp.CSS(`#message-form textarea[name=body]`), "We are collecting your data."),
		chromedp.Click(chromedp.CSS(`#message-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.messages li.mine`)),
	)

	b.expectRefusals(func() {
		b.step("complete the request while its task is open",
			chromedp.Click(chromedp.CSS(`#complete-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#complete-form .form-error[role=alert]`)),
		)
	}, http.StatusConflict)
	if msg := b.text(`#complete-form .form-error`); !strings.Contains(msg, "in_progress") {
		t.Errorf("the refusal beside the completion form says %q, want the current status", msg)
	}

	b.step("complete the task with its outcome",
		chromedp.SetValue(chromedp.CSS(`.task-form select[name=outcome]`), "data_provided"),
		chromedp.SendKeys(chromedp.CSS(`.task-form input[name=record_count]`), "3"),
		chromedp.SendKeys(chromedp.CSS(`.task-form input[name=note]`), "exported"),
		chromedp.Click(chromedp.CSS(`.task-form button[type=submit]`)),
		requestStatus(dsar.StatusReadyToClose),
	)
	if tasks := b.text(`section[aria-labelledby="tasks-title"] table`); !strings.Contains(tasks, "Data provided · 3 records") {
		t.Errorf("the completed task shows %q, want its outcome and count", tasks)
	}
	// An access request completes with its package approved (its review in
	// the browser is TestPackageReviewInBrowser's).
	_, bossTok := e.user(dsar.RoleManager)
	e.eventually("the access package is built", func() bool {
		a := e.do("GET", "/api/v1/requests/"+id+"/package", bossTok, nil)
		return a.Status == http.StatusOK && a.JSON(t)["status"] == "ready"
	})
	e.want(e.do("POST", "/api/v1/requests/"+id+"/package/approval", bossTok, map[string]any{}), http.StatusOK, "approve the package")
	b.step("complete the request",
		chromedp.SendKeys(chromedp.CSS(`#complete-form textarea[name=note]`), "all sent"),
		chromedp.Click(chromedp.CSS(`#complete-form button[type=submit]`)),
		requestStatus(dsar.StatusCompleted),
	)
	if st := b.text("#request-status"); st != "Completed" {
		t.Errorf("the status reads %q, want Completed", st)
	}
	if focused := b.eval(`document.activeElement.id`); focused != "request-status" {
		t.Errorf("after the action the focus is on %q, want the new status", focused)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById('announce').textContent.includes('Completed')`)); err != nil {
		t.Errorf("the completion is not announced: %v", err)
	}

	b.step("sign out",
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("signin-email")),
	)
	if tok := b.eval(`sessionStorage.getItem('dsar.console.token') ?? ''`); tok != "" {
		t.Errorf("the token is still kept after signing out")
	}

	// The API agrees with what the console showed.
	_, tok := e.user(dsar.RoleAdmin)
	if d := e.want(e.do("GET", "/api/v1/requests/"+id, tok, nil), http.StatusOK, "detail").JSON(t); d["status"] != "completed" {
		t.Errorf("the API shows the request %v", d["status"])
	}
	b.check()
}

// TestConsoleSourceOwnerAndMistakes checks the console for a source owner
// (only their menu, their task under "My tasks", completed from a deep
// link), how it answers mistakes (the API's 422 shown beside each field it
// names), an org owner adding and disabling a user, and a long queue paged
// with "Load more".
func TestConsoleSourceOwnerAndMistakes(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, bossTok := e.user(dsar.RoleOrgOwner)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	ds, err := e.db.CreateDataSource(e.ctx, "Mailing list", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", bossTok, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", bossTok, map[string]any{"data_source_ids": []string{ds.ID}}), http.StatusOK, "assign")
	b := newConsoleBrowser(t)

	// A deep link survives the sign-in.
	b.signIn(e.http.URL+"/console/tasks", olivia.Email, "correct horse battery")
	b.step("see my tasks", chromedp.WaitVisible(chromedp.CSS(`a[href="/console/requests/`+id+`"]`)))
	if menu := b.text("nav.console-nav ul"); strings.Contains(menu, "Users") || strings.Contains(menu, "Data sources") {
		t.Errorf("a source owner's menu shows %q", menu)
	}
	if h := b.text("#view h1"); h != "My tasks" {
		t.Errorf("the task page is titled %q", h)
	}
	b.step("complete my task",
		chromedp.Click(chromedp.CSS(`a[href="/console/requests/`+id+`"]`)),
		requestStatus(dsar.StatusInProgress),
		chromedp.SendKeys(chromedp.CSS(`.task-form input[name=note]`), "removed from the list"),
		chromedp.Click(chromedp.CSS(`.task-form button[type=submit]`)),
		requestStatus(dsar.StatusReadyToClose),
	)
	if b.eval(`String(!!document.getElementById('complete-form') || !!document.getElementById('message-form'))`) != "false" {
		t.Error("a source owner is offered actions of the queue workers")
	}
	b.step("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin-email")))

	b.signIn(e.http.URL+"/console/requests/"+id, boss.Email, "correct horse battery")
	b.step("open the request", requestStatus(dsar.StatusReadyToClose))
	b.expectRefusals(func() {
		b.step("extend without days or reason",
			chromedp.Click(chromedp.CSS(`#extend-details summary`)),
			chromedp.Click(chromedp.CSS(`#extend-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#extend-form input[name=days][aria-invalid=true]`)),
		)
		b.step("reject without a reason",
			chromedp.Click(chromedp.CSS(`#reject-details summary`)),
			chromedp.Click(chromedp.CSS(`#reject-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#reject-form fieldset[aria-invalid=true] .field-error`)),
		)
	}, http.StatusUnprocessableEntity)
	if note := b.eval(`document.getElementById(document.querySelector('#extend-form input[name=days]').getAttribute('aria-describedby'))?.textContent ?? ''`); !strings.Contains(note, "must be 1 to") {
		t.Errorf("beside the days field: %q", note)
	}
	if note := b.text(`#extend-form textarea[name=reason] + .field-error`); !strings.Contains(note, "reason") {
		t.Errorf("beside the reason field: %q", note)
	}
	if note := b.text(`#reject-form fieldset .field-error`); !strings.Contains(note, "at least one reason") {
		t.Errorf("beside the reasons: %q", note)
	}
	if st := b.text("#request-status"); st != "All tasks done, ready to complete" {
		t.Errorf("after the refusals the status reads %q", st)
	}

	// The rule allows more than one extension: the form stays while it does.
	for _, x := range []struct{ days, total string }{{"2", "2"}, {"3", "5"}} {
		b.step("extend by "+x.days+" days",
			chromedp.Poll[chromedp.Void](`(d => !!d && (d.open = true))(document.getElementById('extend-details'))`), // open the form
			chromedp.SetValue(chromedp.CSS(`#extend-form input[name=days]`), x.days),
			chromedp.SetValue(chromedp.CSS(`#extend-form textarea[name=reason]`), "many systems, round "+x.days),
			chromedp.Click(chromedp.CSS(`#extend-form button[type=submit]`)),
			// The page reloads with the new total and a fresh form.
			chromedp.Poll[chromedp.Void](`document.getElementById('view')?.textContent.includes('`+x.total+` days in all') && !!document.getElementById('extend-details')`),
		)
	}
	if b.eval(`String(!!document.getElementById('extend-form'))`) != "true" {
		t.Error("after two extensions within the rule's limit the console offers no further one")
	}

	b.expectRefusals(func() {
		b.step("add a data source without a name or owner",
			chromedp.Click(chromedp.CSS(`a[data-nav="data-sources"]`)),
			chromedp.WaitVisible(chromedp.ID("data-source-form")),
			chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#data-source-form input[name=name][aria-invalid=true]`)),
		)
	}, http.StatusUnprocessableEntity)
	if summary := b.text(`#data-source-form .form-error`); !strings.Contains(summary, "Name") || !strings.Contains(summary, "Owners") {
		t.Errorf("the data source form's error summary says %q, want the name and the owners", summary)
	}
	if n := b.eval(`String(document.querySelectorAll('#data-sources tbody tr').length)`); n != "1" {
		t.Errorf("after the refusal the list has %s data sources, want the one there was", n)
	}

	b.step("add a manager",
		chromedp.Click(chromedp.CSS(`a[data-nav="users"]`)),
		chromedp.WaitVisible(chromedp.ID("user-form")),
		chromedp.SendKeys(chromedp.CSS(`#user-form input[name=name]`), "Maria Manager"),
		chromedp.SendKeys(chromedp.CSS(`#user-form input[name=email]`), "maria@example.com"),
		chromedp.SetValue(chromedp.CSS(`#user-form select[name=role]`), "manager"),
		chromedp.SendKeys(chromedp.CSS(`#user-form input[name=password]`), "a long enough password"),
		chromedp.Click(chromedp.CSS(`#user-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-user="maria@example.com"]`)),
	)
	b.step("disable the manager",
		chromedp.Click(chromedp.CSS(`tr[data-user="maria@example.com"] button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.disabled[data-user="maria@example.com"]`)),
	)
	e.want(e.do("POST", "/api/v1/sessions", "", map[string]string{"email": "maria@example.com", "password": "a long enough password"}),
		http.StatusUnauthorized, "a disabled user signs in")

	// A long queue comes a page at a time, newest first. The old rows
	// carry no workflow: the queue reads the projection only.
	old := time.Now().AddDate(0, 0, -3)
	var oldest string
	for i := range 55 {
		oldest = e.row(dsar.StatusInProgress, dsar.RequestDeletion, dsar.RequestorEmployee, "IE", old.Add(-time.Duration(i)*time.Minute), i%2 == 0)
	}
	b.step("open the queue", chromedp.Click(chromedp.CSS(`a[data-nav="queue"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+id+`"]`)))
	if n := b.eval(`String(document.querySelectorAll('table.queue tbody tr').length)`); n != "50" {
		t.Errorf("the first page shows %s requests, want 50", n)
	}
	if first := b.eval(`document.querySelector('table.queue tbody tr').dataset.id`); first != id {
		t.Errorf("the queue starts with %s, want the newest request %s", first, id)
	}
	b.step("load more",
		chromedp.Click(chromedp.CSS(`table.queue ~ p button`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+oldest+`"]`)),
	)
	if n := b.eval(`String(document.querySelectorAll('table.queue tbody tr').length)`); n != "56" {
		t.Errorf("after loading more the queue shows %s requests, want all 56", n)
	}
	if more := b.eval(`String(document.querySelector('table.queue ~ p button').hidden)`); more != "true" {
		t.Error("the Load more button stays after the last page")
	}
	b.check()
}

// tinyPNG is a real 2×1 PNG image, so that the browser can draw it.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
