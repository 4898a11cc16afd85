package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// Bounds of the staff actions' inputs and waits.
const (
	maxNote          = 5000
	maxAssignSources = 50
	maxExtensionDays = 366
	signalTimeout    = 10 * time.Second // signalling the workflow
	// actionBudget is how long an action waits for its workflow's answer:
	// about a workflow task and a projection write when a worker runs. An
	// action not answered by then is answered 202 (it is kept and applied
	// when a worker takes it).
	actionBudget = 5 * time.Second
)

// errEnded marks signalAndAwait's ECONFLICT for a workflow that is no
// longer running (the signal found none).
var errEnded = errors.New(" (the workflow has ended)")

// actionAnswer is what became of a staff action: the workflow's outcome,
// or, while none is recorded (no worker took it yet), Pending with the
// request's current status.
type actionAnswer struct {
	ID      string
	Pending bool
	Outcome store.ActionOutcome // Applied; a refusal is act's error instead
	Status  dsar.Status
}

// act takes a staff action on the request of the route's id: 404 for a
// request the caller cannot see, the recorded answer at once for an
// Idempotency-Key used before, 409 naming the current status when the
// projected state does not allow it (422 for a bad payload). Otherwise it
// signals the workflow with payload(action), action naming this action, and
// waits up to the budget for the workflow's outcome: applied, refused (the
// refusal is the error: a race lost between the check and the signal), or
// none yet (Pending: the signal is kept and applies once a worker runs).
func (s *Server) act(c *gin.Context, signal string, payload func(workflows.Action) any) (actionAnswer, error) {
	me := staffUser(c)
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(me))
	if err != nil {
		return actionAnswer{}, err
	}
	return s.actOn(c, row, me.ID, signal, payload)
}

// actOn is act on request row, taken by actor (a staff user id, or the
// requester's portal account scoped as "portal:" + its id): the scope of
// the Idempotency-Key.
func (s *Server) actOn(c *gin.Context, row store.Request, actor, signal string, payload func(workflows.Action) any) (actionAnswer, error) {
	return s.actOnWith(c, row, actor, signal, payload, nil)
}

// actOnWith is actOn with a step before the signal: before, when not nil,
// runs once the action is known to be new and allowed by the projection,
// with the action's id (a failure answers the action and signals
// nothing). The workflow may still refuse the action after it.
func (s *Server) actOnWith(c *gin.Context, row store.Request, actor, signal string, payload func(workflows.Action) any,
	before func(actionID string) error) (actionAnswer, error) {
	ctx := c.Request.Context()
	id, err := actionID(c, actor)
	if err != nil {
		return actionAnswer{}, err
	}
	if o, done, err := s.DB.ActionOutcome(ctx, row.ID, id); err != nil || done {
		if err == nil && o.Signal != signal {
			return actionAnswer{}, dsar.Invalid(map[string]string{"idempotency_key": "was used for another action on this request"})
		}
		return answerOf(o, err)
	}
	tasks, err := s.DB.RequestTasks(ctx, row.ID, "")
	if err != nil {
		return actionAnswer{}, err
	}
	st := projectedState(row, tasks)
	if row.PackageRequired {
		pkg, err := s.DB.Package(ctx, row.ID)
		switch {
		case err == nil:
			st.Package = &workflows.PackageState{ID: pkg.ID, Status: pkg.Status, FileIDs: pkg.FileIDs}
		case dsar.ErrorCode(err) != dsar.ENOTFOUND:
			return actionAnswer{}, err
		}
	}
	if row.AppealUntil != nil {
		st.AppealUntil = row.AppealUntil
		switch ap, err := s.DB.AppealOfRequest(ctx, row.ID); {
		case err == nil:
			st.Appeal = &workflows.AppealState{ID: ap.ID, Status: ap.Status, FiledAt: ap.FiledAt, Deadline: ap.Deadline}
		case dsar.ErrorCode(err) != dsar.ENOTFOUND:
			return actionAnswer{}, err
		}
	}
	p := payload(workflows.Action{ID: id, At: time.Now().UTC(), RequestID: row.ID})
	if err := st.Allows(signal, p); err != nil {
		return actionAnswer{}, err
	}
	if before != nil {
		if err := before(id); err != nil {
			return actionAnswer{}, err
		}
	}
	return s.signalAndAwait(c, row, workflows.WorkflowID(row.ID), "the request has just been closed", id, signal, p)
}

