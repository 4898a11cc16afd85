package server

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
)

// listUsers is GET /api/v1/users: every staff user, by name.
func (s *Server) listUsers(c *gin.Context) {
	us, err := s.DB.Users(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	items := make([]userJSON, len(us))
	for i, u := range us {
		items[i] = toUserJSON(u)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// createUser is POST /api/v1/users (org owners): a new staff user.
func (s *Server) createUser(c *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	if err := dsar.ValidateNewUser(in.Email, in.Name, in.Role, in.Password); err != nil {
		s.fail(c, err)
		return
	}
	phc, err := s.hashPassword(c.Request.Context(), in.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	u, err := s.DB.CreateUser(c.Request.Context(), store.User{Email: in.Email, Name: strings.TrimSpace(in.Name), Role: dsar.Role(in.Role),
		PasswordHash: phc})
	if err != nil {
		s.fail(c, err)
		return
	}
	_ = s.auditStaff(c, "", dsar.AuditUserCreated, map[string]any{"user_id": u.ID, "role": u.Role})
	c.JSON(http.StatusCreated, toUserJSON(u))
}

// updateUser is PATCH /api/v1/users/{id} (org owners): a new name, role or
// password, or disabling the account (which ends its sessions). An org
// owner cannot demote or disable themselves, so one always remains. The
// answer warns of each data source a disabled user leaves without an
// active owner.
func (s *Server) updateUser(c *gin.Context) {
	var in struct {
		Name     *string `json:"name"`
		Role     *string `json:"role"`
		Password *string `json:"password"`
		Disabled *bool   `json:"disabled"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	u, err := s.DB.User(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	p := store.UserPatch{Name: in.Name, Disabled: in.Disabled}
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if l := utf8.RuneCountInString(n); l < 1 || l > 200 {
			bad["name"] = "must be 1 to 200 characters"
		}
		p.Name = &n
	}
	if in.Role != nil {
		r := dsar.Role(*in.Role)
		if !r.Valid() {
			bad["role"] = "must be org_owner, admin, manager, source_owner or operator"
		}
		p.Role = &r
	}
	if in.Password != nil {
		if why := dsar.ValidatePassword(*in.Password); why != "" {
			bad["password"] = why
		}
	}
	me := staffUser(c)
	if u.ID == me.ID {
		if in.Role != nil && dsar.Role(*in.Role) != me.Role {
			bad["role"] = "you cannot change your own role"
		}
		if in.Disabled != nil && *in.Disabled {
			bad["disabled"] = "you cannot disable yourself"
		}
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	if in.Password != nil {
		h, err := s.hashPassword(c.Request.Context(), *in.Password)
		if err != nil {
			s.fail(c, err)
			return
		}
		p.PasswordHash = &h
	}
	u, err = s.DB.UpdateUser(c.Request.Context(), u.ID, p)
	if err != nil {
		s.fail(c, err)
		return
	}
	if (in.Disabled != nil && *in.Disabled) || in.Password != nil || in.Role != nil {
		if err := s.DB.RevokeSessions(c.Request.Context(), store.SessionStaff, u.ID); err != nil {
			s.fail(c, err)
			return
		}
	}
	detail := map[string]any{"user_id": u.ID}
	if in.Role != nil {
		detail["role"] = *in.Role
	}
	if in.Disabled != nil {
		detail["disabled"] = *in.Disabled
	}
	if in.Password != nil {
		detail["password_changed"] = true
	}
	_ = s.auditStaff(c, "", dsar.AuditUserUpdated, detail)
	warnings := []warning{}
	if u.DisabledAt != nil {
		unowned, err := s.DB.UnownedDataSources(c.Request.Context(), u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		warnings = unownedWarnings(unowned)
	}
	c.JSON(http.StatusOK, userAnswer{userJSON: toUserJSON(u), Warnings: warnings})
}

// userAnswer is PATCH /api/v1/users/{id}'s answer: the user, and a warning
// for each data source that disabling them left without an active owner.
type userAnswer struct {
	userJSON
	Warnings []warning `json:"warnings"`
}

// auditStaff appends an event done by the signed-in staff user, on a
// request (or none). A failure is logged and returned: reads of PII must not
// go unaudited, so their handlers fail with it.
func (s *Server) auditStaff(c *gin.Context, requestID, action string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := s.DB.AppendAudit(c.Request.Context(), store.Audit{RequestID: requestID, ActorKind: store.ActorStaff,
		ActorID: staffUser(c).ID, Action: action, Detail: detail})
	if err != nil {
		s.Log.Error("audit", "action", action, "request", requestID, "err", err)
	}
	return err
}
