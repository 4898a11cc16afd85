package server

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// pauseClock is POST /api/v1/requests/{id}/pause: staff stop the request's clock
// while they wait for the requester's identity or a clarification (reason
// identity or clarification, with an optional note), where the request's
// rule allows it; 409 where it does not, or the clock is already stopped.
func (s *Server) pauseClock(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
		Note   string `json:"note"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Reason, in.Note = strings.TrimSpace(in.Reason), strings.TrimSpace(in.Note)
	bad := map[string]string{}
	if !slices.Contains(workflows.PauseReasons, in.Reason) {
		bad["reason"] = "must be one of " + strings.Join(workflows.PauseReasons, ", ")
	}
	if utf8.RuneCountInString(in.Note) > maxNote {
		bad["note"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.ClockPause{Reason: in.Reason, Note: in.Note, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalClockPaused, func(a workflows.Action) any { p.Action = a; return p })
}

// resumeClock is POST /api/v1/requests/{id}/resume: the clock runs again and the
// deadline moves on by the days it was stopped; 409 when it is not stopped.
func (s *Server) resumeClock(c *gin.Context) {
	if err := bindOptionalJSON(c, &struct{}{}); err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.ClockResume{By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalClockResumed, func(a workflows.Action) any { p.Action = a; return p })
}
