package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// legalHoldJSON is a request's legal hold as the API shows it.
type legalHoldJSON struct {
	On     bool       `json:"on"`
	Reason string     `json:"reason,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
}

// legalHoldOf is the legal hold of a projected request.
func legalHoldOf(row store.Request) legalHoldJSON {
	h := row.LegalHold()
	if !h.On {
		return legalHoldJSON{}
	}
	since := h.Since
	return legalHoldJSON{On: true, Reason: h.Reason, Since: &since}
}

// setLegalHold is POST /api/v1/requests/{id}/legal-hold {"on", "reason"}:
// an org owner or admin places a legal hold (a reason is required) or
// lifts it. It is an action on the request's workflow: while the hold is
// on, the erasure at close waits. 409 when the hold is already as asked,
// when the request's workflow has ended, or for a request opened before
// legal holds.
func (s *Server) setLegalHold(c *gin.Context) {
	var in struct {
		On     *bool  `json:"on"`
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Reason = strings.TrimSpace(in.Reason)
	bad := map[string]string{}
	switch {
	case in.On == nil:
		bad["on"] = "is required: true to place a legal hold, false to lift it"
	case *in.On && in.Reason == "":
		bad["reason"] = "a legal hold needs a reason"
	}
	if utf8.RuneCountInString(in.Reason) > maxNote {
		bad["reason"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.LegalHoldSet{On: *in.On, Reason: in.Reason, By: staffUser(c).ID}
	a, err := s.act(c, workflows.SignalLegalHold, func(act workflows.Action) any { p.Action = act; return p })
	if err != nil {
		s.fail(c, err)
		return
	}
	out := gin.H{"status": a.Status, "action_id": a.ID}
	if row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ""); err == nil {
		out["legal_hold"] = legalHoldOf(row)
	}
	code := http.StatusOK
	if a.Pending {
		code = http.StatusAccepted
	}
	c.JSON(code, out)
}
