package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/workflows"
)

// The staff actions on an automated task, answered exactly like every
// action (200 applied, 202 pending, 409 with the current state): the
// request's workflow forwards them to the source's child workflow. Roles
// as a task's completion: a source owner only on tasks of sources they own
// or given to them (else 404).

// retryAutomation is POST /api/v1/requests/{id}/tasks/{data_source_id}/automation/retry:
// run the step that needs attention again (after fixing its cause).
func (s *Server) retryAutomation(c *gin.Context) {
	var in struct{}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	source, err := s.taskSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.AutomationRetry{DataSourceID: source, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalAutomationRetry, func(a workflows.Action) any { p.Action = a; return p })
}

// manualAutomation is POST /api/v1/requests/{id}/tasks/{data_source_id}/automation/manual
// {"reason"}: the system stops; the task is its owners' to do.
func (s *Server) manualAutomation(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if strings.TrimSpace(in.Reason) == "" {
		bad["reason"] = "say why the task is switched to manual"
	}
	if utf8.RuneCountInString(in.Reason) > maxNote {
		bad["reason"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	source, err := s.taskSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.ManualSwitch{DataSourceID: source, Reason: strings.TrimSpace(in.Reason), By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalAutomationManual, func(a workflows.Action) any { p.Action = a; return p })
}

// approveAutomation is POST /api/v1/requests/{id}/tasks/{data_source_id}/automation/approval
// {"approved", "note"}: a dry run's erasure, of the rows it matched, is
// approved (the system erases) or not (the task becomes manual).
func (s *Server) approveAutomation(c *gin.Context) {
	var in struct {
		Approved *bool  `json:"approved"`
		Note     string `json:"note"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if in.Approved == nil {
		bad["approved"] = "say true (erase) or false (switch to manual)"
	}
	checkNote(bad, in.Note)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	source, err := s.taskSource(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.DryRunDecision{DataSourceID: source, Approved: *in.Approved, Note: in.Note, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalAutomationApproval, func(a workflows.Action) any { p.Action = a; return p })
}
