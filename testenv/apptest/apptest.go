// Package apptest runs the whole service for end-to-end tests: the HTTP
// server under httptest and the worker, on a fresh database and a task
// queue of their own. (It is apart from testenv so that the server's own
// tests, which testenv serves, do not import the server through it.)
package apptest

import (
	"context"
	"maps"
	"net/http/httptest"
	"testing"

	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/testenv"
)

// Start runs the service against a fresh database and the test package's
// Temporal dev server (the package needs testenv.Main in its TestMain);
// extra config keys override the test defaults. Everything stops when the
// test ends.
func Start(t testing.TB, extra map[string]any) (*app.App, *httptest.Server) {
	t.Helper()
	return StartOn(t, testenv.DatabaseURL(t), extra)
}

// StartOn is Start on the database at dbURL (e.g. a fresh one reached
// through a testenv.TCPProxy).
func StartOn(t testing.TB, dbURL string, extra map[string]any) (*app.App, *httptest.Server) {
	t.Helper()
	settings := map[string]any{
		"intake.captcha_max_number": 2000, // quick to solve in tests
		// ... and as quick however many requests the test made: tests
		// submit from one address, often for one email.
		"intake.captcha_max_number_ceiling": 2000,
		"intake.unverified_per_email":       10000,
		"intake.unverified_per_network":     10000,
		"intake.rate_per_minute":            10000,
		"auth.login_per_minute":             10000,
		"public_url":                        "http://dsar.test",
	}
	maps.Copy(settings, extra)
	cfg := testenv.Config(t, dbURL, testenv.TemporalAddress(t), settings)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, testenv.Log(t)) // warnings beside the test that caused them
	if err != nil {
		cancel()
		t.Fatalf("app.Open: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.RunWorker(ctx) }()
	s, err := a.Server()
	if err != nil {
		cancel()
		t.Fatalf("server: %v", err)
	}
	if err := a.DB.CacheStaffSessions(ctx, cfg.Auth.SessionCache, a.Log); err != nil {
		cancel()
		t.Fatalf("session cache: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			// Stopping during its start-up chores cancels them: not a failure.
			t.Logf("worker: %v", err)
		}
		a.Close()
	})
	return a, srv
}
