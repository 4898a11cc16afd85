package server

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// Staff session cookies: the __Host- prefixed one over HTTPS (bound to this
// host, Secure, path /), the plain one over HTTP in development.
const (
	staffCookie       = "dsar_staff"
	staffCookieSecure = "__Host-dsar_staff"
)

// Context keys of the signed-in staff user and their session token.
const (
	ctxStaffUser  = "dsar.staff_user"
	ctxStaffToken = "dsar.staff_token"
)

// secure reports whether the request came over HTTPS, directly or as the
// configured public URL says.
func (s *Server) secure(c *gin.Context) bool {
	return c.Request.TLS != nil || s.Config.HTTP.TLSCert != "" || strings.HasPrefix(s.Config.PublicURL, "https://")
}

// staffToken is the session token the request carries: a Bearer token, or
// else the staff cookie. Empty if none.
func (s *Server) staffToken(c *gin.Context) string {
	if h := c.GetHeader("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	name := staffCookie
	if s.secure(c) {
		name = staffCookieSecure
	}
	v, err := c.Cookie(name)
	if err != nil {
		return ""
	}
	return v
}

// requireStaff lets through only requests with a valid staff session (a
// Bearer token, or the staff cookie), and puts the user in the context for
// staffUser. Anything else is 401.
func (s *Server) requireStaff() gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := s.staffToken(c)
		if raw == "" {
			s.failWith(c, http.StatusUnauthorized, dsar.EUNAUTHORIZED, "a staff session is required: sign in and send its token as a Bearer token", nil)
			return
		}
		sess, err := s.DB.Session(c, store.SessionStaff, raw, s.Config.Auth.SessionIdle)
		if err != nil {
			s.fail(c, err)
			return
		}
		u, err := s.DB.User(c, sess.SubjectID)
		if err != nil {
			if dsar.ErrorCode(err) == dsar.ENOTFOUND {
				err = dsar.Errorf(dsar.EUNAUTHORIZED, "the session is not valid; sign in again")
			}
			s.fail(c, err)
			return
		}
		c.Set(ctxStaffUser, u)
		c.Set(ctxStaffToken, raw)
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}

// staffUser is the signed-in staff user, set by requireStaff. It must only be
// called behind requireStaff.
func staffUser(c *gin.Context) store.User {
	u, _ := c.Get(ctxStaffUser)
	user, _ := u.(store.User)
	return user
}

// requireRoles lets through only staff users with one of roles, behind
// requireStaff; others get 403. (Object-level checks, such as a source
// owner's own tasks, answer 404 in the handlers instead.)
func (s *Server) requireRoles(roles ...dsar.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := staffUser(c)
		for _, r := range roles {
			if u.Role == r {
				c.Next()
				return
			}
		}
		s.failWith(c, http.StatusForbidden, dsar.EFORBIDDEN, "your role ("+string(u.Role)+") may not do this", nil)
	}
}
