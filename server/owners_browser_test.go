package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestConsoleWarnsOfASourceWithoutOwner: an org owner disables the last
// owner of a data source in the console; the page shows the warning the
// API gave, and the data sources page marks the source.
func TestConsoleWarnsOfASourceWithoutOwner(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	e := newStaffEnvWithoutWorker(t, nil)
	boss, tok := e.user(dsar.RoleOrgOwner)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	e.want(e.do("POST", "/api/v1/data-sources", tok, map[string]any{"name": "Old ERP", "owner_ids": []string{olivia.ID}}),
		http.StatusCreated, "create Old ERP")
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console/users", boss.Email, "correct horse battery")
	row := `#users tr[data-user="` + olivia.Email + `"]`
	b.step("disable the source's only owner",
		chromedp.WaitVisible(chromedp.CSS(row+` button[aria-label^="Disable"]`)),
		chromedp.Click(chromedp.CSS(row+` button[aria-label^="Disable"]`)),
		chromedp.WaitVisible(chromedp.ID("warnings")),
	)
	if w := b.text("#warnings"); !strings.Contains(w, "Old ERP has no active owner left") || !strings.Contains(w, "org owners") {
		t.Errorf("the warning reads %q", w)
	}
	if st := b.text(row + " td:nth-of-type(3)"); st != "disabled" {
		t.Errorf("the user's state reads %q", st)
	}

	b.step("see the data sources",
		chromedp.Click(chromedp.CSS(`a[data-nav="data-sources"]`)),
		chromedp.WaitVisible(chromedp.ID("data-sources")),
	)
	if list := b.text("#data-sources"); !strings.Contains(list, olivia.Name+" (disabled)") || !strings.Contains(list, "No active owner") {
		t.Errorf("the data sources show %q", list)
	}
	b.check()
}
