package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// Tasks that do not end as done: declined by their owner (back to the
// request's handler) and given to one person.

// declineTask is POST /api/v1/requests/{id}/tasks/{data_source_id}/decline
// {"reason"}: the owner cannot do the task and says why; it goes back to
// the request's handler. Like completion, a source owner declines only
// the tasks they may work on (anyone else's is 404).
func (s *Server) declineTask(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Reason = strings.TrimSpace(in.Reason)
	switch n := utf8.RuneCountInString(in.Reason); {
	case n == 0:
		s.fail(c, dsar.Invalid(map[string]string{"reason": "say why the task is declined"}))
		return
	case n > maxNote:
		s.fail(c, dsar.Invalid(map[string]string{"reason": fmt.Sprintf("must be at most %d characters", maxNote)}))
		return
	}
	source, err := s.taskSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.TaskDecline{DataSourceID: source, Reason: in.Reason, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalTaskDeclined, func(a workflows.Action) any { p.Action = a; return p })
}

// reassignTask is POST /api/v1/requests/{id}/tasks/{data_source_id}/assignee
// {"user_id"}: the task is given to one active staff member (open again if
// it was declined); they see it among their tasks and get its alerts.
func (s *Server) reassignTask(c *gin.Context) {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	u, err := uuid.Parse(in.UserID)
	if err != nil {
		s.fail(c, dsar.Invalid(map[string]string{"user_id": "name a staff member by id"}))
		return
	}
	user, err := s.DB.User(c.Request.Context(), u.String())
	switch {
	case dsar.ErrorCode(err) == dsar.ENOTFOUND:
		s.fail(c, dsar.Invalid(map[string]string{"user_id": "no staff member with this id"}))
		return
	case err != nil:
		s.fail(c, err)
		return
	case user.DisabledAt != nil:
		s.fail(c, dsar.Invalid(map[string]string{"user_id": "this staff member is disabled"}))
		return
	case !user.Role.WorksRequests():
		s.fail(c, dsar.Invalid(map[string]string{"user_id": "an operator works no task"}))
		return
	}
	source, err := s.taskSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.TaskReassignment{DataSourceID: source, UserID: user.ID, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalTaskReassigned, func(a workflows.Action) any { p.Action = a; return p })
}
