package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
)

// englishOnPage are words an English page cannot do without and the German,
// French and Spanish pages never use: one on a translated page is English
// left behind.
var englishOnPage = regexp.MustCompile(`\b(the|and|your|Your|you|You|request|Request|requests|please|Please|Submit|Log in|Log out|Sign in|password|Password|Download|Withdraw|Write|Send|Choose|choose|Country|Skip|Privacy|Not found)\b`)

var (
	tagRE = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	// The US states' names and the requester's own words are not ours to
	// translate.
	regionRE = regexp.MustCompile(`(?s)<select id="region".*?</select>|<p class="request-description"[^>]*>.*?</p>`)
)

// pageGet GETs path with Accept-Language lang (and a cookie, if any) and
// returns its status and body.
func (e *portalEnv) pageGet(path, lang, cookie string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("Accept-Language", lang)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPagesTranslated renders every requester page in every language (the
// form, its "check your inbox" and error pages, the portal's login, sign-in,
// account, list and request pages, and "not found") and fails on any English
// word left on a German, French or Spanish page. English stays the default.
func TestPagesTranslated(t *testing.T) {
	e := newPortalEnv(t, nil)
	const email = "zoe@example.org"
	id := e.insertRequest(email, dsar.StatusAwaitingIdentity)
	closed := e.insertRequest(email, dsar.StatusRejected)
	if _, err := e.db.ExecContext(e.ctx, `UPDATE requests SET close_reasons = '{identity_not_verified}', closed_at = now() WHERE id = $1`, closed); err != nil {
		t.Fatal(err)
	}
	bearer := e.requester(id, email, "correct horse battery staple")
	cookie := "dsar_portal=" + bearer
	pages := []struct {
		path   string
		cookie string
		status int
	}{
		{"/", "", 200},
		{"/portal/login", "", 200},
		{"/portal/sign-in?token=nope", "", 404},
		{"/portal/accounts/new?token=nope", "", 404},
		{"/verify-email?token=nope", "", 404},
		{"/portal/requests/" + uuid.NewString(), cookie, 404},
		{"/portal", cookie, 200},
		{"/portal/requests/" + id, cookie, 200},
		{"/portal/requests/" + closed, cookie, 200},
	}
	for _, l := range locale.Langs {
		for _, p := range pages {
			status, body := e.pageGet(p.path, string(l)+"-XX,"+string(l)+";q=0.9", p.cookie)
			if status != p.status {
				t.Errorf("%s %s: status %d, want %d", l, p.path, status, p.status)
				continue
			}
			if !strings.Contains(body, `<html lang="`+string(l)+`">`) {
				t.Errorf("%s %s: not marked as %s", l, p.path, l)
			}
			if l == locale.English {
				continue
			}
			text := tagRE.ReplaceAllString(regionRE.ReplaceAllString(body, ""), " ")
			if w := englishOnPage.FindAllString(text, -1); len(w) > 0 {
				t.Errorf("%s %s holds English %q:\n%s", l, p.path, w, strings.Join(strings.Fields(text), " "))
			}
		}
	}
	// English is what a browser without a preference gets.
	if _, body := e.pageGet("/", "", ""); !strings.Contains(body, "Submit a privacy request") {
		t.Error("a browser without Accept-Language does not get the English form")
	}
}
