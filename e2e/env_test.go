// Package e2e_test runs the whole service (app.Open, its HTTP handler and
// its Temporal worker, against a Temporal dev server and a fresh Postgres
// database) and attacks it from outside: hostile input of every kind, and a
// search for the requester's personal data where it must not be.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/mail/resendtest"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/testenv/apptest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// env is one running service.
type env struct {
	t      *testing.T
	app    *app.App
	srv    *httptest.Server
	resend *resendtest.Server // the mail provider, when not the dev outbox
}

// start runs the service (server and worker) on a fresh database with a
// task queue of its own; extra config keys override the defaults here.
func start(t *testing.T, extra map[string]any) *env {
	t.Helper()
	a, srv := apptest.Start(t, extra)
	return &env{t: t, app: a, srv: srv}
}

// answer is an HTTP answer, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", a.status, err, a.body)
	}
}

// errorBody is the API's error shape.
type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// call is one HTTP request: method, path, headers and body.
type call struct {
	method  string
	path    string
	bearer  string
	ctype   string
	headers map[string]string
	body    []byte
}

func (e *env) do(c call) answer {
	e.t.Helper()
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, bytes.NewReader(c.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) get(path, bearer string) answer {
	e.t.Helper()
	return e.do(call{method: http.MethodGet, path: path, bearer: bearer})
}

// jsonCall is a JSON POST of v (a string or []byte is sent as it is).
func jsonCall(method, path, bearer string, v any) call {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	return call{method: method, path: path, bearer: bearer, ctype: "application/json", body: b}
}

func (e *env) postJSON(path, bearer string, v any) answer {
	e.t.Helper()
	return e.do(jsonCall(http.MethodPost, path, bearer, v))
}

// want fails unless a has status, and returns a.
func (e *env) want(a answer, status int, what string) answer {
	e.t.Helper()
	if a.status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, a.status, status, a.body)
	}
	return a
}

// captcha fetches a challenge and solves it as the widget would.
func (e *env) captcha() string {
	e.t.Helper()
	v, err := bench.SolveCaptcha(context.Background(), e.srv.Client(), e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func solve(t *testing.T, alg, challenge, salt, sig string, max int) string {
	t.Helper()
	v, err := bench.SolveChallenge(alg, challenge, salt, sig, max)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// form is a submission: its text fields and its document.
type form struct {
	fields   map[string]string
	filename string
	fileType string
	file     []byte
}

// person is who submits a valid form.
type person struct{ first, last, email, description string }

// validForm is a submission that passes every check.
func validForm(p person, captcha string, doc []byte) form {
	return form{
		fields: map[string]string{
			"first_name": p.first, "last_name": p.last, "email": p.email, "country": "DE", "region": "",
			"requestor_type": "customer", "request_type": "info", "description": p.description, "captcha": captcha,
		},
		filename: "passport.png", fileType: "image/png", file: doc,
	}
}

func (f form) with(k, v string) form {
	g := f
	g.fields = maps.Clone(f.fields)
	g.fields[k] = v
	return g
}

func (f form) withFile(name, ctype string, data []byte) form {
	g := f
	g.filename, g.fileType, g.file = name, ctype, data
	return g
}

// encode writes f as multipart/form-data.
func (f form) encode() ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(f.fields)) {
		_ = w.WriteField(k, f.fields[k])
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="identity_document"; filename="`+f.filename+`"`)
	h.Set("Content-Type", f.fileType)
	p, _ := w.CreatePart(h)
	_, _ = p.Write(f.file)
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// submitCall is the API submission of f.
func submitCall(f form, idemKey string) call {
	body, ct := f.encode()
	c := call{method: http.MethodPost, path: "/api/v1/requests", ctype: ct, body: body}
	if idemKey != "" {
		c.headers = map[string]string{"Idempotency-Key": idemKey}
	}
	return c
}

// submit submits f and returns the new request's id.
func (e *env) submit(f form) string {
	e.t.Helper()
	var got struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	e.want(e.do(submitCall(f, "")), http.StatusAccepted, "submit").json(e.t, &got)
	return got.ID
}

// photo is a small PNG.
func photo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for x := range 24 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 10), uint8(y * 15), 120, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_\-]{43})`)

// mailToken waits for a mail to addr whose text holds a link with a token
// and whose subject contains subject, and returns the token.
func (e *env) mailToken(addr, subject string) string {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var box struct {
			Items []struct {
				Subject string `json:"subject"`
				Text    string `json:"text"`
			} `json:"items"`
		}
		if e.resend != nil {
			for _, m := range e.resend.Emails() {
				if slices.Contains(m.To, addr) {
					box.Items = append(box.Items, struct {
						Subject string `json:"subject"`
						Text    string `json:"text"`
					}{m.Subject, m.Text})
				}
			}
		} else {
			e.want(e.get("/dev/mailbox.json?to="+addr, ""), http.StatusOK, "mailbox").json(e.t, &box)
		}
		for _, m := range box.Items {
			if mm := tokenRE.FindStringSubmatch(m.Text); mm != nil && strings.Contains(strings.ToLower(m.Subject), subject) {
				return mm[1]
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no mail to %s about %q with a token within 30s (%d mails)", addr, subject, len(box.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventually polls ok every 50ms for up to 90s: the race detector on a
// busy machine makes the 24 MiB package build take far longer than alone.
func (e *env) eventually(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rows counts the rows of every table of the schema.
func (e *env) rows() map[string]int {
	e.t.Helper()
	var tables []string
	const q = `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'goose%' ORDER BY 1`
	if err := e.app.DB.Select(&tables, q); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, name := range tables {
		var n int
		if err := e.app.DB.Get(&n, `SELECT count(*) FROM "`+name+`"`); err != nil {
			e.t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// settled waits until no table's row count changes for half a second (the
// workflows' mail, audit and projection activities have run), and returns
// the counts.
func (e *env) settled() map[string]int {
	e.t.Helper()
	prev := e.rows()
	stable := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for time.Since(stable) < 500*time.Millisecond {
		if time.Now().After(deadline) {
			e.t.Fatalf("rows still changing after 30s: %v", prev)
		}
		time.Sleep(100 * time.Millisecond)
		if now := e.rows(); !maps.Equal(now, prev) {
			prev, stable = now, time.Now()
		}
	}
	return prev
}
