package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"maps"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/store"
)

// intakeFields are the text fields of a valid submission from email.
func intakeFields(email, captcha string) map[string]string {
	return map[string]string{"first_name": "Ada", "last_name": "Lovelace", "email": email, "country": "DE",
		"requestor_type": "customer", "request_type": "info", "description": "Send me my data.", "captcha": captcha}
}

// intakePNG is a PNG of w×h pixels of noise (which compresses badly, so
// its size follows its pixels).
func intakePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// intakeBody writes fields (in name order), then the document (unless nil),
// then after: a client that sends text after the document.
func intakeBody(t *testing.T, fields map[string]string, doc []byte, after map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		_ = w.WriteField(k, fields[k])
	}
	if doc != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="identity_document"; filename="id.png"`)
		h.Set("Content-Type", "image/png")
		p, _ := w.CreatePart(h)
		_, _ = p.Write(doc)
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		_ = w.WriteField(k, after[k])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// captchaFrom solves a challenge of the server at base.
func captchaFrom(t *testing.T, base string) string {
	t.Helper()
	v, err := bench.SolveCaptcha(t.Context(), http.DefaultClient, base)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// submitFrom submits a form to the server at base as a client at ip (the
// servers trust the loopback proxy's X-Forwarded-For).
func submitFrom(t *testing.T, base, ip string, fields map[string]string, doc []byte) answer {
	t.Helper()
	ct, body := intakeBody(t, fields, doc, nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/requests", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// errorOf is the error of an answer: its code, message and fields.
func errorOf(t *testing.T, a answer) ErrorDetail {
	t.Helper()
	var b ErrorBody
	if err := json.Unmarshal(a.Body, &b); err != nil {
		t.Fatalf("answer %d is not an error: %s", a.Status, a.Body)
	}
	return b.Error
}

// submittedID is the id of a request answered 202.
func submittedID(t *testing.T, a answer, what string) string {
	t.Helper()
	if a.Status != http.StatusAccepted {
		t.Fatalf("%s: status %d, want 202: %s", what, a.Status, a.Body)
	}
	var got submitted
	if err := json.Unmarshal(a.Body, &got); err != nil || got.ID == "" {
		t.Fatalf("%s: %s", what, a.Body)
	}
	if got.Status != dsar.StatusPendingEmailVerification {
		t.Errorf("%s: answer status %q, want the contract's pending_email_verification", what, got.Status)
	}
	return got.ID
}

// confirm confirms the email of request id through the API at base, as
// its link would.
func (e *staffEnv) confirm(base, id, email string) {
	e.t.Helper()
	raw, err := e.db.CreateToken(e.ctx, store.TokenEmailVerification, id, e.keys.BlindIndex(email), time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/v1/email-verifications", "application/json", strings.NewReader(`{"token":"`+raw+`"}`))
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("confirm %s: %d %s", id, resp.StatusCode, b)
	}
}

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A submission whose captcha is wrong, used, or not sent before the
// document is refused before a byte of the document is read, let alone
// decoded: the document here is a decompression bomb's header followed by
// a gigabyte of zeros. Before, the whole body was parsed and the image
// decoded first, and the captcha checked last.
func TestIntakeCaptchaIsCheckedBeforeTheUploadIsRead(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	used := captchaFrom(t, e.http.URL)
	submittedID(t, submitFrom(t, e.http.URL, "192.0.2.10", intakeFields("used@example.org", used), intakePNG(t, 8, 8)), "the captcha's first use")

	bomb := func(fields map[string]string) (string, io.Reader, int) {
		ct, prefix := intakeBody(t, fields, []byte{}, nil)
		// Cut the body after the document's part header and stream the
		// bomb from there, never ending.
		cut := bytes.Index(prefix, []byte("Content-Type: image/png\r\n\r\n")) + len("Content-Type: image/png\r\n\r\n")
		return ct, io.MultiReader(bytes.NewReader(prefix[:cut]), bytes.NewReader(pngHeaderOnly(7000, 7000)), io.LimitReader(zeros{}, 1<<30)), cut
	}
	without := intakeFields("mallory@example.org", "")
	delete(without, "captcha")
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   string // in the captcha field's message
	}{
		{"a wrong captcha", intakeFields("mallory@example.org", "bm90IGEgc29sdXRpb24="), "not a captcha solution"},
		{"a used captcha", intakeFields("mallory@example.org", used), "already used"},
		{"no captcha before the document", without, "before identity_document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, stream, prefix := bomb(tc.fields)
			body := &countingReader{r: stream}
			req := httptest.NewRequest(http.MethodPost, "/api/v1/requests", body)
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			e.server.Handler().ServeHTTP(rec, req)
			a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
			if a.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", a.Status, a.Body)
			}
			if why := errorOf(t, a).Fields["captcha"]; !strings.Contains(why, tc.want) {
				t.Errorf("the captcha field says %q, want it to say %q", why, tc.want)
			}
			// What was read beyond the text is the multipart reader's
			// buffer, not the document.
			if read := body.n - int64(prefix); read > 64<<10 {
				t.Errorf("read %d bytes of the document before refusing the captcha", read)
			}
		})
	}

	// A right captcha lets the document be read: up to the limit, then 413.
	ct, stream, _ := bomb(intakeFields("ada@example.org", captchaFrom(t, e.http.URL)))
	body := &countingReader{r: stream}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/requests", body)
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	e.server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a right captcha and an endless document: status %d, want 413: %s", rec.Code, rec.Body)
	}
	if limit := e.cfg.Intake.MaxUploadBytes; body.n > limit+2<<20 {
		t.Errorf("read %d bytes of an endless document, limit %d", body.n, limit)
	}
}

// A client that sends the captcha after the document is told to send it
// first; nothing is stored.
func TestIntakeCaptchaAfterTheDocumentIsRefused(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	fields := intakeFields("ada@example.org", "")
	delete(fields, "captcha")
	ct, body := intakeBody(t, fields, intakePNG(t, 8, 8), map[string]string{"captcha": captchaFrom(t, e.http.URL)})
	resp, err := http.Post(e.http.URL+"/api/v1/requests", ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{Status: resp.StatusCode, Body: b}
	if a.Status != http.StatusUnprocessableEntity || !strings.Contains(errorOf(t, a).Fields["captcha"], "before identity_document") {
		t.Fatalf("captcha after the document: %d %s, want 422 naming captcha", a.Status, a.Body)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM requests`); err != nil || n != 0 {
		t.Fatalf("requests stored: %d (%v)", n, err)
	}
}

