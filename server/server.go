// Package server is the HTTP side of the service: the Gin router with the
// JSON API of the HTTP contract (docs: ../shared API.md, served as
// /openapi.yaml), the server-rendered pages, and the operations routes.
// Handlers are thin: parse, validate, call the store or Temporal, answer.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/store"
)

// Deps are what the server needs, built by the app.
type Deps struct {
	Config    *config.Config
	DB        *store.DB
	Temporal  client.Client
	Keys      *crypto.Keyring
	Mailer    mail.Mailer
	Templates *mail.Templates
	Outbox    *mail.Outbox // nil unless email.provider is outbox
	Log       *slog.Logger
	Metrics   *metrics.Registry
}

// Server serves the API and the pages.
type Server struct {
	Deps
	pages   *Pages
	engine  *gin.Engine
	handler http.Handler

	sso          ssoProvider    // single sign-on's provider, discovered at first use
	actionBudget time.Duration  // how long an action waits for its workflow's answer
	hashing      *hashGate      // caps the password hashes computed at once
	background   sync.WaitGroup // work that outlives its request (a sign-in link's mail): shutdown waits for it
	captchaLoad  captchaLoad    // recent submissions, for the captcha's work
}

// New builds the server and its routes. Page templates are parsed here, so
// a broken one fails at start-up.
func New(d Deps) (*Server, error) {
	pages, err := LoadPages(d.Config)
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{Deps: d, pages: pages, engine: gin.New(), actionBudget: actionBudget,
		hashing: newHashGate(d.Config.Auth.PasswordHashes, d.Config.Auth.PasswordHashWait)}
	s.engine.ContextWithFallback = true
	s.engine.HandleMethodNotAllowed = true
	if err := s.engine.SetTrustedProxies(d.Config.HTTP.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server: http.trusted_proxies: %w", err)
	}
	s.engine.Use(s.recover, s.observe, s.securityHeaders, s.chooseLang)
	s.engine.NoRoute(func(c *gin.Context) { s.fail(c, errNotFound) })
	s.engine.NoMethod(func(c *gin.Context) {
		s.failWith(c, http.StatusMethodNotAllowed, "method_not_allowed", "this route does not take "+c.Request.Method, nil)
	})
	s.routes()

	// CSRF: refuse cross-origin unsafe requests from browsers (Fetch
	// metadata and Origin), while API clients without those headers pass.
	// The Temporal UI posts to the codec endpoint from its own origin,
	// which is trusted there and nowhere else.
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"cross-origin request refused"}}`))
	})
	cop, codecCOP := http.NewCrossOriginProtection(), http.NewCrossOriginProtection()
	cop.SetDenyHandler(deny)
	codecCOP.SetDenyHandler(deny)
	if d.Config.Temporal.UIURL != "" {
		if err := codecCOP.AddTrustedOrigin(d.Config.Temporal.UIURL); err != nil {
			return nil, fmt.Errorf("server: temporal.ui_url: %w", err)
		}
	}
	app, codecs := cop.Handler(s.engine), codecCOP.Handler(s.engine)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/codec/encode" || r.URL.Path == "/codec/decode" {
			codecs.ServeHTTP(w, r)
			return
		}
		app.ServeHTTP(w, r)
	})
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Engine is the Gin engine, for route listings (the OpenAPI test).
func (s *Server) Engine() *gin.Engine { return s.engine }

// routes registers every route. Each part of the API has a file of its own.
func (s *Server) routes() {
	s.opsRoutes()
	s.assetRoutes()
	s.intakeRoutes()
	s.staffRoutes()
	s.portalRoutes()
	s.withdrawalRoutes()
	s.appealRoutes()
	s.consoleRoutes()
	s.webhookRoutes()
	s.connectorRoutes()
}

// ListenAndServe serves on http.addr until ctx ends, then shuts down
// gracefully. With http.tls_cert and http.tls_key it serves HTTPS (and
// sends HSTS).
func (s *Server) ListenAndServe(ctx context.Context) error {
	srv := &http.Server{
		Addr:              s.Config.HTTP.Addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() {
		var err error
		if s.Config.HTTP.TLSCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = srv.ListenAndServeTLS(s.Config.HTTP.TLSCert, s.Config.HTTP.TLSKey)
		} else {
			err = srv.ListenAndServe()
		}
		errc <- err
	}()
	// /metrics on an internal listener of its own, when configured.
	var msrv *http.Server
	if addr := s.Config.HTTP.MetricsAddr; addr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.MetricsHandler())
		msrv = &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
		go func() {
			if err := msrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http.metrics_addr: %w", err)
			}
		}()
	}
	select {
	case err := <-errc:
		if msrv != nil {
			_ = msrv.Close()
		}
		_ = srv.Close()
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.HTTP.ShutdownTimeout)
	defer cancel()
	if msrv != nil {
		_ = msrv.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	s.background.Wait() // each is bounded by a deadline of its own
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// recover turns a panic into a 500 and a log line.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.Log.Error("panic", "route", c.FullPath(), "panic", r)
			s.fail(c, fmt.Errorf("panic: %v", r))
			c.Abort()
		}
	}()
	c.Next()
}

// observe logs each request and records its metrics.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath() // a registered route's pattern, never the client's path
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	method := metrics.Method(c.Request.Method)
	s.Metrics.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	s.Metrics.HTTPDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	s.Log.Log(c, level, "http", "method", method, "route", route, "status", status, "took", time.Since(start))
}

// securityHeaders sets the headers every answer carries. Only the
// embeddable form (frameable) may be framed, by the origins of
// http.frame_ancestors; HSTS goes out whenever the service is reached over
// HTTPS, at a proxy (public_url https) or itself.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	ancestors := "'none'"
	if len(s.Config.HTTP.FrameAncestors) > 0 && frameable(c.Request) {
		ancestors = "'self'"
		for _, a := range s.Config.HTTP.FrameAncestors {
			ancestors += " " + a
		}
	} else {
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "+
		"worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors "+ancestors)
	if s.Config.HTTP.TLSCert != "" || c.Request.TLS != nil || strings.HasPrefix(s.Config.PublicURL, "https://") {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

// frameable reports whether r is for a page of the embeddable form: the
// form itself and the page it leads to.
func frameable(r *http.Request) bool {
	switch r.URL.Path {
	case "/embed":
		return true
	case "/submitted":
		return r.URL.Query().Get("embed") == "1"
	}
	return false
}
