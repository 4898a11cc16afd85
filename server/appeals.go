package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// Appeals: a requester appeals a rejection or a partial answer from the
// portal, where the request's rule gives the right, within its window; a
// staff member who did not decide the request decides the appeal. Both are
// actions with exact answers: the request's workflow takes the appeal and
// starts the appeal's own workflow, which takes the decision.

// maxAppealReason bounds the requester's reasons for appealing.
const maxAppealReason = 5000

func (s *Server) appealRoutes() {
	s.engine.POST("/api/v1/portal/requests/:id/appeal", s.requirePortal(false), s.portalAPIAppeal)
	s.engine.POST("/portal/requests/:id/appeal", s.requirePortal(true), s.portalAppealForm)
	s.handle(http.MethodGet, "/api/v1/appeals", s.listAppeals)
	s.handle(http.MethodGet, "/api/v1/appeals/:id", s.getAppeal)
	s.handle(http.MethodPost, "/api/v1/appeals/:id/decision", s.decideAppeal)
}

// appealJSON is an appeal as the staff API shows it.
type appealJSON struct {
	store.Appeal
	StatusLabel string `json:"status_label"`
}

func appealOut(a store.Appeal, now time.Time) appealJSON {
	// Overdue from the clock too: the appeal's workflow marks it at the
	// deadline, the list should not wait for that write.
	a.Overdue = a.Overdue || (a.Status == dsar.AppealOpen && now.After(a.Deadline))
	return appealJSON{Appeal: a, StatusLabel: a.Status.Label()}
}

