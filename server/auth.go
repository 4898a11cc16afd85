package server

import (
	"errors"
	"net/http"
	"slices"
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
// staffUser. Anything else is 401, as is a session that still owes its
// second factor (store.MFATOTP, store.MFAEnrol) unless allow names what it
// owes.
func (s *Server) requireStaff(allow ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := s.staffToken(c)
		if raw == "" {
			s.failWith(c, http.StatusUnauthorized, dsar.EUNAUTHORIZED, "a staff session is required: sign in and send its token as a Bearer token", nil)
			return
		}
		sess, u, err := s.DB.StaffSession(c.Request.Context(), raw, s.Config.Auth.SessionIdle)
		if err != nil {
			s.fail(c, err)
			return
		}
		if sess.MFA != store.MFANone && !slices.Contains(allow, sess.MFA) {
			msg := "finish signing in: enter the code of your authenticator app"
			if sess.MFA == store.MFAEnrol {
				msg = "finish signing in: set up a second factor (an authenticator app) first"
			}
			s.failWith(c, http.StatusUnauthorized, dsar.EUNAUTHORIZED, msg, nil)
			return
		}
		c.Set(ctxStaffUser, u)
		c.Set(ctxStaffToken, raw)
		c.Set(ctxStaffMFA, sess.MFA)
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
		if u := staffUser(c); !slices.Contains(roles, u.Role) {
			s.failWith(c, http.StatusForbidden, dsar.EFORBIDDEN, "your role ("+string(u.Role)+") may not do this", nil)
			return
		}
		c.Next()
	}
}

// requireRolesOr404 is requireRoles for routes whose very existence is not
// for other roles: they get 404.
func (s *Server) requireRolesOr404(roles ...dsar.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !slices.Contains(roles, staffUser(c).Role) {
			s.fail(c, errNotFound)
			return
		}
		c.Next()
	}
}

// userJSON is what the API shows of a staff user.
type userJSON struct {
	ID       string    `json:"id"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Role     dsar.Role `json:"role"`
	Disabled bool      `json:"disabled"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.DisabledAt != nil}
}

// badLogin is the one answer to a wrong email or a wrong password.
var badLogin = dsar.Errorf(dsar.EUNAUTHORIZED, "wrong email or password")

