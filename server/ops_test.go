package server

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
