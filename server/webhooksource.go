package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
)

// A webhook data source's own fields: the endpoint its jobs go to, and the
// secret they are signed with, which the service makes and shows once.

// maxWebhookURL bounds a webhook URL.
const maxWebhookURL = 2000

// checkWebhookURL checks a data source's webhook URL: absolute https with a
// host, no credentials in it, no fragment. In dev mode, http to the
// machine itself (127.0.0.1, ::1, localhost) is allowed too, for tests and
// a receiver on the developer's machine. "" (no endpoint) is valid.
func checkWebhookURL(raw string, dev bool) error {
	if raw == "" {
		return nil
	}
	bad := func(why string) error { return dsar.Invalid(map[string]string{"webhook_url": why}) }
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxWebhookURL:
		return bad("must be at most 2000 characters")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return bad("must be an absolute URL such as https://privacy.example.com/dsar-jobs")
	case u.User != nil:
		return bad("must not hold credentials: the job is signed with the data source's secret instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not have a fragment (#...)")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && dev && loopback(u.Hostname()):
		return nil
	case u.Scheme == "http" && dev:
		return bad("must use https (http only to 127.0.0.1, ::1 or localhost in dev mode)")
	}
	return bad("must use https")
}

// loopback reports whether host names the machine itself.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rotateWebhookSecret is POST /api/v1/data-sources/{id}/webhook-secret:
// a new secret for the source, shown this once: 200 {webhook_secret}.
// Jobs are signed with it from now on, and callbacks must be; the old one
// verifies nothing.
func (s *Server) rotateWebhookSecret(c *gin.Context) {
	id := c.Param("id")
	secret, err := s.DB.RotateWebhookSecret(c.Request.Context(), s.Keys, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	_ = s.auditStaff(c, "", dsar.AuditDataSourceUpdated, map[string]any{"data_source_id": id, "webhook_secret": "rotated"})
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"webhook_secret": secret})
}
