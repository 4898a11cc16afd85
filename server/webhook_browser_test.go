package server

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/webhook"
)

// TestConsoleWebhookSource: an admin adds a webhook source in the console;
// a URL that is not https is refused beside its field; saved, the page
// shows the source's secret once (the one the service signs with), the
// list shows where its jobs go, and "New webhook secret" shows a new one.
func TestConsoleWebhookSource(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	boss, _ := e.user(dsar.RoleOrgOwner)
	olivia, _ := e.user(dsar.RoleSourceOwner)
	b := newConsoleBrowser(t)

	b.signIn(e.http.URL+"/console/data-sources", boss.Email, "correct horse battery")
	b.expectRefusals(func() {
		b.step("an http URL is refused beside its field",
			chromedp.WaitVisible(chromedp.ID("data-source-form")),
			chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=name]`), "Shop"),
			chromedp.Click(chromedp.CSS(`#data-source-form input[value="`+olivia.ID+`"]`)),
			chromedp.SetValue(chromedp.CSS(`#data-source-form select[name=mode]`), "webhook"),
			chromedp.SendKeys(chromedp.CSS(`#data-source-form input[name=webhook_url]`), "http://shop.example.com/dsar"),
			chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
			chromedp.Poll[chromedp.Void](`document.getElementById('data-source-form')?.textContent.includes('must use https')`),
		)
	}, http.StatusUnprocessableEntity)
	b.step("with an https URL it is saved and its secret shown",
		chromedp.SetValue(chromedp.CSS(`#data-source-form input[name=webhook_url]`), "https://shop.example.com/dsar"),
		chromedp.Click(chromedp.CSS(`#data-source-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("webhook-secret")),
	)
	shown := b.text("#webhook-secret code")
	ds, err := e.db.DataSources(e.ctx)
	if err != nil || len(ds) != 1 {
		t.Fatalf("sources: %v, %v", ds, err)
	}
	stored, err := e.db.WebhookSource(e.ctx, e.keys, ds[0].ID)
	if err != nil || !webhook.ValidSecret(shown) || stored.Secret != shown {
		t.Fatalf("the page shows %q, the service signs with another (%v)", shown, err)
	}
	if list := b.text("#data-sources"); !strings.Contains(list, "to https://shop.example.com/dsar") {
		t.Errorf("the list shows %q", list)
	}

	b.step("reloaded, the secret is not shown again",
		chromedp.Navigate(e.http.URL+"/console/data-sources"),
		chromedp.WaitVisible(chromedp.ID("data-sources")),
	)
	if n := b.eval(`String(document.querySelectorAll('#webhook-secret').length)`); n != "0" {
		t.Errorf("the secret is shown again (%s boxes)", n)
	}
	b.step("a new secret",
		chromedp.Click(chromedp.CSS(`#data-sources .webhook-rotate button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("webhook-secret")),
	)
	rotated := b.text("#webhook-secret code")
	if stored, err := e.db.WebhookSource(e.ctx, e.keys, ds[0].ID); err != nil || rotated == shown || stored.Secret != rotated {
		t.Errorf("after the rotation the page shows %q (before %q): %v", rotated, shown, err)
	}
	b.check()
}
