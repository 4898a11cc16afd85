package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opendsar/dsar/codec"
)

// opsRoutes are the operations routes: health, readiness, metrics and the
// Temporal codec endpoints.
func (s *Server) opsRoutes() {
	r := s.engine
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})))

	// The codec server protocol for the Temporal UI and CLI, staff only.
	h := http.StripPrefix("/codec", codec.Handler(s.Keys))
	codecCORS := func(c *gin.Context) {
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
	r.OPTIONS("/codec/:op", codecCORS)
	r.POST("/codec/encode", codecCORS, s.requireStaff(), gin.WrapH(h))
	r.POST("/codec/decode", codecCORS, s.requireStaff(), gin.WrapH(h))
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
