package server

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestPackageReviewInBrowser: a manager opens an access request whose two
// tasks are done, each with a file; the package section lists both. Asked
// to remove one without a reason, the console shows the API's refusal
// beside the note; with a reason the package is approved without it, the
// page says so beside the file, and the request is completed. The
// requester then finds the download on their portal page, and the zip it
// answers holds the file that stayed and not the one removed. Once the
// package expires, the page says it was erased.
func TestPackageReviewInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	manager, tok := e.user(dsar.RoleManager)
	email := "ada.reads@example.org"
	id := e.request(newRequest{Email: email})
	e.verifyEmail(id)
	e.portalSession(id, email) // sets the password "a long enough password"
	crm, err := e.db.CreateDataSource(e.ctx, "CRM", "", []string{manager.ID})
	if err != nil {
		t.Fatal(err)
	}
	web, err := e.db.CreateDataSource(e.ctx, "Web logs", "", []string{manager.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", tok, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", tok, map[string]any{"data_source_ids": []string{crm.ID, web.ID}}),
		http.StatusOK, "assign")
	kept := e.uploadTaskFile(tok, id, crm.ID, "orders.csv", "order,item\n1,Analytical Engine\n")
	removed := e.uploadTaskFile(tok, id, web.ID, "logins.json", `{"logins": ["2026-11-30T08:00:00Z"]}`)
	for _, ds := range []string{crm.ID, web.ID} {
		e.want(e.do("POST", "/api/v1/requests/"+id+"/tasks/"+ds+"/completion", tok,
			map[string]any{"outcome": "data_provided", "record_count": 1}), http.StatusOK, "complete the task")
	}
	e.eventually("the access package is built", func() bool {
		a := e.do("GET", "/api/v1/requests/"+id+"/package", tok, nil)
		return a.Status == http.StatusOK && a.JSON(t)["status"] == "ready"
	})
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console/requests/"+id, manager.Email, "correct horse battery")
	b.step("see the package to review",
		requestStatus(dsar.StatusReadyToClose),
		chromedp.WaitVisible(chromedp.CSS(`#package-status[data-status="ready"]`)),
	)
	files := b.text("#package-form table")
	for _, name := range []string{"orders.csv", "logins.json", "CRM", "Web logs"} {
		if !strings.Contains(files, name) {
			t.Errorf("the package's files show %q, want %s", files, name)
		}
	}
	if tasks := b.text(`section[aria-labelledby="tasks-title"] table`); !strings.Contains(tasks, "Data provided · 1 record") ||
		!strings.Contains(tasks, "orders.csv") || !strings.Contains(tasks, "logins.json") {
		t.Errorf("the tasks show %q, want each outcome, count and file", tasks)
	}
	if sha := b.text("#package-sha256"); len(sha) != 64 {
		t.Errorf("the package's SHA-256 reads %q", sha)
	}
	b.step("download the package as the requester will get it",
		chromedp.Click(chromedp.ID("package-download")),
		chromedp.Poll[chromedp.Void](`document.getElementById('announce').textContent.includes('access package is saved')`),
	)

	b.expectRefusals(func() {
		b.step("remove a file without saying why",
			chromedp.Click(chromedp.CSS(`#package-form input[name=removed_file_ids][value="`+removed+`"]`)),
			chromedp.Click(chromedp.ID("approve-package")),
			chromedp.WaitVisible(chromedp.CSS(`#package-form textarea[name=note][aria-invalid=true]`)),
		)
	}, http.StatusUnprocessableEntity)
	if note := b.text(`#package-form textarea[name=note] + .field-error`); !strings.Contains(note, "why") {
		t.Errorf("beside the note: %q", note)
	}
	const reason = "Holds another customer's logins."
	b.step("say why, and approve",
		chromedp.SendKeys(chromedp.CSS(`#package-form textarea[name=note]`), reason),
		chromedp.Click(chromedp.ID("approve-package")),
		chromedp.WaitVisible(chromedp.CSS(`#package-status[data-status="approved"]`)),
	)
	if got := b.text(`#package tr[data-file="` + removed + `"] .file-state`); !strings.Contains(got, "Removed") || !strings.Contains(got, reason) {
		t.Errorf("the removed file says %q, want it removed with the reason", got)
	}
	if got := b.text(`#package tr[data-file="` + kept + `"] .file-state`); got != "In the package" {
		t.Errorf("the kept file says %q", got)
	}
	if got := b.text(`section[aria-labelledby="tasks-title"] li[data-file="` + removed + `"]`); !strings.Contains(got, reason) {
		t.Errorf("the task's file says %q, want the reason it was removed", got)
	}
	if n := b.eval(`String(document.querySelectorAll('#package-form input[name=removed_file_ids]').length)`); n != "1" {
		t.Errorf("after the approval %s files can be removed, want the one left in the package", n)
	}

	b.step("complete the request",
		chromedp.SendKeys(chromedp.CSS(`#complete-form textarea[name=note]`), "package approved"),
		chromedp.Click(chromedp.CSS(`#complete-form button[type=submit]`)),
		requestStatus(dsar.StatusCompleted),
		chromedp.WaitVisible(chromedp.CSS(`#package-status[data-status="published"]`)),
	)

	// The requester downloads it from the portal.
	b.step("sign in to the portal",
		chromedp.Navigate(e.http.URL+"/portal/login"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "a long enough password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)),
	)
	b.step("open the request", chromedp.Click(chromedp.CSS(`a[href="/portal/requests/`+id+`"]`)), chromedp.WaitVisible(chromedp.ID("package-download")))
	if got := b.text("#package"); !strings.Contains(got, "Your data is ready to download") || !strings.Contains(got, "Available until") ||
		!strings.Contains(got, "KiB") && !strings.Contains(got, "bytes") {
		t.Errorf("the portal's package section says %q", got)
	}
	if href := b.eval(`document.getElementById('package-download').getAttribute('href')`); href != "/portal/requests/"+id+"/package" {
		t.Errorf("the download links to %q", href)
	}
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.getElementById('package-download').href).then(async (r) => {
		const bytes = new Uint8Array(await r.arrayBuffer());
		let s = '';
		for (const x of bytes) s += String.fromCharCode(x);
		return JSON.stringify({status: r.status, type: r.headers.get('Content-Type'), body: btoa(s)});
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch the download in the page: %v", err)
	}
	var got struct {
		Status int
		Type   string
		Body   string
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != http.StatusOK || got.Type != "application/zip" {
		t.Fatalf("the download answers %d %s", got.Status, got.Type)
	}
	body, err := base64.StdEncoding.DecodeString(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	entries := zipEntries(t, body)
	if !strings.Contains(entries["files/CRM/orders.csv"], "Analytical Engine") {
		t.Errorf("the package lacks the kept file: %v", keysOf(entries))
	}
	for name, content := range entries {
		if strings.Contains(name, "logins.json") || strings.Contains(content, "2026-11-30T08:00:00Z") {
			t.Errorf("the package holds the removed file, as %s", name)
		}
	}

	// The package expires (as the workflow does when its time is up).
	if err := e.db.ExpirePackage(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	b.step("see the package expired", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("package-expired")))
	if got := b.text("#package-expired"); !strings.Contains(got, "expired on") || !strings.Contains(got, "erased") {
		t.Errorf("the expired package's words: %q", got)
	}
	if n := b.eval(`String(document.querySelectorAll('#package-download').length)`); n != "0" {
		t.Error("an expired package is still offered for download")
	}
	b.expectRefusals(func() {
		st, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`fetch('/portal/requests/`+id+`/package').then((r) => r.status)`, chromedp.EvalAwaitPromise))
		if err != nil || st != http.StatusGone {
			t.Errorf("the expired download answers %d (%v), want 410", st, err)
		}
		page, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch('/portal/requests/`+id+`/package').then((r) => r.headers.get('Content-Type'))`, chromedp.EvalAwaitPromise))
		if err != nil || !strings.HasPrefix(page, "text/html") {
			t.Errorf("the expired download's answer is %q (%v), want a page", page, err)
		}
	}, http.StatusGone)
	b.check()
}

// TestPackageTaskWorkInBrowser: a data source's owner attaches a file to
// their open task from "My tasks", sees it listed, is offered only the
// outcomes of an access request, and completes the task there; the
// request then holds the file and the outcome.
func TestPackageTaskWorkInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	_, bossTok := e.user(dsar.RoleOrgOwner)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	ds, err := e.db.CreateDataSource(e.ctx, "Newsletter", "", []string{olivia.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := e.request(newRequest{})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", bossTok, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", bossTok, map[string]any{"data_source_ids": []string{ds.ID}}), http.StatusOK, "assign")
	export := filepath.Join(t.TempDir(), "subscribers.csv")
	if err := os.WriteFile(export, []byte("email,since\nada@example.org,2025-01-01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newConsoleBrowser(t)

	work := `tr.task-work[data-request="` + id + `"]`
	b.signIn(e.http.URL+"/console/tasks", olivia.Email, "correct horse battery")
	b.step("see my open task with nothing attached",
		chromedp.WaitVisible(chromedp.CSS(work+` .upload-form`)),
		chromedp.WaitVisible(chromedp.CSS(work+` .no-files`)),
	)
	if opts := b.eval(`[...document.querySelectorAll('` + work + ` select[name=outcome] option')].map((o) => o.value).join(',')`); opts != ",data_provided,no_data,not_applicable" {
		t.Errorf("an access request's task offers the outcomes %q", opts)
	}
	b.expectRefusals(func() {
		b.step("upload without a file",
			chromedp.Click(chromedp.CSS(work+` .upload-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(work+` .upload-form input[name=file][aria-invalid=true]`)),
		)
	}, http.StatusUnprocessableEntity)
	b.step("upload the export",
		chromedp.SetUploadFiles(chromedp.CSS(work+` .upload-form input[name=file]`), []string{export}),
		chromedp.Click(chromedp.CSS(work+` .upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(work+` ul.task-files li`)),
	)
	if got := b.text(work + ` ul.task-files`); !strings.Contains(got, "subscribers.csv") || !strings.Contains(got, "bytes") {
		t.Errorf("after the upload the task's files show %q", got)
	}
	if n := b.eval(`String(document.querySelectorAll('` + work + ` .field-error').length)`); n != "0" {
		t.Errorf("the refusal's note stays after the upload succeeded")
	}
	b.step("complete the task",
		chromedp.SetValue(chromedp.CSS(work+` select[name=outcome]`), "data_provided"),
		chromedp.SendKeys(chromedp.CSS(work+` input[name=record_count]`), "1"),
		chromedp.Click(chromedp.CSS(work+` .task-form button[type=submit]`)),
		// The list is drawn anew, without the task.
		chromedp.Poll[chromedp.Void](`document.querySelector('#view p.summary')?.textContent === 'No task here.'`),
	)
	if n := b.eval(`String(document.querySelectorAll('` + work + `').length)`); n != "0" {
		t.Error("the completed task is still among the open ones")
	}

	d := e.want(e.do("GET", "/api/v1/requests/"+id, bossTok, nil), http.StatusOK, "detail").JSON(t)
	task := d["tasks"].([]any)[0].(map[string]any)
	files := task["files"].([]any)
	if task["outcome"] != "data_provided" || len(files) != 1 || files[0].(map[string]any)["name"] != "subscribers.csv" {
		t.Errorf("the request's task is %v", task)
	}
	b.check()
}

// uploadTaskFile attaches a file to a task through the API, as a source's
// owner does, and returns its id.
func (e *staffEnv) uploadTaskFile(token, requestID, dataSourceID, name, content string) string {
	e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.WriteString(fw, content); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.http.URL+"/api/v1/requests/"+requestID+"/tasks/"+dataSourceID+"/files", &body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := e.want(answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, http.StatusCreated, "upload "+name)
	return a.JSON(e.t)["id"].(string)
}

// zipEntries reads a zip's entries, by name.
func zipEntries(t *testing.T, b []byte) map[string]string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the download is no zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = string(content)
	}
	return out
}

// keysOf lists a map's keys.
func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
