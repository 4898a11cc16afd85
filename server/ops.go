package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/store"
)

// opsRoutes are the operations routes: health, readiness, metrics and the
// Temporal codec endpoints.
func (s *Server) opsRoutes() {
	r := s.engine
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	if s.Config.HTTP.MetricsAddr == "" {
		r.GET("/metrics", gin.WrapH(s.MetricsHandler()))
	}

	// The codec server protocol for the Temporal UI and CLI: decoding for
	// org owners, admins and operators (each call audited), encoding for
	// org owners and admins; bodies bounded. In dev mode on the public dev
	// key, the Temporal UI's origin decodes without a session (devCodecOpen).
	h := http.StripPrefix("/codec", codec.Handler(s.Keys))
	r.OPTIONS("/codec/:op", s.codecCORS)
	for _, path := range []string{"/codec/encode", "/codec/decode"} {
		decode := path == "/codec/decode"
		chain := []gin.HandlerFunc{s.codecCORS}
		for _, g := range s.guard(http.MethodPost, path) {
			if decode {
				g = s.unlessDevCodecOpen(g)
			}
			chain = append(chain, g)
		}
		r.POST(path, append(chain, s.codecBody(decode), gin.WrapH(h))...)
	}
}

// devCodecOpen reports whether a codec call may decode without a staff
// session: in dev mode, on the dev master key (which is public: whoever
// reads the source can decrypt the dev server's payloads anyway), from the
// Temporal UI's origin (temporal.ui_url), so that `make run` shows readable
// workflows with no setting to change. A production service never answers
// without a session: the mode and the key are both checked at start-up
// (config refuses the dev key outside dev mode).
func (s *Server) devCodecOpen(c *gin.Context) bool {
	return s.Config.Dev() && s.Config.Crypto.MasterKey == config.DevMasterKey &&
		s.Config.Temporal.UIURL != "" && c.GetHeader("Origin") == s.Config.Temporal.UIURL
}

// unlessDevCodecOpen runs guard g unless the call is open (devCodecOpen).
func (s *Server) unlessDevCodecOpen(g gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.devCodecOpen(c) {
			return
		}
		g(c)
	}
}

// MetricsHandler serves the Prometheus metrics: at /metrics of the server,
// or alone on http.metrics_addr when that is set.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})
}

// codecMaxBody bounds a codec request's body: Temporal refuses payloads
// over 2 MiB, and the UI sends one event's payloads at a time.
const codecMaxBody = 4 << 20

// codecCORS lets the Temporal UI's origin (temporal.ui_url), and no other,
// call the codec endpoint with the staff session's cookie.
func (s *Server) codecCORS(c *gin.Context) {
	if o := c.GetHeader("Origin"); o != "" && o == s.Config.Temporal.UIURL {
		c.Header("Access-Control-Allow-Origin", o)
		c.Header("Access-Control-Allow-Credentials", "true")
		c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
		c.Header("Access-Control-Allow-Methods", "POST, OPTIONS")
		c.Header("Vary", "Origin")
	}
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
	}
}

// codecBody reads a codec request's body (413 beyond codecMaxBody, 400 if
// it is not the protocol's JSON) and, for a decode, audits who read how
// many payloads of which namespace before anything is decoded.
func (s *Server) codecBody(audit bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, codecMaxBody))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			s.fail(c, dsar.Errorf(dsar.ETOOLARGE, "the body is larger than %d bytes", codecMaxBody))
			c.Abort()
			return
		case err != nil:
			s.fail(c, dsar.Errorf(dsar.EBADREQUEST, "the body could not be read"))
			c.Abort()
			return
		}
		var in struct {
			Payloads []json.RawMessage `json:"payloads"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			s.fail(c, &dsar.Error{Code: dsar.EBADREQUEST, Message: "the body must be {\"payloads\": [...]}",
				Fields: map[string]string{"payloads": "must be a list of payloads"}})
			c.Abort()
			return
		}
		if audit {
			ns := c.GetHeader("X-Namespace")
			if len(ns) > 255 {
				ns = ns[:255]
			}
			detail := map[string]any{"payloads": len(in.Payloads), "namespace": ns}
			var err error
			if s.devCodecOpen(c) {
				detail["dev_ui"] = true // no session: the Temporal UI in dev mode
				_, err = s.DB.AppendAudit(c.Request.Context(), store.Audit{ActorKind: store.ActorSystem,
					Action: dsar.AuditPayloadsDecoded, Detail: detail})
			} else {
				err = s.auditStaff(c, "", dsar.AuditPayloadsDecoded, detail)
			}
			if err != nil {
				s.fail(c, err)
				c.Abort()
				return
			}
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		c.Request.ContentLength = int64(len(body))
		c.Next()
	}
}

// readyz answers 200 when Postgres and Temporal both answer, else 503 with
// what is down.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c, 3*time.Second)
	defer cancel()
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	ready := true
	if err := s.DB.Ping(ctx); err != nil {
		checks["postgres"] = "unreachable"
		ready = false
	}
	if _, err := s.Temporal.CheckHealth(ctx, nil); err != nil {
		checks["temporal"] = "unreachable"
		ready = false
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"ready": ready, "checks": checks})
}
