package server

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// correctEmail is PUT /api/v1/requests/{id}/email {"email"}: staff correct
// an address mistyped at intake, while it is still unconfirmed: the request
// waits for it, or is an opt-out accepted at submission (409 otherwise).
// The corrected address is staged sealed; the workflow applies it when it
// takes the action, voids the old links and mails the new address a new
// one (with the notice that an accepted opt-out is acted on).
func (s *Server) correctEmail(c *gin.Context) {
	var in struct {
		Email string `json:"email"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Email = strings.TrimSpace(in.Email)
	if len(in.Email) > maxEmailLen || !validEmail(in.Email) {
		s.fail(c, dsar.Invalid(map[string]string{"email": "enter an email address like name@example.com"}))
		return
	}
	me := staffUser(c)
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(me))
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.EmailCorrection{By: me.ID}
	// Staged once the action is known to be new and allowed, under its id:
	// the workflow applies this correction only (a later one replaces it).
	stage := func(actionID string) error {
		return s.DB.StageEmailCorrection(c.Request.Context(), s.Keys, row.ID, in.Email, actionID)
	}
	a, err := s.actOnWith(c, row, me.ID, workflows.SignalEmailCorrected, func(act workflows.Action) any { p.Action = act; return p }, stage)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAction(c, a)
}