// signalAndAwait sends action id's signal with payload p to workflow wid
// (the request row's, or its appeal's) and waits up to the budget for the
// outcome the workflow records for the request: applied, refused (the
// error), or none yet (Pending, with the request's current status). A
// workflow that is no longer running is ECONFLICT saying ended (wrapping
// errEnded).
func (s *Server) signalAndAwait(c *gin.Context, row store.Request, wid, ended, id, signal string, p any) (actionAnswer, error) {
	ctx := c.Request.Context()
	sctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	if err := s.Temporal.SignalWorkflow(sctx, wid, "", signal, p); err != nil {
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return actionAnswer{}, fmt.Errorf("%w%w", dsar.Errorf(dsar.ECONFLICT, "%s", ended), errEnded)
		case sctx.Err() != nil:
			return actionAnswer{}, dsar.Errorf(dsar.EUNAVAILABLE, "the request's workflow could not be reached in time; try again")
		}
		return actionAnswer{}, fmt.Errorf("server: signal %s to %s: %w", signal, wid, err)
	}
	wctx, cancel := context.WithTimeout(ctx, s.actionBudget)
	defer cancel()
	o, done, err := s.DB.AwaitAction(wctx, row.ID, id)
	if err != nil || done {
		return answerOf(o, err)
	}
	if deaf := s.DB.ActionsHeard(); deaf != nil {
		s.Log.Warn("action answered 202 without hearing outcomes", "id", row.ID, "err", deaf)
	}
	if now, err := s.DB.Request(ctx, row.ID, ""); err == nil {
		row = now
	}
	return actionAnswer{ID: id, Pending: true, Status: row.Status}, nil
}

// answerOf is the answer to an action with a recorded outcome: applied, or
// the refusal as an error (ECONFLICT naming the current status).
func answerOf(o store.ActionOutcome, err error) (actionAnswer, error) {
	switch {
	case err != nil:
		return actionAnswer{}, err
	case o.Applied:
		return actionAnswer{ID: o.ActionID, Outcome: o, Status: o.Status}, nil
	}
	code, msg := o.Code, o.Reason
	if code == "" { // refused without a reason: the state did not allow it
		code, msg = dsar.ECONFLICT, "the request no longer allows this action"
	}
	if code == dsar.ECONFLICT && !strings.Contains(msg, string(o.Status)) {
		msg += fmt.Sprintf(" (the request is %s)", o.Status)
	}
	if _, known := statusOf[code]; !known {
		return actionAnswer{}, fmt.Errorf("server: action %s refused with code %q: %s", o.ActionID, code, o.Reason)
	}
	return actionAnswer{}, &dsar.Error{Code: code, Message: msg}
}

// answerAction answers an action act took: 200 with the status it left the
// request in (and the deadline, after an extension), or 202 with the
// current status while no worker has taken it.
func (s *Server) answerAction(c *gin.Context, a actionAnswer) {
	if a.Pending {
		c.JSON(http.StatusAccepted, gin.H{"status": a.Status, "action_id": a.ID})
		return
	}
	out := gin.H{"status": a.Status, "action_id": a.ID}
	if a.Outcome.Signal == workflows.SignalDeadlineExtended {
		if a.Outcome.Deadline != nil {
			out["deadline"] = *a.Outcome.Deadline
		} else if row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ""); err == nil {
			out["deadline"] = row.Deadline
		}
	}
	c.JSON(http.StatusOK, out)
}

// takeAction is act and its answer, for the actions with nothing more to
// do.
func (s *Server) takeAction(c *gin.Context, signal string, payload func(workflows.Action) any) {
	a, err := s.act(c, signal, payload)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.answerAction(c, a)
}

// actionID names a staff action: from its Idempotency-Key, scoped to the
// caller (so a repeat finds the first answer, and two people's keys never
// meet), or new.
func actionID(c *gin.Context, userID string) (string, error) {
	key := c.GetHeader("Idempotency-Key")
	switch {
	case key == "":
		return uuid.NewString(), nil
	case len(key) > maxIdemKeyLen:
		return "", dsar.Invalid(map[string]string{"idempotency_key": fmt.Sprintf("must be at most %d characters", maxIdemKeyLen)})
	}
	sum := sha256.Sum256([]byte(userID + "\x00" + key))
	return hex.EncodeToString(sum[:]), nil
}

