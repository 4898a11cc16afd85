package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestConsoleAutomatedSource: an admin makes a data source automated in
// the console's form and sees its mode in the list; on a deletion request
// the source's task shows that the system runs it (no completion form),
// and switching it to manual with a reason gives it to its owners: the
// completion form appears.
func TestConsoleAutomatedSource(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	boss, tok := e.user(dsar.RoleOrgOwner)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	queue := "crm-" + e.cfg.Temporal.TaskQueue // no connector polls it: the task stays running
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console/data-sources", boss.Email, "correct horse battery")
	b.step("add an automated source",
		chromedp.WaitVisible(chromedp.ID("data-source-form")),
		chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=name]`), "CRM"),
		chromedp.Click(chromedp.CSS(`#data-source-form input[value="`+olivia.ID+`"]`)),
		chromedp.SetValue(chromedp.CSS(`#data-source-form select[name=mode]`), "postgres"),
		chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=task_queue]`), queue),
		chromedp.Click(chromedp.CSS(`#data-source-form input[name=dry_run]`)),
		chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('data-sources')?.textContent.includes('CRM')`),
	)
	if list := b.text("#data-sources"); !strings.Contains(list, "Automated: PostgreSQL connector (queue "+queue+"), dry run before erasing") {
		t.Errorf("the list shows %q", list)
	}
	b.expectRefusals(func() {
		b.step("a bad time limit is refused beside its field",
			chromedp.SetValue(chromedp.CSS(`#data-source-form input[name=name]`), "Billing"),
			chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=time_limit]`), "soon"),
			chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
			chromedp.Poll[chromedp.Void](`document.getElementById('data-source-form')?.textContent.includes('such as 72h')`),
		)
	}, http.StatusUnprocessableEntity)
	sources := e.want(e.do("GET", "/api/v1/data-sources", tok, nil), http.StatusOK, "sources").JSON(t)["items"].([]any)
	if len(sources) != 1 {
		t.Fatalf("sources: %v", sources)
	}
	crm := sources[0].(map[string]any)["id"].(string)

	id := e.request(newRequest{Type: dsar.RequestDeletion, Document: pngDocument})
	e.verifyEmail(id)
	e.want(e.do("POST", "/api/v1/requests/"+id+"/identity-verification", tok, map[string]any{"verified": true}), http.StatusOK, "verify")
	e.want(e.do("POST", "/api/v1/requests/"+id+"/assignments", tok, map[string]any{"data_source_ids": []string{crm}}), http.StatusOK, "assign")

	row := `tr[data-source="` + crm + `"]`
	b.step("open the request",
		chromedp.Navigate(e.http.URL+"/console/requests/"+id),
		chromedp.WaitVisible(chromedp.CSS(row+` .automation[data-state="running"]`)),
	)
	if box := b.text(row + " .automation"); !strings.Contains(box, "Automated: PostgreSQL connector") || !strings.Contains(box, "Running") {
		t.Errorf("the task shows %q", box)
	}
	if n := b.eval(`String(document.querySelectorAll('` + row + ` form.task-form').length)`); n != "0" {
		t.Errorf("%s completion forms on a task the system runs", n)
	}
	b.step("switch it to manual",
		chromedp.SendKeys(chromedp.CSS(row+` .automation-manual input[name=reason]`), "the connector is not deployed yet"),
		chromedp.Click(chromedp.CSS(row+` .automation-manual button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(row+` .automation[data-state="manual"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+` form.task-form`)),
	)
	if box := b.text(row + " .automation"); !strings.Contains(box, "the connector is not deployed yet") {
		t.Errorf("after the switch the task shows %q", box)
	}
	b.check()
}
