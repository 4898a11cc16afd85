package server

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/testenv"
)

// newBareServer is a server without Postgres or Temporal, for what answers
// before either is asked (headers, metrics, unknown routes, CORS).
func newBareServer(t *testing.T, extra map[string]any) (*Server, *httptest.Server) {
	t.Helper()
	cfg := testenv.Config(t, "", "", extra)
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Config: cfg, Keys: keys, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(s.Handler())
	t.Cleanup(h.Close)
	return s, h
}

// seriesOf counts the series of one metric family in the registry.
func seriesOf(t *testing.T, s *Server, name string) int {
	t.Helper()
	mfs, err := s.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// TestMetricsSeriesStayBounded: a client chooses the method token and the
// path; 1,000 random methods on random paths add at most a handful of
// series (method "other", route "unmatched"), not one per request.
func TestMetricsSeriesStayBounded(t *testing.T) {
	t.Parallel()
	s, h := newBareServer(t, nil)
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	token := func() string {
		b := make([]byte, 12)
		for i := range b {
			b[i] = letters[rand.IntN(len(letters))]
		}
		return string(b)
	}
	send := func(method, path string) {
		req, err := http.NewRequest(method, h.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	send("GET", "/healthz") // a baseline series
	before := seriesOf(t, s, "dsar_http_requests_total")
	for i := range 1000 {
		path := "/healthz"
		if i%2 == 0 {
			path = "/" + strings.ToLower(token())
		}
		send(token(), path)
	}
	after := seriesOf(t, s, "dsar_http_requests_total")
	if after-before > 4 {
		t.Errorf("1,000 random methods added %d series to dsar_http_requests_total, want a handful", after-before)
	}
	if n := seriesOf(t, s, "dsar_http_request_duration_seconds"); n > 4 {
		t.Errorf("dsar_http_request_duration_seconds has %d series", n)
	}
	mfs, _ := s.Metrics.Gather()
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "dsar_http_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "method":
					if l.GetValue() != "GET" && l.GetValue() != "other" {
						t.Errorf("method label %q", l.GetValue())
					}
				case "route":
					if l.GetValue() != "/healthz" && l.GetValue() != "unmatched" {
						t.Errorf("route label %q", l.GetValue())
					}
				}
			}
		}
	}
}

