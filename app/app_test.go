package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/testsuite"

	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/workflows"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOperationsRoutes(t *testing.T) {
	cfg := testenv.Config(t, testenv.DatabaseURL(t), testenv.TemporalAddress(t), nil)
	a, err := app.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv, err := a.Server()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	if code, body := get(t, ts.URL+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, body := get(t, ts.URL+"/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("readyz with Postgres and Temporal up: %d %s", code, body)
	}
	if code, body := get(t, ts.URL+"/metrics"); code != 200 || !strings.Contains(body, "dsar_http_requests_total") ||
		!strings.Contains(body, "temporal_") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics should hold HTTP, Temporal SDK and Go metrics: %d", code)
	}
	resp, err := http.Post(ts.URL+"/codec/decode", "application/json", strings.NewReader(`{"payloads":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("codec without a staff session: want 401, got %d", resp.StatusCode)
	}
	if code, body := get(t, ts.URL+"/no/such/route"); code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("unknown route: %d %s", code, body)
	}
}

func TestReadyzReportsTemporalDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cfg := testenv.Config(t, testenv.DatabaseURL(t), closed, nil)
	a, err := app.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv, err := a.Server()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	code, body := get(t, ts.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"temporal":"unreachable"`) || !strings.Contains(body, `"postgres":"ok"`) {
		t.Errorf("readyz with Temporal down: %d %s", code, body)
	}
}

func TestWorkerRegistersMissingSearchAttributes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal dev server of its own")
	}
	bin, err := testenv.TemporalBin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bare, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{ExistingPath: bin, LogLevel: "error", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Stop()
	cfg := testenv.Config(t, testenv.DatabaseURL(t), bare.FrontendHostPort(), nil)
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for range 2 { // idempotent
		if err := a.Prepare(ctx); err != nil {
			t.Fatalf("prepare: %v", err)
		}
	}
	list, err := a.Temporal.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: cfg.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range workflows.SearchAttributes {
		if got, ok := list.CustomAttributes[name]; !ok || got != typ {
			t.Errorf("search attribute %s: got %v (%v), want %v", name, got, ok, typ)
		}
	}
}