// fileAppeal files the signed-in requester's appeal of one of their
// requests (someone else's is ENOTFOUND) with their reasons, which become
// a message on the request (sealed like every message, read by staff in
// the thread). ECONFLICT when the request cannot be appealed, or no more.
func (s *Server) fileAppeal(c *gin.Context, reason string) (actionAnswer, error) {
	reason = strings.TrimSpace(reason)
	switch n := utf8.RuneCountInString(reason); {
	case n == 0:
		return actionAnswer{}, dsar.Invalid(map[string]string{"reason": "say why you appeal the decision"})
	case n > maxAppealReason:
		return actionAnswer{}, dsar.Invalid(map[string]string{"reason": fmt.Sprintf("must be at most %d characters", maxAppealReason)})
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
	note := s.requesterNote(c, row.ID, acc.ID, "I appeal the decision on this request. My reasons: "+reason)
	var p workflows.AppealFiling
	return s.actOnWith(c, row, "portal:"+acc.ID, workflows.SignalAppealFiled, func(a workflows.Action) any { p.Action = a; return p }, note)
}

// portalAPIAppeal is POST /api/v1/portal/requests/{id}/appeal {"reason"}:
// 201 {id, deadline} (the appeal and when it will be decided by); 409 when
// the request cannot be appealed or the time to appeal has passed; 422
// without a reason; 202 while no worker runs.
func (s *Server) portalAPIAppeal(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.fileAppeal(c, in.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	if a.Pending {
		s.answerAction(c, a)
		return
	}
	ap, err := s.DB.AppealOfRequest(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": ap.ID, "deadline": ap.Deadline.UTC(), "status": ap.Status, "action_id": a.ID})
}

// portalAppealForm files the appeal from the request page's form and goes
// back to the request, which then shows the appeal.
func (s *Server) portalAppealForm(c *gin.Context) {
	if _, err := s.fileAppeal(c, c.PostForm("reason")); err != nil {
		if dsar.ErrorCode(err) == dsar.ENOTFOUND {
			s.portalFail(c, err)
			return
		}
		s.renderRequestPage(c, statusOfErr(err), s.formOf(c, err), "")
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/requests/"+url.PathEscape(c.Param("id"))+"?sent=appeal")
}

// listAppeals is GET /api/v1/appeals?status=: the appeals, open ones
// first by deadline.
func (s *Server) listAppeals(c *gin.Context) {
	status := dsar.AppealStatus(c.Query("status"))
	if status != "" && !slices.Contains(dsar.AppealStatuses, status) {
		s.fail(c, dsar.Invalid(map[string]string{"status": "must be open, upheld or reversed"}))
		return
	}
	list, err := s.DB.Appeals(c.Request.Context(), status)
	if err != nil {
		s.fail(c, err)
		return
	}
	now := time.Now()
	items := make([]appealJSON, len(list))
	for i, a := range list {
		items[i] = appealOut(a, now)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// getAppeal is GET /api/v1/appeals/{id}.
func (s *Server) getAppeal(c *gin.Context) {
	a, err := s.DB.AppealByID(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, appealOut(a, time.Now()))
}

// decideAppeal is POST /api/v1/appeals/{id}/decision {"outcome",
// "explanation"}: 200 with the decided appeal; 403 for the staff member
// who decided the request; 409 once decided; 422 for a bad outcome or no
// explanation; 202 while no worker runs.
func (s *Server) decideAppeal(c *gin.Context) {
	var in struct {
		Outcome     dsar.AppealStatus `json:"outcome"`
		Explanation string            `json:"explanation"`
	}
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	me := staffUser(c)
	ap, err := s.DB.AppealByID(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	row, err := s.DB.Request(ctx, ap.RequestID, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	id, err := actionID(c, me.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if o, done, err := s.DB.ActionOutcome(ctx, row.ID, id); err != nil || done {
		if err == nil && o.Signal != workflows.SignalAppealDecided {
			err = dsar.Invalid(map[string]string{"idempotency_key": "was used for another action on this request"})
		}
		s.answerDecision(c, ap.ID, o, err)
		return
	}
	decider := ""
	if ap.RequestDecidedBy != nil {
		decider = *ap.RequestDecidedBy
	}
	d := workflows.AppealDecision{Action: workflows.Action{ID: id, At: time.Now().UTC(), RequestID: row.ID},
		Outcome: in.Outcome, Explanation: strings.TrimSpace(in.Explanation), By: me.ID}
	if err := workflows.AllowsAppealDecision(ap.Status, decider, d); err != nil {
		s.fail(c, err)
		return
	}
	a, err := s.signalAppeal(c, row, ap.ID, id, d)
	if err != nil {
		s.fail(c, err)
		return
	}
	if a.Pending {
		c.JSON(http.StatusAccepted, gin.H{"id": ap.ID, "status": ap.Status, "action_id": a.ID})
		return
	}
	s.answerDecision(c, ap.ID, a.Outcome, nil)
}

// appealStartWait is how long a decision waits for the workflow of an
// appeal still open to exist: the request's workflow starts it right after
// recording the appeal, so a decision sent at once may come first.
const appealStartWait = 5 * time.Second

// signalAppeal sends the decision to the appeal's workflow and awaits its
// outcome. An appeal still open whose workflow is not there yet is being
// opened: the decision is sent again as soon as it is, and answered 503
// (nothing applied, try again) if it is not within appealStartWait, as
// while no worker runs. An appeal decided meanwhile, or whose workflow has
// ended (its row may still read open), gets the 409 at once.
func (s *Server) signalAppeal(c *gin.Context, row store.Request, appealID, id string, d workflows.AppealDecision) (actionAnswer, error) {
	ctx := c.Request.Context()
	wid := workflows.AppealWorkflowID(row.ID)
	wait := time.NewTimer(appealStartWait)
	defer wait.Stop()
	for {
		a, err := s.signalAndAwait(c, row, wid, "the appeal has just been decided", id, workflows.SignalAppealDecided, d)
		if !errors.Is(err, errEnded) {
			return a, err
		}
		ap, rerr := s.DB.AppealByID(ctx, appealID)
		if rerr != nil || ap.Status != dsar.AppealOpen {
			return a, err
		}
		if s.ranAndEnded(ctx, wid) {
			return actionAnswer{}, fmt.Errorf("%w%w", dsar.Errorf(dsar.ECONFLICT, "the appeal's workflow has ended without a decision (the appeal is %s); an operator must look at it", ap.Status), errEnded)
		}
		select {
		case <-wait.C:
			return actionAnswer{}, dsar.Errorf(dsar.EUNAVAILABLE, "the appeal is still being opened (its workflow has not started); nothing was applied, try again in a moment")
		case <-ctx.Done():
			return actionAnswer{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ranAndEnded reports whether workflow wid has run and is no longer
// running. No execution yet, or a Temporal that cannot be asked, is false.
func (s *Server) ranAndEnded(ctx context.Context, wid string) bool {
	dctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	d, err := s.Temporal.DescribeWorkflowExecution(dctx, wid, "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// answerDecision answers a decision with a recorded outcome: the appeal as
// it now stands, or the refusal.
func (s *Server) answerDecision(c *gin.Context, appealID string, o store.ActionOutcome, err error) {
	if _, err := answerOf(o, err); err != nil {
		s.fail(c, err)
		return
	}
	ap, err := s.DB.AppealByID(c.Request.Context(), appealID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := appealOut(ap, time.Now())
	c.JSON(http.StatusOK, gin.H{"id": out.ID, "status": out.Status, "status_label": out.StatusLabel, "decided_at": out.DecidedAt,
		"explanation": out.Explanation, "request_id": out.RequestID, "action_id": o.ActionID})
}

// portalAppealJSON is what the portal says of a request's appeal: whether,
// and until when, the requester may appeal; then their appeal, by when it
// will be decided, and the decision (upheld: the authority they may
// complain to).
type portalAppealJSON struct {
	CanAppeal        bool              `json:"can_appeal"`
	Until            *time.Time        `json:"until,omitempty"`
	ID               string            `json:"id,omitempty"`
	Status           dsar.AppealStatus `json:"status,omitempty"`
	StatusLabel      string            `json:"status_label,omitempty"`
	FiledAt          *time.Time        `json:"filed_at,omitempty"`
	Deadline         *time.Time        `json:"deadline,omitempty"`
	DecidedAt        *time.Time        `json:"decided_at,omitempty"`
	Explanation      string            `json:"explanation,omitempty"`
	Authority        string            `json:"authority,omitempty"`
	AuthorityContact string            `json:"authority_contact,omitempty"`

	// The page's words for the dates.
	UntilText    string `json:"-"`
	DeadlineText string `json:"-"`
	DecidedText  string `json:"-"`
	AuthorityURL string `json:"-"` // the contact, when it is a web address
}

// portalAppealOf is what the portal says of request id's appeal in
// language l; nil when the request has none and cannot have one.
func (s *Server) portalAppealOf(c *gin.Context, l locale.Lang, id string) (*portalAppealJSON, error) {
	ctx := c.Request.Context()
	row, err := s.DB.Request(ctx, id, "")
	if err != nil {
		return nil, err
	}
	loc := s.zoneOf(row.DeadlineRule) // the page's dates; the API's are UTC instants
	ap, err := s.DB.AppealOfRequest(ctx, id)
	switch {
	case dsar.ErrorCode(err) == dsar.ENOTFOUND:
		if row.AppealUntil == nil || !row.Status.Closed() {
			return nil, nil
		}
		until := row.AppealUntil.UTC()
		return &portalAppealJSON{CanAppeal: time.Now().Before(until), Until: &until, UntilText: locale.DateIn(l, until, loc)}, nil
	case err != nil:
		return nil, err
	}
	deadline := ap.Deadline.UTC()
	out := &portalAppealJSON{ID: ap.ID, Status: ap.Status, StatusLabel: locale.T(l, "appeal.status."+string(ap.Status)),
		FiledAt: new(ap.FiledAt.UTC()), Deadline: &deadline, DeadlineText: locale.DateIn(l, deadline, loc)}
	if ap.Status.Decided() {
		out.Explanation = ap.Explanation
		if ap.DecidedAt != nil {
			out.DecidedAt, out.DecidedText = new(ap.DecidedAt.UTC()), locale.DateIn(l, *ap.DecidedAt, loc)
		}
	}
	if ap.Status == dsar.AppealUpheld {
		out.Authority, out.AuthorityContact = s.appealAuthority(row)
		if u, err := url.Parse(out.AuthorityContact); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
			out.AuthorityURL = u.String()
		}
	}
	return out, nil
}

// appealAuthority is the authority a requester whose appeal was upheld may
// complain to, and its complaint contact: those of the rule captured at
// intake, which the request's workflow carries and names in its mail
// (whatever the configuration says now); for a request from before they
// were stored with it, those of the configured rule of its id.
func (s *Server) appealAuthority(row store.Request) (authority, contact string) {
	if row.AppealAuthority != nil {
		if row.AppealContact != nil {
			contact = *row.AppealContact
		}
		return *row.AppealAuthority, contact
	}
	if r, ok := s.Config.Jurisdictions.ByID(row.DeadlineRule); ok && r.Appeal != nil {
		return r.Appeal.Authority, r.Appeal.Contact
	}
	return "", ""
}
