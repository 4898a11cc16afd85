// Package testenv gives tests the real things they run against: a fresh
// Postgres database per test (migrated, dropped afterwards) and a Temporal
// dev server per test package (the binary built from tools/go.mod; nothing
// is downloaded).
//
// Environment:
//   - DSAR_TEST_DATABASE_URL, else DATABASE_URL: a server where the tests
//     may create and drop databases (make test sets it).
//   - DSAR_TEST_TEMPORAL_ADDRESS: use this Temporal server instead of
//     starting one.
//   - DSAR_TEMPORAL_BIN: the temporal binary (default bin/temporal at the
//     repository's root).
package testenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
)

// baseURL is the server where test databases are made.
func baseURL() (string, bool) {
	for _, k := range []string{"DSAR_TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v, true
		}
	}
	return "", false
}

// DatabaseURL creates a fresh, empty database for the test and returns its
// URL; the database is dropped when the test ends. Without a configured
// server the test fails: these tests need the real thing.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base, ok := baseURL()
	if !ok {
		t.Fatal("testenv: set DATABASE_URL (or DSAR_TEST_DATABASE_URL) to a Postgres server; `make test` does")
	}
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", redact(base), err)
	}
	defer admin.Close()
	name := "dsar_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sqlx.Open("postgres", base)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

// DB returns a migrated fresh database for the test.
func DB(t testing.TB) *store.DB {
	t.Helper()
	u := DatabaseURL(t)
	db, err := store.Open(context.Background(), u, 10)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	db.KeyAudit(AuditKeys(t))
	return db
}

// AuditKeys is the keyring DB keys the audit chain with: a fixed test
// master key with id "test-audit", never a real one.
func AuditKeys(t testing.TB) *crypto.Keyring {
	t.Helper()
	keys, err := crypto.NewKeyring("test-audit", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa7}, crypto.KeySize)), nil, "")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return keys
}

// withDatabase returns url with its database name replaced.
func withDatabase(raw, name string) string {
	if u, err := url.Parse(raw); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	// key=value form
	parts := []string{}
	for _, f := range strings.Fields(raw) {
		if !strings.HasPrefix(f, "dbname=") {
			parts = append(parts, f)
		}
	}
	return strings.Join(append(parts, "dbname="+name), " ")
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(database url)"
}

var (
	devOnce   sync.Once
	devServer *testsuite.DevServer
	devAddr   string
	devErr    error
)

// Root is the repository's root directory (where go.mod is).
func Root() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); strings.Contains(string(b), "module github.com/opendsar/dsar\n") {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

// TemporalBin returns the path of the temporal CLI binary, building it from
// tools/go.mod when it is missing.
func TemporalBin() (string, error) {
	if p := os.Getenv("DSAR_TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	p := filepath.Join(Root(), "bin", "temporal")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	cmd := exec.Command("go", "build", "-modfile=tools/go.mod", "-o", "bin/temporal", "github.com/temporalio/cli/cmd/temporal")
	cmd.Dir = Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: build temporal: %v\n%s", err, out)
	}
	return p, nil
}

// TemporalAddress returns the address of a Temporal server for the test
// package, starting a dev server (with the Dsar* search attributes) on first
// use. Packages that call it must call Stop from TestMain.
func TemporalAddress(t testing.TB) string {
	t.Helper()
	if a := os.Getenv("DSAR_TEST_TEMPORAL_ADDRESS"); a != "" {
		return a
	}
	devOnce.Do(func() {
		bin, err := TemporalBin()
		if err != nil {
			devErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		devServer, devErr = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
			ExistingPath: bin,
			LogLevel:     "error",
			Stdout:       io.Discard, // its banner; errors still reach stderr
			ExtraArgs:    searchAttributeArgs(),
		})
		if devErr == nil {
			devAddr = devServer.FrontendHostPort()
			devErr = namespaceReady(ctx, devServer.Client())
		}
	})
	if devErr != nil {
		t.Fatalf("testenv: start temporal dev server: %v", devErr)
	}
	return devAddr
}

// searchAttributeArgs registers the Dsar* search attributes (those of
// workflows.SearchAttributes; app start-up registers any missing too).
func searchAttributeArgs() []string {
	var args []string
	for _, a := range []string{"DsarStatus=Keyword", "DsarRequestType=Keyword", "DsarCountry=Keyword",
		"DsarDeadline=Datetime", "DsarOverdue=Bool", "DsarAttention=Bool", "DsarHandler=Keyword"} {
		args = append(args, "--search-attribute", a)
	}
	return args
}

