package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// A requester withdraws an open request from the portal: the workflow
// closes it as withdrawn, tells staff, confirms by mail and erases the
// request's personal data like at any close.

// maxWithdrawReason bounds the requester's optional reason.
const maxWithdrawReason = 2000

func (s *Server) withdrawalRoutes() {
	s.engine.POST("/api/v1/portal/requests/:id/withdrawal", s.requirePortal(false), s.portalAPIWithdraw)
	s.engine.POST("/portal/requests/:id/withdrawal", s.requirePortal(true), s.portalWithdrawForm)
}

// withdraw withdraws one of the signed-in requester's requests (someone
// else's is ENOTFOUND) with an optional reason, as an action on its
// workflow: a closed request is ECONFLICT.
func (s *Server) withdraw(c *gin.Context, reason string) (actionAnswer, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxWithdrawReason {
		return actionAnswer{}, dsar.Invalid(map[string]string{"reason": fmt.Sprintf("must be at most %d characters", maxWithdrawReason)})
	}
	acc := portalAccount(c)
	pr, err := s.DB.PortalRequest(c.Request.Context(), acc.EmailHash, c.Param("id"))
	if err != nil {
		return actionAnswer{}, err
	}
	row, err := s.DB.Request(c.Request.Context(), pr.ID, "")
	if err != nil {
		return actionAnswer{}, err
	}
	// The reason, in the requester's words, is a message on the request:
	// sealed like every message, read by staff in the thread.
	var note func(string) error
	if reason != "" {
		note = s.requesterNote(c, row.ID, acc.ID, "I am withdrawing this request. My reason: "+reason)
	}
	var p workflows.Withdrawal
	return s.actOnWith(c, row, "portal:"+acc.ID, workflows.SignalWithdrawn, func(a workflows.Action) any { p.Action = a; return p }, note)
}

// portalAPIWithdraw is POST /api/v1/portal/requests/{id}/withdrawal
// {"reason"?}: 200 {status: "withdrawn"}, 409 once the request is closed.
func (s *Server) portalAPIWithdraw(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.withdraw(c, in.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAction(c, a)
}

// portalWithdrawForm withdraws from the request page's form and goes back
// to the request, which then shows it withdrawn.
func (s *Server) portalWithdrawForm(c *gin.Context) {
	if c.PostForm("confirm") == "" { // it cannot be undone: the page asks twice
		err := dsar.Invalid(map[string]string{"confirm": "tick the box to confirm that you want to withdraw the request"})
		s.renderRequestPage(c, statusOfErr(err), s.formOf(c, err), "")
		return
	}
	if _, err := s.withdraw(c, c.PostForm("reason")); err != nil {
		if dsar.ErrorCode(err) == dsar.ENOTFOUND {
			s.portalFail(c, err)
			return
		}
		s.renderRequestPage(c, statusOfErr(err), s.formOf(c, err), "")
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/requests/"+url.PathEscape(c.Param("id"))+"?sent=withdrawn")
}

// requesterNote is an action's note that records the requester's words as
// a message on the request (sealed like every message, read by staff in
// the thread) in the same step as the action.
func (s *Server) requesterNote(c *gin.Context, requestID, accountID, body string) func(string) error {
	return func(string) error {
		_, err := s.DB.AddMessage(c.Request.Context(), s.Keys, store.NewMessage{RequestID: requestID, Sender: store.SenderRequester,
			ActorID: accountID, Body: body})
		return err
	}
}
