package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/bench"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// BenchmarkQueuePage times one filtered page of 50 through the API (session
// check, handler, JSON) against the same query run bare, over 200,000
// seeded requests. The queue reads only Postgres, so no Temporal is needed.
// Profile it with -cpuprofile; make bench times the same over a million.
func BenchmarkQueuePage(b *testing.B) {
	ctx := context.Background()
	db := testenv.DB(b)
	if err := bench.SeedRequests(ctx, db, 200_000, nil); err != nil {
		b.Fatal(err)
	}
	cfg := testenv.Config(b, "", "", nil)
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, nil, "")
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Deps{Config: cfg, DB: db, Keys: keys, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New()})
	if err != nil {
		b.Fatal(err)
	}
	cacheCtx, cancel := context.WithCancel(ctx)
	b.Cleanup(cancel)
	if err := db.CacheStaffSessions(cacheCtx, cfg.Auth.SessionCache, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		b.Fatal(err)
	}
	h := httptest.NewServer(s.Handler())
	b.Cleanup(h.Close)
	u, err := db.CreateUser(ctx, store.User{Email: "bench@example.com", Name: "Bench", Role: dsar.RoleManager,
		PasswordHash: crypto.HashPassword("correct horse battery")})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := db.CreateSession(ctx, store.SessionStaff, u.ID, time.Hour, 8*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	page := func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/api/v1/requests?limit=50&status=in_progress&country=DE", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := h.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	f := store.QueueFilter{Statuses: []dsar.Status{dsar.StatusInProgress}, Country: "DE", Limit: 50}
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			page()
		}
	})
	b.Run("handler", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/requests?limit=50&status=in_progress&country=DE", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := db.Queue(ctx, f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("user", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.User(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("select1", func(b *testing.B) {
		for b.Loop() {
			var n int
			if err := db.GetContext(ctx, &n, "SELECT $1::int", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("health", func(b *testing.B) {
		for b.Loop() {
			res, err := h.Client().Get(h.URL + "/healthz")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Session(ctx, store.SessionStaff, tok, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}