// UIServer is a Temporal dev server of the test's own with its web UI on.
type UIServer struct {
	Address string // the frontend's host:port
	UIURL   string // the web UI, http://127.0.0.1:port
}

// TemporalWithUI starts a Temporal dev server for the test alone, with its
// web UI (which TemporalAddress's server runs without) pointed at the codec
// endpoint codecEndpoint, as `make run` starts it; it is stopped when the
// test ends. Slower than TemporalAddress: only for tests of the UI.
func TemporalWithUI(t testing.TB, codecEndpoint string) UIServer {
	t.Helper()
	bin, err := TemporalBin()
	if err != nil {
		t.Fatal(err)
	}
	uiPort, err := freePort()
	if err != nil {
		t.Fatalf("testenv: a port for the UI: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin,
		LogLevel:     "error",
		Stdout:       io.Discard,
		EnableUI:     true,
		UIPort:       uiPort,
		ExtraArgs:    append(searchAttributeArgs(), "--ui-codec-endpoint", codecEndpoint),
	})
	if err != nil {
		t.Fatalf("testenv: start temporal dev server with its UI: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if err := namespaceReady(ctx, srv.Client()); err != nil {
		t.Fatal(err)
	}
	return UIServer{Address: srv.FrontendHostPort(), UIURL: "http://127.0.0.1:" + uiPort}
}

// freePort is a loopback TCP port free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// namespaceReady waits until the dev server serves its namespace: the SDK
// reports it ready once it answers at all, and on a loaded machine the
// namespace can lag behind by a moment, failing the first workflow starts.
// A workflow that does not exist is reported as such only by a namespace
// that is served.
func namespaceReady(ctx context.Context, c client.Client) error {
	for {
		_, err := c.DescribeWorkflowExecution(ctx, "testenv-namespace-probe", "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: the dev server's namespace is not served: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Main runs a test package's tests and stops the dev server afterwards:
// call it from TestMain as os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if devServer != nil {
		_ = devServer.Stop()
	}
	return code
}

// Config returns a dev-mode config for tests on database url dbURL and
// Temporal address temporalAddr (either may be empty), with a task queue of
// its own, plus any other keys in extra. It reads no environment, so tests
// using it may run in parallel.
func Config(t testing.TB, dbURL, temporalAddr string, extra map[string]any) *config.Config {
	t.Helper()
	settings := map[string]any{
		"mode":                "dev",
		"database.url":        "postgres://unused",
		"temporal.task_queue": "test-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12],
		"log.level":           "warn",
		// A test's worker stops at its end; activities still retrying
		// against a database the test already dropped need not be waited for.
		"worker.stop_timeout": "2s",
	}
	if dbURL != "" {
		settings["database.url"] = dbURL
	}
	if temporalAddr != "" {
		settings["temporal.address"] = temporalAddr
	}
	for k, v := range extra {
		settings[k] = v
	}
	cfg, err := config.FromMap(settings)
	if err != nil {
		t.Fatalf("testenv: config: %v", err)
	}
	return cfg
}

// Log is a logger for the services a test starts: warnings and errors go
// to the test's output (shown when the test fails, or with -v), so a
// failure shows what the service logged. Lines written after the test's
// cleanups, by goroutines that outlive it, are dropped.
func Log(t testing.TB) *slog.Logger {
	w := &testWriter{out: t.Output()}
	t.Cleanup(w.close) // registered first by the caller, so it runs last
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu     sync.Mutex
	out    io.Writer
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// TamperAudit runs query on the audit trail as someone who can turn its
// append-only trigger off (the table's owner or a superuser, as the tests'
// role is) would: the trigger is disabled for the query only, in one
// transaction.
func TamperAudit(t testing.TB, db *sqlx.DB, query string, args ...any) {
	t.Helper()
	tx, err := db.Beginx()
	if err != nil {
		t.Fatalf("testenv: tamper: %v", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range []string{`ALTER TABLE audit_events DISABLE TRIGGER USER`, query, `ALTER TABLE audit_events ENABLE TRIGGER USER`} {
		var a []any
		if q == query {
			a = args
		}
		if _, err := tx.Exec(q, a...); err != nil {
			t.Fatalf("testenv: tamper: %s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("testenv: tamper: %v", err)
	}
}
