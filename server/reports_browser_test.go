package server

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestReportsAndLegalHoldInChromium: an admin places a legal hold from a
// request's page and sees it on; the Reports page shows last year's
// metrics from the compliance records, the deadlines' charts (SVG with a
// title and a description) each beside a table of its figures, and the
// records' export; axe finds nothing on either page.
func TestReportsAndLegalHoldInChromium(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	admin, _ := e.user(dsar.RoleAdmin)
	id := e.request(newRequest{Country: "DE"})
	e.verifyEmail(id)
	last := time.Now().UTC().Year() - 1
	jan := func(day, hour int) time.Time { return time.Date(last, 1, day, hour, 0, 0, 0, time.UTC) }
	e.seedRecord(dsar.RequestDeletion, "gdpr", jan(2, 9), new(jan(12, 9)), jan(30, 9), dsar.RecordCompletedWhole) // 10 days
	e.seedRecord(dsar.RequestDeletion, "gdpr", jan(3, 9), new(jan(7, 9)), jan(30, 9), dsar.RecordDenied)          // 4 days
	now := time.Now().UTC()
	e.seedRecord(dsar.RequestInfo, "us_ccpa", now.Add(-48*time.Hour), nil, now.Add(-time.Hour), "") // overdue

	b := newConsoleBrowser(t)
	b.signIn(e.http.URL+"/console/requests/"+id, admin.Email, "correct horse battery")
	b.step("place a legal hold",
		chromedp.WaitVisible(chromedp.CSS("#hold-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#hold-form textarea"), "Litigation hold, case 42"),
		chromedp.Click(chromedp.CSS("#hold-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#hold-form button.secondary")),
	)
	if got := b.text("#hold-state"); !strings.Contains(got, "On") || !strings.Contains(got, "Litigation hold, case 42") {
		t.Errorf("the hold's state reads %q", got)
	}
	b.axe("a request page under a legal hold")

	b.step("open the reports",
		chromedp.Click(chromedp.CSS(`a[data-nav="reports"]`)),
		chromedp.WaitVisible(chromedp.ID("metrics-table")),
		chromedp.WaitVisible(chromedp.CSS("#sla-month-table")),
	)
	deletion := b.eval(`[...document.querySelectorAll('#metrics-table tbody tr')].find((r) => r.querySelector('th').textContent.startsWith('Delet')).textContent`)
	// Received 2, in whole 1, in part 0, denied 1, open 0, median 7, mean 7.
	if !strings.Contains(strings.Join(strings.Fields(deletion), " "), "2101077") {
		t.Errorf("the deletion row reads %q", deletion)
	}
	for _, by := range []string{"type", "rule", "month"} {
		title := b.eval(`(document.querySelector('#sla-` + by + `-table').previousElementSibling.querySelector('svg[role=img] title') || {}).textContent || ''`)
		desc := b.eval(`(document.querySelector('#sla-` + by + `-table').previousElementSibling.querySelector('svg[role=img] desc') || {}).textContent || ''`)
		if !strings.Contains(title, "against their deadlines") || desc == "" {
			t.Errorf("the %s chart: title %q, description %q", by, title, desc)
		}
	}
	if got := b.text("#sla-totals"); !strings.Contains(got, "1 overdue") {
		t.Errorf("the deadlines' totals read %q", got)
	}
	b.axe("the reports")
	b.step("export the records as CSV",
		chromedp.Click(chromedp.CSS(`#records-form button[value="csv"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('announce').textContent.includes('CSV')`),
	)
	b.check()
}