// projectedState is as much of a request's workflow state as State.Allows
// reads, from the projection: status, deadlines, the rule's extension limit
// and the tasks.
func projectedState(row store.Request, tasks []store.Task) workflows.State {
	st := workflows.State{RequestID: row.ID, Status: row.Status, SubmittedAt: row.SubmittedAt, Deadline: row.Deadline,
		OriginalDeadline: row.OriginalDeadline, DeadlineRule: row.DeadlineRule, Extended: row.ExtendedAt != nil,
		ExtensionDays: row.ExtensionDays, Overdue: row.Overdue, ClosingMailFailed: row.ClosingMailFailed,
		RequestType: row.RequestType, PackageRequired: row.PackageRequired,
		ExtensionNoticeBy: row.ExtensionNoticeBy, PauseAllowed: row.PauseAllowed,
		EmailVerifiedAt: row.EmailVerifiedAt, IdentityNotRequired: row.IdentityNotRequired}
	if row.AcceptedUnconfirmed() {
		// An opt-out accepted at submission (its address may be corrected):
		// the row keeps no time of the acceptance, which came with the
		// submission, and Allows reads only that there was one.
		at := row.SubmittedAt
		st.OptOutAcceptedAt = &at
	}
	if h := row.LegalHold(); h.On {
		st.LegalHold = &h
	}
	if p := row.Paused; p != nil {
		st.Paused = &workflows.Pause{Since: p.Since, Reason: p.Reason, By: p.By}
	}
	st.MaxExtension, _ = dsar.ParsePeriod(row.MaxExtension) // unreadable: no extension allowed
	for _, t := range tasks {
		ts := workflows.TaskState{DataSourceID: t.DataSourceID, Status: t.Status, AssignedAt: t.AssignedAt,
			LastActivityAt: t.LastActivityAt, CompletedAt: t.CompletedAt, Note: t.Note, Outcome: dsar.TaskOutcome(t.Outcome),
			RecordCount: t.RecordCount, DeclineReason: t.DeclineReason, Mode: dsar.SourceMode(t.Mode), Automation: t.Automation}
		if t.Mode == string(dsar.SourceManual) {
			ts.Mode = ""
		}
		if t.AssigneeID != nil {
			ts.AssigneeID = *t.AssigneeID
		}
		st.Tasks = append(st.Tasks, ts)
	}
	return st
}

// bindOptionalJSON is bindJSON for bodies that may be left out entirely.
func bindOptionalJSON(c *gin.Context, v any) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	return bindJSON(c, v)
}

