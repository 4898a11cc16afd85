package intake_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/opendsar/dsar/mail/resendtest"
)

func TestFormPage(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{
		"company.name":          "Acme Widgets",
		"company.privacy_url":   "https://acme.example/privacy",
		"company.primary_color": "#aa3300",
	})
	a := e.get("/")
	if a.status != http.StatusOK {
		t.Fatalf("GET / = %d", a.status)
	}
	page := string(a.body)
	for _, field := range []string{"first_name", "last_name", "email", "country", "region", "description", "identity_document"} {
		if !strings.Contains(page, `<label for="`+field+`"`) || !strings.Contains(page, `id="`+field+`" name="`+field+`"`) {
			t.Errorf("the form lacks a labelled %s field", field)
		}
	}
	for _, want := range []string{
		`name="requestor_type" value="customer"`, `name="requestor_type" value="employee"`, `name="requestor_type" value="other"`,
		`<option value="complaint">Complaint</option>`, `<option value="do_not_sell">Do Not Sell</option>`, `<option value="opt_out">Opt-Out</option>`,
		`<option value="DE">Germany</option>`, `<option value="US-CA">California</option>`,
		`<altcha-widget challengeurl="/api/v1/captcha" name="captcha"`, `src="/static/altcha/altcha.js"`,
		`enctype="multipart/form-data"`, "Acme Widgets", `href="https://acme.example/privacy"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if n := strings.Count(page, "<option value=\"") - strings.Count(page, `<option value="US-`); n < 249 {
		t.Errorf("%d country options, want every ISO 3166-1 country", n)
	}
	// Everything the page loads comes from this server.
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		u := m[1]
		if strings.HasPrefix(u, "/") || strings.HasPrefix(u, "#") || u == "https://acme.example/privacy" {
			continue
		}
		t.Errorf("the page refers to %s", u)
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, asset := range []string{"/static/altcha/altcha.js", "/static/altcha/worker.js", "/static/altcha/altcha.css", "/static/intake.js", "/static/embed.css"} {
		if a := e.get(asset); a.status != http.StatusOK || len(a.body) == 0 {
			t.Errorf("GET %s = %d", asset, a.status)
		}
	}
	if theme := e.get("/theme.css"); !strings.Contains(string(theme.body), "#aa3300") {
		t.Errorf("the theme lacks the company's colour: %s", theme.body)
	}
}

func TestEmbeddableForm(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]any{"http.frame_ancestors": []string{"https://www.acme.example"}})
	a := e.get("/embed")
	if a.status != http.StatusOK {
		t.Fatalf("GET /embed = %d", a.status)
	}
	if !strings.Contains(string(a.body), `href="/static/embed.css"`) || !strings.Contains(string(a.body), `action="/embed"`) {
		t.Error("the embeddable form is not the embed variant")
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://www.acme.example") {
		t.Errorf("CSP %q does not allow the configured origin to frame the form", csp)
	}
	if a.header.Get("X-Frame-Options") != "" {
		t.Error("X-Frame-Options forbids embedding")
	}
}

// postForm posts the HTML form as a browser would, without following redirects.
func (e *env) postForm(path string, f form) answer {
	e.t.Helper()
	body, ct := f.body()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return answer{status: res.StatusCode, header: res.Header, body: []byte(b.String())}
}

func TestFormWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	doc := pngWithText(t, "x")
	bad := validForm(e.captcha(), doc).with("email", "ada-at-example").with("country", "").with("first_name", `Ada "<b>"`)
	bad.fields["form_key"] = "form-1"
	a := e.postForm("/", bad)
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid form = %d, want 422", a.status)
	}
	page := string(a.body)
	for _, want := range []string{
		`id="email-error"`, `aria-describedby="email-error"`, `id="country-error"`, "Please correct the fields marked below",
		`value="Ada &#34;&lt;b&gt;&#34;"`, `value="ada-at-example"`, `>Please send me a copy of my personal data, including the unicorn-ledger.</textarea>`,
		`value="customer" checked`, `<option value="info" selected>`, `<a href="#email">Email address: `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the form shown again lacks %s", want)
		}
	}
	if strings.Contains(page, "<b>") {
		t.Error("typed text is not escaped")
	}
	if c := e.counts(); c != (counts{}) {
		t.Errorf("an invalid form stored rows: %+v", c)
	}

	good := validForm(e.captcha(), doc)
	good.fields["form_key"] = "form-2"
	a = e.postForm("/", good)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/submitted" {
		t.Fatalf("valid form = %d → %q, want 303 to /submitted: %s", a.status, a.header.Get("Location"), a.body)
	}
	// A double click posts the same form again: nothing new.
	a = e.postForm("/", good)
	if a.status != http.StatusSeeOther {
		t.Errorf("the same form again = %d, want 303", a.status)
	}
	if c := e.counts(); c.requests != 1 || c.accepted != 1 {
		t.Errorf("rows after a double submit: %+v", c)
	}
	if s := e.get("/submitted"); s.status != http.StatusOK || !strings.Contains(string(s.body), "Check your inbox") {
		t.Errorf("GET /submitted = %d", s.status)
	}

	// The embedded form stays embedded.
	emb := validForm(e.captcha(), doc).with("email", "embedded@example.org")
	a = e.postForm("/embed", emb)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/submitted?embed=1" {
		t.Errorf("embedded form = %d → %q", a.status, a.header.Get("Location"))
	}
	// A wrong file type is shown beside the field, with 415.
	wrong := validForm(e.captcha(), []byte("plain text"))
	a = e.postForm("/", wrong)
	if a.status != http.StatusUnsupportedMediaType || !strings.Contains(string(a.body), `id="identity_document-error"`) {
		t.Errorf("wrong file type = %d", a.status)
	}
}

func TestCrossOriginFormPostIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	body, ct := validForm(e.captcha(), pngWithText(t, "x")).body()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if a := e.do(req); a.status != http.StatusForbidden {
		t.Errorf("cross-site form post = %d, want 403", a.status)
	}
	if c := e.counts(); c.requests != 0 {
		t.Errorf("rows: %+v", c)
	}
}

func TestMailboxOnlyWithTheOutbox(t *testing.T) {
	t.Parallel()
	rs := resendtest.New(t, "re_dev")
	e := start(t, map[string]any{"email.provider": "resend", "email.resend.api_key": "re_dev", "email.resend.base_url": rs.URL})
	for _, p := range []string{"/dev/mailbox", "/dev/mailbox.json", "/dev/mailbox/" + url.PathEscape("00000000-0000-0000-0000-000000000000")} {
		if a := e.get(p); a.status != http.StatusNotFound {
			t.Errorf("GET %s with email.provider=resend = %d, want 404", p, a.status)
		}
	}
	dev := start(t, nil)
	if a := dev.get("/dev/mailbox"); a.status != http.StatusOK || !strings.Contains(string(a.body), "Dev mailbox") {
		t.Errorf("GET /dev/mailbox with the outbox = %d", a.status)
	}
}