// login is POST /api/v1/sessions: email and password (and, when the
// account asks for one, a solved captcha) for a session token (also set as
// an HttpOnly cookie for the pages). Attempts are limited per client
// network (perAddress, in this process, against floods) and by the backoff
// of the account from that network and of the account from every network
// (takeLogin, shared by every process through the database), so guesses
// from one network do not lock the owner out of another. Every attempt is
// audited, never with the password: a success by a row, failures through
// store.AuditLoginFailure, which bounds the rows a flood of them adds. A
// user with a second factor, or whom config requires to have one, gets a
// short partial session that owes it ("mfa": "totp" or "enrol" in the
// answer). With auth.password_login off it is 403.
func (s *Server) login(perAddress *Limiter) gin.HandlerFunc {
	limitedAudit := NewLimiter(1)
	return func(c *gin.Context) {
		if !s.Config.Auth.PasswordLogin {
			s.fail(c, dsar.Errorf(dsar.EFORBIDDEN, "password sign-in is turned off: sign in with single sign-on"))
			return
		}
		var in struct {
			Email    string `json:"email"`
			Password string `json:"password"`
			Captcha  string `json:"captcha"`
		}
		if err := bindJSON(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		bad := map[string]string{}
		if strings.TrimSpace(in.Email) == "" {
			bad["email"] = "is required"
		}
		if in.Password == "" {
			bad["password"] = "is required"
		}
		if len(bad) > 0 {
			s.fail(c, dsar.Invalid(bad))
			return
		}
		email := strings.ToLower(strings.TrimSpace(in.Email))
		audit := func(action string, userID string, detail map[string]any) {
			detail["address"] = c.ClientIP()
			if _, err := s.DB.AppendAudit(c.Request.Context(), store.Audit{ActorKind: store.ActorStaff, ActorID: userID, Action: action, Detail: detail}); err != nil {
				s.Log.Error("audit login", "err", err)
			}
		}
		failed := func(userID, reason string) {
			f := store.LoginFailure{UserID: userID, Account: s.Keys.BlindIndex(email), Address: c.ClientIP(), Reason: reason}
			if err := s.DB.AuditLoginFailure(c.Request.Context(), f); err != nil {
				s.Log.Error("audit failed login", "err", err)
			}
		}
		// Refusals are counted once a minute per network and account, so
		// a flood costs the database little.
		auditRefused := func() {
			if ok, _ := limitedAudit.Allow(clientNetwork(c) + " " + email); ok {
				failed("", "rate_limited")
			}
		}
		if ok, wait := perAddress.Allow(clientNetwork(c)); !ok {
			auditRefused()
			tooMany(c, wait)
			return
		}
		keys, attempt, err := s.takeLogin(c, rateScopeStaffLogin, email, in.Captcha)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !attempt.Allowed {
			auditRefused()
			s.refuseLogin(c, attempt)
			return
		}
		u, err := s.DB.UserByEmail(c.Request.Context(), email)
		switch {
		case dsar.ErrorCode(err) == dsar.ENOTFOUND || (err == nil && u.PasswordHash == ""):
			// No such user, or one made by single sign-on, without a password.
			if err := s.dummyPasswordCheck(c.Request.Context(), in.Password); err != nil {
				s.loginSucceeded(c, keys) // not checked (too busy): no failure to count
				s.fail(c, err)
				return
			}
			failed("", "unknown_account")
			s.fail(c, badLogin)
			return
		case err != nil:
			s.fail(c, err)
			return
		}
		if err := s.checkPassword(c.Request.Context(), u.PasswordHash, in.Password); err != nil {
			if errors.Is(err, errPasswordsBusy) {
				s.loginSucceeded(c, keys) // not checked (too busy): no failure to count
				s.fail(c, err)
				return
			}
			failed(u.ID, "wrong_password")
			s.fail(c, badLogin)
			return
		}
		s.loginSucceeded(c, keys)
		if u.DisabledAt != nil {
			failed(u.ID, "disabled")
			s.fail(c, badLogin)
			return
		}
		mfa, err := s.mfaOwed(c, u)
		if err != nil {
			s.fail(c, err)
			return
		}
		token, err := s.startStaffSession(c, u, mfa)
		if err != nil {
			s.fail(c, err)
			return
		}
		ttl := s.Config.Auth.SessionAbsolute
		if mfa == store.MFANone {
			audit(dsar.AuditStaffLogin, u.ID, map[string]any{})
		} else {
			ttl = min(ttl, mfaSessionTTL)
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusCreated, sessionAnswer(token, u, mfa, ttl))
	}
}

// setStaffCookie sets (or, with maxAge < 0, clears) the staff session cookie.
func (s *Server) setStaffCookie(c *gin.Context, token string, maxAge int) {
	name := staffCookie
	if s.secure(c) {
		name = staffCookieSecure
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
}

// logout is DELETE /api/v1/sessions/current: the session ends at once.
func (s *Server) logout(c *gin.Context) {
	raw := c.GetString(ctxStaffToken)
	if err := s.DB.RevokeSession(c.Request.Context(), raw); err != nil {
		s.fail(c, err)
		return
	}
	u := staffUser(c)
	if _, err := s.DB.AppendAudit(c.Request.Context(), store.Audit{ActorKind: store.ActorStaff, ActorID: u.ID, Action: dsar.AuditStaffLogout,
		Detail: map[string]any{}}); err != nil {
		s.Log.Error("audit logout", "err", err)
	}
	s.setStaffCookie(c, "", -1)
	c.Status(http.StatusNoContent)
}

// currentSession is GET /api/v1/sessions/current: who is signed in, what
// the session still owes ("mfa", if anything) and the state of their
// second factor.
func (s *Server) currentSession(c *gin.Context) {
	u := staffUser(c)
	out := gin.H{"user": toUserJSON(u)}
	if mfa := c.GetString(ctxStaffMFA); mfa != store.MFANone {
		out["mfa"] = mfa
	}
	sf := gin.H{"enrolled": false, "required": s.Config.MFARequiredFor(u.Role)}
	t, err := s.DB.StaffTOTP(c.Request.Context(), u.ID)
	if err != nil && dsar.ErrorCode(err) != dsar.ENOTFOUND {
		s.fail(c, err)
		return
	}
	if err == nil && t.ConfirmedAt != nil {
		left, err := s.DB.RecoveryCodesLeft(c.Request.Context(), u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		sf["enrolled"], sf["recovery_codes_left"] = true, left
	}
	out["second_factor"] = sf
	c.JSON(http.StatusOK, out)
}