// TestCodecEndpoint: operators decode the Temporal UI's payloads (each call
// audited: who, how many, which namespace) but cannot seal one; a body over
// the limit is 413; the Temporal UI's origin may call /codec and nothing
// else.
func TestCodecEndpoint(t *testing.T) {
	t.Parallel()
	e := newStaffEnvWithoutWorker(t, nil)
	op, opToken := e.user(dsar.RoleOperator)
	_, managerToken := e.user(dsar.RoleManager)
	sealed, err := codec.DataConverter(e.keys).ToPayload("status words")
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"payloads": []*commonpb.Payload{sealed}}

	if a := e.do("POST", "/codec/decode", managerToken, body); a.Status != http.StatusForbidden {
		t.Errorf("a manager decodes: %d", a.Status)
	}
	if a := e.do("POST", "/codec/encode", opToken, body); a.Status != http.StatusForbidden {
		t.Errorf("an operator encodes: %d", a.Status)
	}
	req, _ := http.NewRequest("POST", e.http.URL+"/codec/decode", strings.NewReader(`{"payloads":[{"metadata":{},"data":""}]}`))
	req.Header.Set("Authorization", "Bearer "+opToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	a := e.do("POST", "/codec/decode", opToken, body)
	if a.Status != http.StatusOK || !strings.Contains(string(a.Body), base64.StdEncoding.EncodeToString([]byte(`"status words"`))) {
		t.Fatalf("an operator decodes: %d %s", a.Status, a.Body)
	}
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := e.db.Select(&rows, `SELECT detail::text AS detail FROM audit_events WHERE action = $1 AND actor_id = $2 ORDER BY seq`,
		dsar.AuditPayloadsDecoded, op.ID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !strings.Contains(rows[0].Detail, `"namespace": "default"`) || !strings.Contains(rows[1].Detail, `"payloads": 1`) {
		t.Errorf("audit of two decodes: %+v", rows)
	}

	big := `{"payloads":[{"metadata":{},"data":"` + strings.Repeat("A", codecMaxBody) + `"}]}`
	if a := e.do("POST", "/codec/decode", opToken, big); a.Status != http.StatusRequestEntityTooLarge || !strings.Contains(string(a.Body), "larger than") {
		t.Errorf("an oversized body: %d %.200s", a.Status, a.Body)
	}
	if a := e.do("POST", "/codec/decode", opToken, `[1,2]`); a.Status != http.StatusBadRequest {
		t.Errorf("a body that is not the protocol's: %d %s", a.Status, a.Body)
	}

	// The UI's origin, as a browser sends it.
	cross := func(path string, body string) *http.Response {
		req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", e.cfg.Temporal.UIURL)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// In dev mode on the public dev key, the UI decodes without a session
	// (the dev server's UI, with no setting changed); it still cannot encode.
	if r := cross("/codec/decode", `{"payloads":[]}`); r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != e.cfg.Temporal.UIURL {
		t.Errorf("the UI's origin on /codec/decode in dev mode: %d, CORS %q (want 200 without a session, and CORS)", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if r := cross("/codec/encode", `{"payloads":[]}`); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("the UI's origin on /codec/encode in dev mode: %d, want 401 without a session", r.StatusCode)
	}
	for _, path := range []string{"/api/v1/sessions", "/api/v1/requests/manual", "/api/v1/users"} {
		if r := cross(path, `{}`); r.StatusCode != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("the UI's origin on %s: %d, CORS %q; want 403 and no CORS", path, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

// TestOnlyTheEmbedPagesMayBeFramed: with http.frame_ancestors set, the
// embeddable form (and the page it leads to) may be framed by those
// origins; every other page is DENY. HSTS goes out when public_url is
// https (TLS at a proxy), not when it is http.
func TestOnlyTheEmbedPagesMayBeFramed(t *testing.T) {
	t.Parallel()
	_, h := newBareServer(t, map[string]any{"http.frame_ancestors": []string{"https://shop.example"}, "public_url": "https://privacy.example"})
	get := func(path string) http.Header {
		resp, err := http.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	for _, path := range []string{"/embed", "/submitted?embed=1"} {
		hd := get(path)
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://shop.example") || hd.Get("X-Frame-Options") != "" {
			t.Errorf("%s: CSP %q, X-Frame-Options %q", path, csp, hd.Get("X-Frame-Options"))
		}
	}
	for _, path := range []string{"/", "/submitted", "/console", "/portal/login", "/verify-email", "/healthz", "/embed/x"} {
		hd := get(path)
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s may be framed: CSP %q, X-Frame-Options %q", path, csp, hd.Get("X-Frame-Options"))
		}
		if hd.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: no HSTS with an https public_url", path)
		}
	}
	_, plain := newBareServer(t, map[string]any{"public_url": "http://localhost:8080"})
	resp, err := http.Get(plain.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http")
	}
}

// TestMetricsOnAnInternalListener: with http.metrics_addr set, /metrics is
// served there and only there; the public address answers 404.
func TestMetricsOnAnInternalListener(t *testing.T) {
	t.Parallel()
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	addr, metricsAddr := free(), free()
	s, _ := newBareServer(t, map[string]any{"http.addr": addr, "http.metrics_addr": metricsAddr})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	get := func(url string) int {
		var resp *http.Response
		var err error
		for range 100 {
			if resp, err = http.Get(url); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("http://" + metricsAddr + "/metrics"); got != http.StatusOK {
		t.Errorf("internal /metrics: %d", got)
	}
	if got := get("http://" + addr + "/metrics"); got != http.StatusNotFound {
		t.Errorf("public /metrics with http.metrics_addr set: %d, want 404", got)
	}
	if got := get("http://" + metricsAddr + "/healthz"); got != http.StatusNotFound {
		t.Errorf("the internal listener serves %d for /healthz: it serves /metrics alone", got)
	}
}

// TestCodecDecodeNeedsASessionOffTheDevKey: the Temporal UI's origin
// decodes without a session only in dev mode on the public dev key; on any
// other key (as in production) it is 401, with the CORS headers the UI
// needs to send its credentials, and in dev mode another origin is 401 too.
func TestCodecDecodeNeedsASessionOffTheDevKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		extra  map[string]any
		origin func(ui string) string
	}{
		{"a key of its own", map[string]any{"crypto.master_key": base64.StdEncoding.EncodeToString([]byte("a-master-key-of-its-own-32-bytes"))},
			func(ui string) string { return ui }},
		{"another origin", nil, func(string) string { return "http://evil.example" }},
		{"no origin (a script)", nil, func(string) string { return "" }},
	} {
		s, srv := newBareServer(t, c.extra)
		req, _ := http.NewRequest("POST", srv.URL+"/codec/decode", strings.NewReader(`{"payloads":[]}`))
		req.Header.Set("Content-Type", "application/json")
		if o := c.origin(s.Config.Temporal.UIURL); o != "" {
			req.Header.Set("Origin", o)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusUnauthorized
		if c.name == "another origin" {
			want = http.StatusForbidden // refused as a cross-origin request first
		}
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, want)
		}
		if c.name == "a key of its own" && resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: no CORS with credentials for the UI", c.name)
		}
	}
}