// optionalNote reads a body that may be left out or hold {"note"}.
// EINVALID for a note too long.
func optionalNote(c *gin.Context) (string, error) {
	var in struct {
		Note string `json:"note"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		return "", err
	}
	bad := map[string]string{}
	if checkNote(bad, in.Note); len(bad) > 0 {
		return "", dsar.Invalid(bad)
	}
	return in.Note, nil
}

// checkNote validates a staff note.
func checkNote(bad map[string]string, note string) {
	if utf8.RuneCountInString(note) > maxNote {
		bad["note"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
}

// verifyIdentity is POST /api/v1/requests/{id}/identity-verification:
// identity verified or refused (which rejects the request). The document is
// deleted either way: the decision stays in the audit trail, not the copy.
func (s *Server) verifyIdentity(c *gin.Context) {
	var in struct {
		Verified *bool  `json:"verified"`
		Note     string `json:"note"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if in.Verified == nil {
		bad["verified"] = "is required: true or false"
	}
	checkNote(bad, in.Note)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.IdentityDecision{Verified: *in.Verified, Note: in.Note, By: staffUser(c).ID}
	a, err := s.act(c, workflows.SignalIdentityDecided, func(act workflows.Action) any { p.Action = act; return p })
	if err != nil {
		s.fail(c, err)
		return
	}
	// Decided, or about to be: the document goes at once (the workflow
	// deletes it too; an action it refuses found identity decided already).
	if err := s.DB.DeleteIdentityDocument(c.Request.Context(), c.Param("id")); err != nil {
		s.Log.Error("delete identity document after the decision", "id", c.Param("id"), "err", err)
	}
	s.answerAction(c, a)
}

// assign is POST /api/v1/requests/{id}/assignments: a task per data source
// (each must exist: 422 naming the unknown ones).
func (s *Server) assign(c *gin.Context) {
	var in struct {
		DataSourceIDs []string `json:"data_source_ids"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	ids := []string{}
	seen := map[string]bool{}
	for _, id := range in.DataSourceIDs {
		if u, err := uuid.Parse(id); err == nil {
			id = u.String() // the workflow keys tasks by the id as Postgres spells it
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	switch {
	case len(ids) == 0:
		s.fail(c, dsar.Invalid(map[string]string{"data_source_ids": "name at least one data source"}))
		return
	case len(ids) > maxAssignSources:
		s.fail(c, dsar.Invalid(map[string]string{"data_source_ids": fmt.Sprintf("name at most %d data sources", maxAssignSources)}))
		return
	}
	missing, err := s.DB.MissingDataSources(c.Request.Context(), ids)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(missing) > 0 {
		s.fail(c, dsar.Invalid(map[string]string{"data_source_ids": "no data source with id " + strings.Join(missing, ", ")}))
		return
	}
	p := workflows.Assignment{DataSourceIDs: ids, By: staffUser(c).ID}
	// How each automated source is run goes with the assignment: the
	// workflow starts its child with it (a later change of the source's
	// mode applies to later assignments).
	for _, id := range ids {
		d, err := s.DB.DataSource(c.Request.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		if d.Mode.Automated() {
			p.Sources = append(p.Sources, workflows.AssignedSource{ID: id, Mode: d.Mode, TaskQueue: d.TaskQueue,
				DryRun: d.DryRun, TimeLimit: time.Duration(d.TimeLimit)})
		}
	}
	s.takeAction(c, workflows.SignalSourcesAssigned, func(a workflows.Action) any { p.Action = a; return p })
}

// completeTask is POST /api/v1/requests/{id}/tasks/{data_source_id}/completion.
// A source owner completes only the tasks of sources they own; anyone
// else's, like a task that does not exist, is 404.
func (s *Server) completeTask(c *gin.Context) {
	var in struct {
		Note        string           `json:"note"`
		Outcome     dsar.TaskOutcome `json:"outcome"`
		RecordCount *int64           `json:"record_count"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	checkNote(bad, in.Note)
	if in.Outcome != "" && !in.Outcome.Valid() {
		bad["outcome"] = "must be one of " + dsar.TaskOutcomesText()
	}
	if in.RecordCount != nil && *in.RecordCount < 0 {
		bad["record_count"] = "must not be negative"
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
	p := workflows.TaskCompletion{DataSourceID: source, Note: in.Note, By: staffUser(c).ID, Outcome: in.Outcome, RecordCount: in.RecordCount}
	s.takeAction(c, workflows.SignalTaskCompleted, func(a workflows.Action) any { p.Action = a; return p })
}

// taskSource is the route's data source id, as Postgres spells it, of a
// task the caller may act on: a source owner only on the tasks of sources
// they own or given to them; anyone else's, like a task that does not
// exist, is ENOTFOUND.
func (s *Server) taskSource(c *gin.Context) (string, error) {
	me := staffUser(c)
	source := c.Param("data_source_id")
	if u, err := uuid.Parse(source); err == nil {
		source = u.String()
	}
	if me.Role != dsar.RoleSourceOwner {
		return source, nil
	}
	if _, err := uuid.Parse(c.Param("id")); err != nil {
		return "", dsar.Errorf(dsar.ENOTFOUND, "no such task")
	}
	tasks, err := s.DB.RequestTasks(c.Request.Context(), c.Param("id"), me.ID)
	if err != nil {
		return "", err
	}
	for _, t := range tasks {
		if t.DataSourceID == source {
			return source, nil
		}
	}
	return "", dsar.Errorf(dsar.ENOTFOUND, "no such task")
}

// extend is POST /api/v1/requests/{id}/extension: a later deadline, within
// what the request's rule allows, with a reason (the requester is told).
func (s *Server) extend(c *gin.Context) {
	var in struct {
		Days   int    `json:"days"`
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.Reason = strings.TrimSpace(in.Reason)
	bad := map[string]string{}
	if in.Days < 1 || in.Days > maxExtensionDays {
		bad["days"] = fmt.Sprintf("must be 1 to %d", maxExtensionDays)
	}
	switch n := utf8.RuneCountInString(in.Reason); {
	case n == 0:
		bad["reason"] = "an extension needs a reason"
	case n > maxNote:
		bad["reason"] = fmt.Sprintf("must be at most %d characters", maxNote)
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.Extension{Days: in.Days, Reason: in.Reason, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalDeadlineExtended, func(a workflows.Action) any { p.Action = a; return p })
}

// complete is POST /api/v1/requests/{id}/completion: 409 while tasks are
// open.
func (s *Server) complete(c *gin.Context) {
	var in struct {
		Note          string `json:"note"`
		NothingToSend string `json:"nothing_to_send"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	checkNote(bad, in.Note)
	checkNothingToSend(bad, in.NothingToSend)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.Closure{Outcome: workflows.OutcomeCompleted, Note: in.Note, NothingToSend: strings.TrimSpace(in.NothingToSend),
		By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalRequestClosed, func(a workflows.Action) any { p.Action = a; return p })
}

// reject is POST /api/v1/requests/{id}/rejection: closes the request as
// rejected with reason codes (the requester reads their generic texts).
func (s *Server) reject(c *gin.Context) {
	var in struct {
		Reasons []dsar.RejectReason `json:"reasons"`
		Note    string              `json:"note"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if len(in.Reasons) == 0 {
		bad["reasons"] = "name at least one reason"
	}
	for _, r := range in.Reasons {
		if !r.Valid() {
			bad["reasons"] = fmt.Sprintf("unknown reason %q", r)
		}
	}
	checkNote(bad, in.Note)
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.Closure{Outcome: workflows.OutcomeRejected, Reasons: in.Reasons, Note: in.Note, By: staffUser(c).ID}
	s.takeAction(c, workflows.SignalRequestClosed, func(a workflows.Action) any { p.Action = a; return p })
}
