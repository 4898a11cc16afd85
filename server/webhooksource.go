package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// A webhook data source's own fields: the endpoint its jobs go to, and the
// secret they are signed with, which the service makes and shows once.

// maxWebhookURL bounds a webhook URL.
const maxWebhookURL = 2000

// webhookURLProblem says what is wrong with a data source's webhook URL,
// or "": it must be absolute https with a host, no credentials in it, no
// fragment. In dev mode, http to the machine itself (127.0.0.1, ::1,
// localhost) is allowed too, for tests and a receiver on the developer's
// machine. "" (no endpoint) is fine.
func webhookURLProblem(raw string, dev bool) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxWebhookURL:
		return "must be at most 2000 characters"
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return "must be an absolute URL such as https://privacy.example.com/dsar-jobs"
	case u.User != nil:
		return "must not hold credentials: the job is signed with the data source's secret instead"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment (#...)"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && dev && loopback(u.Hostname()):
		return ""
	case u.Scheme == "http" && dev:
		return "must use https (http only to 127.0.0.1, ::1 or localhost in dev mode)"
	}
	return "must use https"
}

// loopback reports whether host names the machine itself.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// webhookURLKept refuses a change that would leave a webhook source
// without a webhook URL (422 naming webhook_url).
func (s *Server) webhookURLKept(c *gin.Context, in dataSourceInput) error {
	if in.Mode == nil && in.WebhookURL == nil {
		return nil
	}
	d, err := s.DB.DataSource(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	mode, u := d.Mode, d.WebhookURL
	if in.Mode != nil {
		mode = *in.Mode
	}
	if in.WebhookURL != nil {
		u = *in.WebhookURL
	}
	if mode == dsar.SourceWebhook && u == "" {
		return dsar.Invalid(map[string]string{"webhook_url": "is required for mode webhook: where the service posts its jobs (https)"})
	}
	return nil
}

// webhookSecret makes the webhook secret of a source that has just been
// given a webhook URL (and has none), and returns it to be shown this
// once; "" when none was made. Should it fail, the source is stored
// without a secret, which POST /api/v1/data-sources/{id}/webhook-secret
// makes (its jobs wait in "needs attention" until then).
func (s *Server) webhookSecret(c *gin.Context, d *store.DataSource) (string, error) {
	if d.WebhookURL == "" || d.WebhookSecretSet {
		return "", nil
	}
	secret, err := s.DB.EnsureWebhookSecret(c.Request.Context(), s.Keys, d.ID)
	if err != nil {
		return "", err
	}
	d.WebhookSecretSet = d.WebhookSecretSet || secret != ""
	return secret, nil
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
