package server

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/opendsar/dsar"
)

// TestConsolePage checks the console's page without a browser: the same
// page at /console and at a deep link, under the strict CSP, loading only
// its own script and style, with the choices its forms offer, and nothing
// private in it.
func TestConsolePage(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"temporal.ui_url": "http://127.0.0.1:8233"})
	settingsAttr := regexp.MustCompile(`data-settings="([^"]*)"`)
	for _, path := range []string{"/console", "/console/", "/console/requests/5f0c3b7e-2a4d-4c8e-9f1a-000000000000", "/console/users"} {
		a := e.want(e.do("GET", path, "", nil), http.StatusOK, path)
		if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if csp := a.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		body := string(a.Body)
		for _, want := range []string{`<script type="module" src="/static/console/console.js">`, `href="/static/console/console.css"`, `id="signin-form"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page has no %s", path, want)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
			t.Errorf("%s: the page has an inline script or style", path)
		}
		m := settingsAttr.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s: no settings on the page", path)
		}
		var set consoleSettings
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &set); err != nil {
			t.Fatalf("%s: settings: %v", path, err)
		}
		if len(set.Statuses) != len(dsar.Statuses) || len(set.RejectReasons) != len(dsar.RejectReasons) || len(set.Roles) != len(dsar.Roles) {
			t.Errorf("%s: settings %+v do not list every status, reason and role", path, set)
		}
		if set.TemporalUI != "http://127.0.0.1:8233" || set.Namespace != e.cfg.Temporal.Namespace {
			t.Errorf("%s: Temporal UI %q, namespace %q", path, set.TemporalUI, set.Namespace)
		}
	}
	for _, asset := range []string{"/static/console/console.js", "/static/console/console.css"} {
		e.want(e.do("GET", asset, "", nil), http.StatusOK, asset)
	}
}