// The caps on unconfirmed requests per email and per client network are
// kept in Postgres: two API processes on one database share them. A
// confirmed email frees its place; another network is not affected.
func TestIntakeUnverifiedCapsHoldAcrossTwoServers(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"intake.unverified_per_email": 2, "intake.unverified_per_network": 3,
		"http.trusted_proxies": []string{"127.0.0.1/32", "::1/128"}})
	deps := e.server.Deps
	deps.Metrics = metrics.New()
	other, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	replica := httptest.NewServer(other.Handler())
	t.Cleanup(replica.Close)
	a, b := e.http.URL, replica.URL
	doc := intakePNG(t, 8, 8)
	submit := func(base, ip, email string) answer {
		return submitFrom(t, base, ip, intakeFields(email, captchaFrom(t, base)), doc)
	}

	first := submittedID(t, submit(a, "203.0.113.5", "ada@example.org"), "ada's first, through A")
	submittedID(t, submit(b, "203.0.113.6", "ADA@example.org"), "ada's second, through B")
	over := submit(a, "198.51.100.7", "ada@example.org")
	if over.Status != http.StatusTooManyRequests || errorOf(t, over).Fields["email"] == "" {
		t.Fatalf("ada's third unconfirmed request, from another network: %d %s, want 429 naming email", over.Status, over.Body)
	}
	submittedID(t, submit(b, "203.0.113.77", "bob@example.org"), "bob's, the network's third, through B")
	full := submit(a, "203.0.113.200", "carol@example.org")
	if full.Status != http.StatusTooManyRequests || !strings.Contains(errorOf(t, full).Message, "your network") {
		t.Fatalf("a fourth unconfirmed request from one /24: %d %s, want 429 about the network", full.Status, full.Body)
	}
	submittedID(t, submit(a, "2001:db8:1::1", "carol@example.org"), "carol from another network")

	// Ada confirms her first request: her email and the network have room
	// again, on either server.
	e.confirm(b, first, "ada@example.org")
	submittedID(t, submit(a, "203.0.113.200", "carol@example.org"), "carol from the network with room again")

	// What is kept is keyed hashes, never an address.
	var plain int
	if err := e.db.Get(&plain, `SELECT count(*) FROM intake_holds WHERE position('203.0.113' in encode(network_key, 'escape')) > 0`); err != nil || plain != 0 {
		t.Fatalf("holds keeping the network in clear: %d (%v)", plain, err)
	}
}

