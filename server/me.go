package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
)

// changeMyPassword is PUT /api/v1/me/password {"current_password",
// "new_password"}: the signed-in staff user changes their own password.
// 204, and every other session of theirs ends; 422 naming the field for a
// missing or wrong current password or a new one the rules refuse; 429
// when guesses at the current password spent the account's budget from
// this network (the login backoff: a stolen session guesses no faster
// than a login; the session stands in for the captcha).
func (s *Server) changeMyPassword(c *gin.Context) {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if in.CurrentPassword == "" {
		bad["current_password"] = "is required"
	}
	if why := dsar.ValidatePassword(in.NewPassword); why != "" {
		bad["new_password"] = why
	} else if in.NewPassword == in.CurrentPassword {
		bad["new_password"] = "must differ from the current password"
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	ctx := c.Request.Context()
	u := staffUser(c)
	keys := loginKeys{scope: rateScopeStaffLogin, account: s.Keys.BlindIndex(strings.ToLower(strings.TrimSpace(u.Email))), network: s.Keys.BlindIndex("network " + clientNetwork(c))}
	attempt, err := s.DB.TakeLoginAttempt(ctx, keys.scope, keys.account, keys.network, true, s.loginBudget())
	if err != nil {
		s.fail(c, err)
		return
	}
	if !attempt.Allowed {
		s.refuseLogin(c, attempt)
		return
	}
	if err := s.checkPassword(ctx, u.PasswordHash, in.CurrentPassword); err != nil {
		if errors.Is(err, errPasswordsBusy) {
			s.loginSucceeded(c, keys) // not checked (too busy): no failure to count
		} else {
			err = dsar.Invalid(map[string]string{"current_password": "is not your current password"})
		}
		s.fail(c, err)
		return
	}
	s.loginSucceeded(c, keys)
	phc, err := s.hashPassword(ctx, in.NewPassword)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.DB.SetStaffPassword(ctx, u.ID, phc, c.GetString(ctxStaffToken)); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
