// Package intake_test runs the real service (app.Open, its HTTP handler and
// its Temporal worker against a dev server and a fresh Postgres database)
// and checks the public intake as a requester and an API client see it.
package intake_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/testenv/apptest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// env is one running service.
type env struct {
	t   *testing.T
	app *app.App
	srv *httptest.Server
}

// start runs the service (server and worker) with a fresh database and its
// own task queue; extra config keys override the test defaults.
func start(t *testing.T, extra map[string]any) *env {
	t.Helper()
	a, srv := apptest.Start(t, extra)
	return &env{t: t, app: a, srv: srv}
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
	noFile   bool
}

// validForm returns a submission that passes every check, with captcha.
func validForm(captcha string, doc []byte) form {
	return form{
		fields: map[string]string{
			"first_name": "Ada", "last_name": "Lovelace-Byron", "email": "ada.lovelace@example.org",
			"country": "DE", "region": "", "requestor_type": "customer", "request_type": "info",
			"description": "Please send me a copy of my personal data, including the unicorn-ledger.", "captcha": captcha,
		},
		filename: "passport.png", fileType: "image/png", file: doc,
	}
}

func (f form) with(k, v string) form {
	g := f
	g.fields = map[string]string{}
	for a, b := range f.fields {
		g.fields[a] = b
	}
	g.fields[k] = v
	return g
}

// body encodes f as multipart/form-data.
func (f form) body() (io.Reader, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range f.fields {
		_ = w.WriteField(k, v)
	}
	if !f.noFile {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="identity_document"; filename="`+f.filename+`"`)
		h.Set("Content-Type", f.fileType)
		p, _ := w.CreatePart(h)
		_, _ = p.Write(f.file)
	}
	_ = w.Close()
	return &buf, w.FormDataContentType()
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

// errFields returns the fields named by an error answer.
func (a answer) errFields(t *testing.T) map[string]string {
	t.Helper()
	var b struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	a.json(t, &b)
	return b.Error.Fields
}

func (e *env) do(req *http.Request) answer {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// submit posts f to the API with an optional Idempotency-Key.
func (e *env) submit(f form, idemKey string) answer {
	e.t.Helper()
	body, ct := f.body()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/requests", body)
	req.Header.Set("Content-Type", ct)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	return e.do(req)
}

func (e *env) get(path string) answer {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	return e.do(req)
}

func (e *env) getJSON(path string, want int, v any) {
	e.t.Helper()
	a := e.get(path)
	if a.status != want {
		e.t.Fatalf("GET %s = %d, want %d: %s", path, a.status, want, a.body)
	}
	a.json(e.t, v)
}

func (e *env) postJSON(path string, v any) answer {
	e.t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}

// counts are the rows of every table a submission writes.
type counts struct{ requests, accepted, keys, documents, redemptions, idempotency int }

func (e *env) counts() counts {
	e.t.Helper()
	var c counts
	for _, q := range []struct {
		dst *int
		sql string
	}{
		{&c.requests, `SELECT count(*) FROM requests`},
		{&c.accepted, `SELECT count(*) FROM requests WHERE accepted`},
		{&c.keys, `SELECT count(*) FROM request_keys`},
		{&c.documents, `SELECT count(*) FROM identity_documents`},
		{&c.redemptions, `SELECT count(*) FROM captcha_redemptions`},
		{&c.idempotency, `SELECT count(*) FROM idempotency_keys`},
	} {
		if err := e.app.DB.Get(q.dst, q.sql); err != nil {
			e.t.Fatal(err)
		}
	}
	return c
}

// pngWithText is a small PNG holding a tEXt metadata chunk with marker.
func pngWithText(t *testing.T, marker string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Insert the chunk after the signature (8) and IHDR (8+13+4).
	at := 8 + 25
	data := append([]byte("Comment\x00"), marker...)
	chunk := make([]byte, 0, len(data)+12)
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(append([]byte("tEXt"), data...)))
	out := append(append(append([]byte{}, b[:at]...), chunk...), b[at:]...)
	return out
}

// jpegWithExif is a small JPEG holding an EXIF (APP1) segment with marker.
func jpegWithExif(t *testing.T, marker string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	payload := append([]byte("Exif\x00\x00"), marker...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	return append(append(append([]byte{}, b[:2]...), seg...), b[2:]...)
}

var tokenRE = regexp.MustCompile(`/verify-email\?token=([A-Za-z0-9_\-]+)`)

// waitForVerificationMail polls the dev mailbox for the verification mail
// to addr that the request's workflow sends, and returns its token.
func (e *env) waitForVerificationMail(addr string, within time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var box struct {
			Items []struct {
				To   string `json:"to"`
				Text string `json:"text"`
				HTML string `json:"html"`
			} `json:"items"`
		}
		e.getJSON("/dev/mailbox.json?to="+addr, http.StatusOK, &box)
		for _, m := range box.Items {
			if mm := tokenRE.FindStringSubmatch(m.Text); mm != nil {
				if !strings.Contains(m.HTML, "/verify-email?token="+mm[1]) {
					e.t.Errorf("the HTML part lacks the verification link of the text part")
				}
				return mm[1]
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no verification mail to %s within %s (the request workflow sends it; %d mail(s) to that address)", addr, within, len(box.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
