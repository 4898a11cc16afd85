package server

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestFormHidesDocumentForOptOutInBrowser drives the request form's script
// in headless Chromium: choosing California and an opt-out (or do-not-sell)
// request takes the identity-document field away and shows the note that
// none is needed; another request type, another state or another country
// brings it back, required again. The California opt-out is then sent
// without a document and lands on the page saying it is received and acted
// on, with nothing to confirm.
func TestFormHidesDocumentForOptOutInBrowser(t *testing.T) {
	if _, err := os.Stat(consoleChromium); err != nil {
		t.Skipf("no Chromium at %s", consoleChromium)
	}
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"intake.captcha_disabled": true})
	b := newConsoleBrowser(t)

	// choose picks value in the select id as a person does: the page hears
	// a change.
	choose := func(id, value string) {
		t.Helper()
		b.step("choose "+value+" in "+id, chromedp.SetValue(chromedp.ID(id), value))
		b.eval(`document.getElementById('` + id + `').dispatchEvent(new Event('change', {bubbles: true})), ''`)
	}
	// document says what the page shows of the document field: "asked"
	// (field shown and required, no note) or "not asked" (field gone and
	// off, the note shown); anything else is said as it is.
	document := func() string {
		t.Helper()
		return b.eval(`(() => {
			const f = document.getElementById('document-field'), n = document.getElementById('no-document'),
				i = document.getElementById('identity_document');
			const shown = (el) => !el.hidden && el.getClientRects().length > 0;
			if (shown(f) && !shown(n) && i.required && !i.disabled) return 'asked';
			if (!shown(f) && shown(n) && !i.required && i.disabled) return 'not asked';
			return 'field ' + shown(f) + ', note ' + shown(n) + ', required ' + i.required + ', disabled ' + i.disabled;
		})()`)
	}
	want := func(after, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("after %s the document is %q, want %q", after, got, want)
		}
	}

	b.step("open the form", chromedp.Navigate(e.http.URL+"/"), chromedp.WaitVisible(chromedp.ID("first_name")))
	want("opening the form", document(), "asked")
	for _, c := range []struct{ sel, value, what, want string }{
		{"country", "US", "the United States", "asked"},
		{"region", "US-CA", "California", "asked"},
		{"request_type", "opt_out", "a California opt-out", "not asked"},
		{"request_type", "info", "a California access request", "asked"},
		{"request_type", "do_not_sell", "a California do-not-sell request", "not asked"},
		{"region", "US-VA", "Virginia", "asked"},
		{"region", "US-CA", "California again", "not asked"},
		{"country", "DE", "Germany", "asked"},
		{"country", "US", "the United States again", "asked"},
		{"region", "US-CA", "California, the do-not-sell request still chosen", "not asked"},
		{"request_type", "opt_out", "a California opt-out again", "not asked"},
	} {
		choose(c.sel, c.value)
		want("choosing "+c.what, document(), c.want)
	}
	b.step("send the opt-out without a document",
		chromedp.SendKeys(chromedp.ID("first_name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("last_name"), "Lovelace"),
		chromedp.SendKeys(chromedp.ID("email"), "ada.optout@example.org"),
		chromedp.Click(chromedp.CSS(`input[name=requestor_type][value=customer]`)),
		chromedp.SendKeys(chromedp.ID("description"), "Do not sell or share my personal information."),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Request received")]`)),
	)
	if body := b.text("main"); !strings.Contains(body, "acting on it") || strings.Contains(body, "confirm your email") {
		t.Errorf("the page after sending says:\n%s", body)
	}
	if n := e.count(`SELECT count(*) FROM requests WHERE region = 'US-CA' AND request_type = 'opt_out'`); n != 1 {
		t.Errorf("%d California opt-outs stored, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM identity_documents`); n != 0 {
		t.Errorf("%d identity documents stored for an opt-out", n)
	}
	b.check()
}
