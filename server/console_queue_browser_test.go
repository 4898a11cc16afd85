package server

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestConsoleQueueAwaitingReplyInBrowser walks the queue's new tools as a
// manager does, in headless Chromium: the dashboard counts the request
// awaiting a reply, the filter shows it alone, opening its messages reads
// them and the filter then shows nothing; a search by reference finds one
// request, the deadline order shows the soonest first, and the request page
// sets its handler, which the queue then shows.
func TestConsoleQueueAwaitingReplyInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, nil)
	maria, _ := e.user(dsar.RoleManager)
	now := time.Now().UTC()
	quiet := e.row(dsar.StatusInProgress, dsar.RequestInfo, dsar.RequestorCustomer, "DE", now.Add(-2*time.Hour), false)
	talking := e.row(dsar.StatusInProgress, dsar.RequestDeletion, dsar.RequestorCustomer, "FR", now.Add(-time.Hour), false)
	e.due(quiet, now.AddDate(0, 0, 3))
	e.due(talking, now.AddDate(0, 0, 9))
	e.requesterWrites(talking, "Is there any news on my request?")
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console", maria.Email, "correct horse battery")
	b.step("see the queue", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+quiet+`"]`)))
	if counts := b.text(".dashboard"); !strings.Contains(counts, "1 awaiting a reply") {
		t.Errorf("the dashboard shows %q, want 1 awaiting a reply", counts)
	}
	if row := b.text(`tr[data-id="` + talking + `"]`); !strings.Contains(row, "awaiting reply") || !strings.Contains(row, dsar.Reference(talking)) {
		t.Errorf("the row of the request awaiting a reply reads %q", row)
	}

	b.step("show only the requests awaiting a reply",
		chromedp.SetValue(chromedp.CSS(`#filters select[name=awaiting_reply]`), "true"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-id="`+quiet+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+talking+`"]`)),
	)
	if u := b.eval(`location.search`); u != "?awaiting_reply=true" {
		t.Errorf("the filtered queue's address ends in %q", u)
	}
	if n := b.eval(`String(document.querySelectorAll('table.queue tbody tr').length)`); n != "1" {
		t.Errorf("the filter shows %s requests, want 1", n)
	}

	b.step("open the request and read the message",
		chromedp.Click(chromedp.CSS(`tr[data-id="`+talking+`"] a`)),
		requestStatus(dsar.StatusInProgress),
		chromedp.WaitVisible(chromedp.CSS(`ol.messages li.new`)),
	)
	if ref := b.text("#request-reference"); ref != dsar.Reference(talking) {
		t.Errorf("the request page shows the reference %q", ref)
	}
	b.step("take the request on",
		chromedp.SetValue(chromedp.CSS(`#handler-form select[name=user_id]`), maria.ID),
		chromedp.Click(chromedp.CSS(`#handler-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('request-handler')?.textContent.includes('`+maria.Name+`')`),
	)
	b.step("back to the filtered queue",
		chromedp.Navigate(e.http.URL+"/console?awaiting_reply=true"),
		chromedp.Poll[chromedp.Void](`document.querySelector('.summary')?.textContent === 'No request matches.'`),
	)
	if counts := b.text(".dashboard"); !strings.Contains(counts, "0 awaiting a reply") {
		t.Errorf("once read, the dashboard shows %q", counts)
	}

	b.step("search by reference",
		chromedp.Navigate(e.http.URL+"/console"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+quiet+`"]`)),
		chromedp.SendKeys(chromedp.CSS(`#filters input[name=q]`), strings.ToLower(dsar.Reference(talking))),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-id="`+quiet+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+talking+`"]`)),
	)
	if h := b.text(`tr[data-id="` + talking + `"] td.handler`); h != "Me" {
		t.Errorf("the handler column reads %q, want Me", h)
	}
	b.step("order by deadline",
		chromedp.Navigate(e.http.URL+"/console"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+quiet+`"]`)),
		chromedp.SetValue(chromedp.CSS(`#filters select[name=sort]`), "deadline"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById('results-title')?.textContent === 'Soonest deadline first'`),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+quiet+`"]`)),
	)
	if first := b.eval(`document.querySelector('table.queue tbody tr')?.dataset.id ?? ''`); first != quiet {
		t.Errorf("by deadline the queue starts with %s, want %s (due first)", first, quiet)
	}
	if href := b.eval(`document.getElementById('export-csv')?.getAttribute('href') ?? ''`); href != "/api/v1/requests.csv?sort=deadline" {
		t.Errorf("the export link is %q", href)
	}
	b.check()
}