// The identity documents held by unconfirmed requests have a budget:
// beyond it a submission is refused with 503 and why, until a
// confirmation frees room.
func TestIntakeUnverifiedBytesAreBounded(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"intake.max_upload_bytes": 1024, "intake.unverified_bytes": 1024,
		"http.trusted_proxies": []string{"127.0.0.1/32", "::1/128"}})
	doc := intakePNG(t, 12, 12)
	first := submittedID(t, submitFrom(t, e.http.URL, "192.0.2.1", intakeFields("ada@example.org", captchaFrom(t, e.http.URL)), doc), "the first")
	var held int64
	if err := e.db.Get(&held, `SELECT bytes FROM intake_holds WHERE request_id = $1`, first); err != nil || held <= 512 || held > 1024 {
		t.Fatalf("the first document holds %d bytes (%v); the test needs 513 to 1024", held, err)
	}
	full := submitFrom(t, e.http.URL, "198.51.100.1", intakeFields("bob@example.org", captchaFrom(t, e.http.URL)), doc)
	if full.Status != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, full).Message, "try again") {
		t.Fatalf("a document beyond the budget: %d %s, want 503 saying to try again", full.Status, full.Body)
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM requests`); err != nil || n != 1 {
		t.Fatalf("requests stored: %d (%v), want the first only", n, err)
	}
	e.confirm(e.http.URL, first, "ada@example.org")
	submittedID(t, submitFrom(t, e.http.URL, "198.51.100.1", intakeFields("bob@example.org", captchaFrom(t, e.http.URL)), doc), "once the first is confirmed")
}

// The captcha's work doubles for every intake.captcha_busy_step
// unconfirmed submissions in the window, up to the ceiling.
func TestIntakeCaptchaWorkRisesWithLoad(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, map[string]any{"intake.captcha_max_number": 1000, "intake.captcha_busy_step": 2,
		"intake.captcha_max_number_ceiling": 3000, "intake.unverified_per_network": 100})
	maxNumber := func() int64 {
		resp, err := http.Get(e.http.URL + "/api/v1/captcha")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ch CaptchaChallenge
		if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
			t.Fatal(err)
		}
		return ch.MaxNumber
	}
	doc := intakePNG(t, 8, 8)
	var got []int64
	for i := range 6 {
		got = append(got, maxNumber())
		if i%2 == 1 {
			continue
		}
		for j := range 2 {
			submittedID(t, submitFrom(t, e.http.URL, "", intakeFields(fmt.Sprintf("p%d-%d@example.org", i, j), captchaFrom(t, e.http.URL)), doc), "a submission")
		}
	}
	// After 0 submissions, 2, 2 again, 4 (4000 is beyond the ceiling), 4
	// again, 6.
	want := []int64{1000, 2000, 2000, 3000, 3000, 3000}
	if !slices.Equal(got, want) {
		t.Fatalf("max numbers %v, want %v", got, want)
	}
}

func TestWorkFor(t *testing.T) {
	for _, tc := range []struct {
		recent int
		want   int64
	}{{0, 100}, {49, 100}, {50, 200}, {149, 400}, {500, 1000}, {1 << 30, 1000}} {
		if got := workFor(100, 1000, tc.recent, 50); got != tc.want {
			t.Errorf("workFor(100, 1000, %d, 50) = %d, want %d", tc.recent, got, tc.want)
		}
	}
}

// Submissions and confirmations have budgets of their own per client
// address: people behind one address confirm their emails however many
// forms were sent from it. Before, both shared one budget.
func TestIntakeConfirmationIsNotBlockedBySubmissions(t *testing.T) {
	t.Parallel()
	e := newStaffEnv(t, map[string]any{"intake.rate_per_minute": 1})
	id := submittedID(t, submitFrom(t, e.http.URL, "", intakeFields("ada@example.org", captchaFrom(t, e.http.URL)), intakePNG(t, 8, 8)), "the first")
	if a := submitFrom(t, e.http.URL, "", intakeFields("bob@example.org", captchaFrom(t, e.http.URL)), intakePNG(t, 8, 8)); a.Status != http.StatusTooManyRequests {
		t.Fatalf("a second submission within the minute: %d %s, want 429", a.Status, a.Body)
	}
	e.confirm(e.http.URL, id, "ada@example.org")
}
