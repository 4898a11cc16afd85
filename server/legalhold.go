package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

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
// lifts it. While the request's workflow runs it is an action on it, with
// its exact answer: while the hold is on, the erasure at close waits.
// Once the workflow has ended (the request erased), the hold is written
// directly (setEndedLegalHold), and keeps what the retention sweep would
// delete. 409 when the hold is already as asked, or for a request opened
// before legal holds whose workflow still runs.
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
	me := staffUser(c)
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(me))
	if err != nil {
		s.fail(c, err)
		return
	}
	p := workflows.LegalHoldSet{On: *in.On, Reason: in.Reason, By: me.ID}
	a, err := s.actOn(c, row, me.ID, workflows.SignalLegalHold, func(act workflows.Action) any { p.Action = act; return p })
	if s.endedFirst(c.Request.Context(), row.ID, p.Action.ID, a, err) {
		a, err = s.setEndedLegalHold(c.Request.Context(), row.ID, p)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	out := gin.H{"status": a.Status, "action_id": a.ID}
	if row, err := s.DB.Request(c.Request.Context(), row.ID, ""); err == nil {
		out["legal_hold"] = legalHoldOf(row)
	}
	code := http.StatusOK
	if a.Pending {
		code = http.StatusAccepted
	}
	c.JSON(code, out)
}

// endedFirst reports whether the hold's action actionID on request
// requestID lost a race with the end of the request's workflow, which
// then never applies it: the signal found the workflow ended; or the
// workflow refused the action without a reason of its own, as it does
// with every action still queued when it ends, and has ended by the
// action's budget; or no answer came and the workflow has ended since.
// The hold is then written directly, and no late write of the workflow
// can undo it (there is none after its end).
func (s *Server) endedFirst(ctx context.Context, requestID, actionID string, a actionAnswer, err error) bool {
	switch {
	case actionID == "": // answered before any signal (a repeated Idempotency-Key)
		return false
	case errors.Is(err, errEnded):
		return true
	case err == nil:
		return a.Pending && s.workflowEnded(ctx, requestID, 0)
	case dsar.ErrorCode(err) != dsar.ECONFLICT:
		return false
	}
	o, done, oerr := s.DB.ActionOutcome(ctx, requestID, actionID)
	if oerr != nil || !done || o.Applied || o.Code != "" {
		return false // refused before the signal, or by the workflow for a reason of its own
	}
	return s.workflowEnded(ctx, requestID, s.actionBudget)
}

// workflowEnded reports whether the request's workflow is no longer
// running (ended, or gone from Temporal), waiting up to wait for it to
// end. A Temporal that cannot be asked counts as running.
func (s *Server) workflowEnded(ctx context.Context, requestID string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(requestID), "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return true
		case err != nil:
			s.Log.Warn("cannot tell whether the request's workflow has ended", "id", requestID, "err", err)
			return false
		case d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			return true
		case !time.Now().Before(deadline):
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(endPoll):
		}
	}
}

// endPoll is how often workflowEnded asks Temporal while it waits.
const endPoll = 50 * time.Millisecond

// setEndedLegalHold places or lifts the hold p on a request whose workflow
// has ended: in Postgres, with the timeline entry, the audit event and the
// action's outcome the workflow would have recorded (an Idempotency-Key
// repeated answers the same).
func (s *Server) setEndedLegalHold(ctx context.Context, requestID string, p workflows.LegalHoldSet) (actionAnswer, error) {
	o := store.ActionOutcome{ActionID: p.Action.ID, Signal: workflows.SignalLegalHold, ActedAt: p.Action.At}
	o, err := s.DB.SetEndedLegalHold(ctx, requestID, o, func(cur store.LegalHold) (store.LegalHoldChange, error) {
		return workflows.EndedLegalHold(p, cur)
	})
	if err != nil {
		return actionAnswer{}, err
	}
	return actionAnswer{ID: o.ActionID, Outcome: o, Status: o.Status}, nil
}
