package server

import (
	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar/workflows"
)

// resendClosingMail is POST /api/v1/requests/{id}/closing-mail: send the
// completion, rejection or withdrawal mail again after it failed for good,
// while the request still holds the address (409 otherwise: it did not
// fail, or the address is erased).
func (s *Server) resendClosingMail(c *gin.Context) {
	if err := bindOptionalJSON(c, &struct{}{}); err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.MailResend{By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalMailResent, func(a workflows.Action) any { p.Action = a; return p })
}
