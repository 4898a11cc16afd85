package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// Bounds of the staff API's inputs and waits.
const (
	defaultPage       = 50
	maxNote           = 5000
	maxAssignSources  = 50
	maxExtensionDays  = 366
	actionTimeout     = 10 * time.Second       // query + signal of an action
	actionSettle      = time.Second            // how long an action waits for the workflow to take its signal
	detailQueryBudget = 2 * time.Second        // the detail falls back to the projection after this
	documentDownload  = "identity-document-%s" // file name (without extension) of a downloaded document
)

// ownerScope is the user id that limits what a source owner sees, or "" for
// the roles that see every request.
func ownerScope(u store.User) string {
	if u.Role == dsar.RoleSourceOwner {
		return u.ID
	}
	return ""
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// queueFilter reads the queue's filters from the query string. Errors are
// EINVALID naming each bad parameter.
func queueFilter(c *gin.Context) (store.QueueFilter, error) {
	f := store.QueueFilter{Limit: defaultPage}
	bad := map[string]string{}
	if v := c.Query("status"); v != "" {
		for _, p := range strings.Split(v, ",") {
			st := dsar.Status(strings.TrimSpace(p))
			if !st.Valid() {
				bad["status"] = fmt.Sprintf("unknown status %q", p)
				continue
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if v := c.Query("request_type"); v != "" {
		f.RequestType = dsar.RequestType(v)
		if !f.RequestType.Valid() {
			bad["request_type"] = "must be complaint, correction, deletion, do_not_sell, info or opt_out"
		}
	}
	if v := c.Query("requestor_type"); v != "" {
		f.RequestorType = dsar.RequestorType(v)
		if !f.RequestorType.Valid() {
			bad["requestor_type"] = "must be customer, employee or other"
		}
	}
	if v := c.Query("country"); v != "" {
		f.Country = strings.ToUpper(v)
		if !countryCode.MatchString(f.Country) {
			bad["country"] = "must be an ISO 3166-1 alpha-2 code such as DE"
		}
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
		end  bool
	}{{"submitted_from", &f.SubmittedFrom, false}, {"submitted_to", &f.SubmittedTo, true}} {
		v := c.Query(p.name)
		if v == "" {
			continue
		}
		t, err := parseBound(v, p.end)
		if err != nil {
			bad[p.name] = "must be a date (2026-01-31) or an RFC 3339 time"
			continue
		}
		*p.dst = &t
	}
	if v := c.Query("overdue"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad["overdue"] = "must be true or false"
		}
		f.Overdue = &b
	}
	if v := c.Query("data_source_id"); v != "" {
		if _, err := uuid.Parse(v); err != nil {
			bad["data_source_id"] = "must be a data source id"
		}
		f.DataSourceID = v
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPage {
			bad["limit"] = fmt.Sprintf("must be 1 to %d", store.MaxPage)
		}
		f.Limit = n
	}
	if v := c.Query("cursor"); v != "" {
		cur, err := store.DecodeCursor(v)
		if err != nil {
			bad["cursor"] = "is not a cursor from a previous page"
		}
		f.After = &cur
	}
	if len(bad) > 0 {
		return f, dsar.Invalid(bad)
	}
	return f, nil
}

// parseBound reads a date or an RFC 3339 time. As the end of a range it is
// inclusive: a date covers its whole day (UTC), and the bound returned is
// the first instant after the range.
func parseBound(v string, end bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, err
	}
	if end {
		t = t.Add(time.Microsecond)
	}
	return t.UTC(), nil
}

// listRequests is GET /api/v1/requests: the queue, newest first, a page at
// a time. Source owners see only requests with a task of theirs.
func (s *Server) listRequests(c *gin.Context) {
	f, err := queueFilter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	f.OwnerID = ownerScope(staffUser(c))
	items, next, err := s.DB.Queue(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	cursor := ""
	if next != nil {
		cursor = next.Encode()
	}
	body, err := appendQueuePage(make([]byte, 0, 64+256*len(items)), items, cursor)
	if err != nil {
		s.fail(c, fmt.Errorf("server: queue page: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// requestCounts is GET /api/v1/requests/counts: requests per status, and
// the open, unassigned and overdue ones, for a dashboard.
func (s *Server) requestCounts(c *gin.Context) {
	counts, err := s.DB.CountQueue(c.Request.Context(), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, counts)
}

// queryState asks the request's workflow for its state. A missing workflow
// is ENOTFOUND; one that does not answer in time is EUNAVAILABLE. When
// queries pile up behind a running workflow task, Temporal may refuse one
// as a busy workflow (ResourceExhausted, BUSY_WORKFLOW); it is asked again
// shortly, until ctx is done.
func (s *Server) queryState(ctx context.Context, id string) (workflows.State, error) {
	var st workflows.State
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 320*time.Millisecond) {
		resp, err := s.Temporal.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QueryState)
		if err == nil {
			if err := resp.Get(&st); err != nil {
				return st, fmt.Errorf("server: read state of request %s: %w", id, err)
			}
			return st, nil
		}
		var (
			nf   *serviceerror.NotFound
			busy *serviceerror.ResourceExhausted
		)
		switch {
		case errors.As(err, &nf):
			return st, dsar.Errorf(dsar.ENOTFOUND, "no such request")
		case ctx.Err() != nil:
			return st, errWorkflowLate
		case errors.As(err, &busy) && busy.Cause == enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW:
			select {
			case <-ctx.Done():
				return st, errWorkflowLate
			case <-time.After(wait):
				continue
			}
		}
		return st, fmt.Errorf("server: query request %s: %w", id, err)
	}
}

var errWorkflowLate = dsar.Errorf(dsar.EUNAVAILABLE, "the request's workflow did not answer in time; try again")

// liveState is the workflow's state for a request the projection shows
// open (the projection is written by the workflow and may lag a signal by
// a moment), and false when the projection is final or the workflow does
// not answer quickly.
func (s *Server) liveState(c *gin.Context, row store.Request) (workflows.State, bool) {
	if row.Status.Closed() {
		return workflows.State{}, false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), detailQueryBudget)
	defer cancel()
	st, err := s.queryState(ctx, row.ID)
	if err != nil {
		s.Log.Warn("request detail from the projection: the workflow did not answer", "id", row.ID, "err", err)
		return st, false
	}
	return st, true
}

// ruleJSON says which rule set a request's deadline.
type ruleJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Period    string `json:"period"`
	Extension string `json:"extension"`
}

// deadlineRule finds the rule a request's deadline came from: a
// jurisdiction of the config, or the default period.
func (s *Server) deadlineRule(row store.Request) ruleJSON {
	for _, r := range s.Config.Jurisdictions {
		if r.ID == row.DeadlineRule {
			return ruleJSON{ID: r.ID, Name: r.Name, Period: r.Period.String(), Extension: r.Extension.String()}
		}
	}
	if row.DeadlineRule == "default" {
		return ruleJSON{ID: "default", Name: "Default deadline (no jurisdiction rule covers the requester's country)",
			Period:    dsar.PeriodFromDuration(s.Config.Workflow.DefaultDeadline).String(),
			Extension: dsar.PeriodFromDuration(s.Config.Workflow.DefaultExtension).String()}
	}
	return ruleJSON{ID: row.DeadlineRule, Name: row.DeadlineRuleName, Extension: row.MaxExtension}
}

// taskJSON is a task in the request detail.
type taskJSON struct {
	DataSourceID string     `json:"data_source_id"`
	Name         string     `json:"name"`
	Status       string     `json:"status"`
	AssignedAt   time.Time  `json:"assigned_at"`
	CompletedAt  *time.Time `json:"completed_at"`
	Note         string     `json:"note"`
}

// requestJSON is the request detail of GET /api/v1/requests/{id}.
type requestJSON struct {
	ID            string             `json:"id"`
	Status        dsar.Status        `json:"status"`
	StatusLabel   string             `json:"status_label"`
	RequestType   dsar.RequestType   `json:"request_type"`
	RequestorType dsar.RequestorType `json:"requestor_type"`
	Country       string             `json:"country"`
	Region        string             `json:"region"`
	SubmittedAt   time.Time          `json:"submitted_at"`

	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	Description string `json:"description"`
	PIIErased   bool   `json:"pii_erased"`

	Deadline         time.Time `json:"deadline"`
	OriginalDeadline time.Time `json:"original_deadline"`
	Overdue          bool      `json:"overdue"`
	DeadlineRule     ruleJSON  `json:"deadline_rule"`
	DeadlineReason   string    `json:"deadline_reason"`
	Extended         bool      `json:"extended"`
	Extension        any       `json:"extension"`

	EmailVerifiedAt   *time.Time          `json:"email_verified_at"`
	IdentityDecidedAt *time.Time          `json:"identity_decided_at"`
	IdentityVerified  *bool               `json:"identity_verified"`
	IdentityDocument  *store.DocumentInfo `json:"identity_document"`
	Tasks             []taskJSON          `json:"tasks"`
	Timeline          []timelineJSON      `json:"timeline"`
	ClosedAt          *time.Time          `json:"closed_at"`
	CloseReasons      []string            `json:"close_reasons"`
	CloseNote         string              `json:"close_note"`
	Source            string              `json:"source"` // "workflow" (live) or "projection"
}

// timelineJSON is one entry of the request's timeline.
type timelineJSON struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Actor  string    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// getRequest is GET /api/v1/requests/{id}: the request with its PII, tasks,
// deadline (and the rule that set it), extension and timeline. Status,
// tasks, deadline and timeline come from the workflow while it runs, so an
// action shows at once; the read of PII is audited.
func (s *Server) getRequest(c *gin.Context) {
	me := staffUser(c)
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(me))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := requestJSON{
		ID: row.ID, Status: row.Status, RequestType: row.RequestType, RequestorType: row.RequestorType,
		Country: row.Country, Region: row.Region, SubmittedAt: row.SubmittedAt,
		Deadline: row.Deadline, OriginalDeadline: row.OriginalDeadline, Overdue: row.Overdue,
		DeadlineRule: s.deadlineRule(row), Extended: row.ExtendedAt != nil,
		EmailVerifiedAt: row.EmailVerifiedAt, IdentityDecidedAt: row.IdentityDecidedAt, IdentityVerified: row.IdentityVerified,
		ClosedAt: row.ClosedAt, CloseReasons: row.CloseReasons, CloseNote: row.CloseNote, Source: "projection",
	}
	if out.CloseReasons == nil {
		out.CloseReasons = []string{}
	}
	ext := gin.H{"days": row.ExtensionDays, "reason": row.ExtensionReason, "extended_at": row.ExtendedAt,
		"max_extension": row.MaxExtension, "latest_deadline": row.OriginalDeadline}
	if p, err := dsar.ParsePeriod(row.MaxExtension); err == nil {
		ext["latest_deadline"] = p.AddTo(row.OriginalDeadline)
	}
	var live *workflows.State
	if st, ok := s.liveState(c, row); ok {
		out.Source = "workflow"
		live = &st
		out.Status, out.Deadline, out.OriginalDeadline, out.Overdue = st.Status, st.Deadline, st.OriginalDeadline, st.Overdue
		out.Extended, out.ClosedAt, out.CloseNote = st.Extended, st.ClosedAt, st.CloseNote
		out.EmailVerifiedAt, out.IdentityDecidedAt, out.IdentityVerified = st.EmailVerifiedAt, st.IdentityDecidedAt, st.IdentityVerified
		ext["days"], ext["reason"], ext["max_extension"] = st.ExtensionDays, st.ExtensionReason, st.MaxExtension.String()
		ext["extended_at"] = st.ExtendedAt
		ext["latest_deadline"] = st.MaxExtension.AddTo(st.OriginalDeadline)
		out.CloseReasons = out.CloseReasons[:0]
		for _, r := range st.CloseReasons {
			out.CloseReasons = append(out.CloseReasons, string(r))
		}
	}
	out.StatusLabel = out.Status.Label()
	out.Extension = ext
	out.DeadlineReason = deadlineReason(out)

	if out.Tasks, err = s.detailTasks(c, row, live, ownerScope(me)); err != nil {
		s.fail(c, err)
		return
	}
	if me.Role == dsar.RoleSourceOwner {
		// The timeline names every data source; a source owner sees theirs only.
		out.Timeline = []timelineJSON{}
	} else if out.Timeline, err = s.timeline(c, row.ID, live); err != nil {
		s.fail(c, err)
		return
	}
	if out.IdentityDocument, err = s.DB.IdentityDocumentInfo(c.Request.Context(), row.ID); err != nil {
		s.fail(c, err)
		return
	}

	pii, err := s.DB.RequestPII(c.Request.Context(), s.Keys, row.ID)
	switch {
	case dsar.ErrorCode(err) == dsar.EGONE:
		out.PIIErased = true
	case err != nil:
		s.fail(c, err)
		return
	default:
		// Audited before it is shown: no audit, no PII.
		if err := s.auditStaff(c, row.ID, "request.pii_viewed", nil); err != nil {
			s.fail(c, err)
			return
		}
		out.FirstName, out.LastName, out.Email, out.Description = pii.FirstName, pii.LastName, pii.Email, pii.Description
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

// deadlineReason says in words why the request is due when it is.
func deadlineReason(r requestJSON) string {
	why := fmt.Sprintf("Due %s: %s gives %s from submission (%s).", r.Deadline.UTC().Format(time.DateOnly),
		r.DeadlineRule.Name, r.DeadlineRule.Period, r.SubmittedAt.UTC().Format(time.DateOnly))
	if r.DeadlineRule.Period == "" {
		why = fmt.Sprintf("Due %s under the rule %s (%s).", r.Deadline.UTC().Format(time.DateOnly), r.DeadlineRule.ID, r.DeadlineRule.Name)
	}
	if r.Extended {
		why += fmt.Sprintf(" Extended from %s.", r.OriginalDeadline.UTC().Format(time.DateOnly))
	}
	return why
}

// detailTasks are the request's tasks with their data sources' names, from
// the workflow's state when there is one, limited to a source owner's own.
func (s *Server) detailTasks(c *gin.Context, row store.Request, st *workflows.State, scope string) ([]taskJSON, error) {
	out := []taskJSON{}
	if st == nil {
		ts, err := s.DB.RequestTasks(c.Request.Context(), row.ID, scope)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			out = append(out, taskJSON{DataSourceID: t.DataSourceID, Name: t.Name, Status: t.Status,
				AssignedAt: t.AssignedAt, CompletedAt: t.CompletedAt, Note: t.Note})
		}
		return out, nil
	}
	ids := make([]string, len(st.Tasks))
	for i, t := range st.Tasks {
		ids[i] = t.DataSourceID
	}
	names, err := s.DB.DataSourceNames(c.Request.Context(), ids)
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	if scope != "" {
		owned, err := s.DB.OwnedDataSources(c.Request.Context(), scope)
		if err != nil {
			return nil, err
		}
		for _, id := range owned {
			mine[id] = true
		}
	}
	for _, t := range st.Tasks {
		if scope != "" && !mine[t.DataSourceID] {
			continue
		}
		out = append(out, taskJSON{DataSourceID: t.DataSourceID, Name: names[t.DataSourceID], Status: t.Status,
			AssignedAt: t.AssignedAt, CompletedAt: t.CompletedAt, Note: t.Note})
	}
	return out, nil
}

// timeline is what happened to the request: the workflow's own timeline
// while it runs, else the request's audit trail.
func (s *Server) timeline(c *gin.Context, id string, st *workflows.State) ([]timelineJSON, error) {
	out := []timelineJSON{}
	if st != nil {
		for _, e := range st.Timeline {
			out = append(out, timelineJSON{At: e.At, Event: e.Event, Actor: e.Actor, Detail: e.Detail})
		}
		return out, nil
	}
	evs, err := s.DB.RequestAudit(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if e.Action == "request.pii_viewed" || e.Action == "identity_document.viewed" {
			continue
		}
		out = append(out, timelineJSON{At: e.CreatedAt, Event: e.Action, Actor: e.ActorKind + ":" + e.ActorID})
	}
	return out, nil
}

// identityDocument is GET /api/v1/requests/{id}/identity-document: the
// uploaded proof of identity, never cached, every view audited; 410 once
// identity is decided (the document is deleted then).
func (s *Server) identityDocument(c *gin.Context) {
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return
	}
	doc, err := s.DB.RequestIdentityDocument(c.Request.Context(), s.Keys, row.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.auditStaff(c, row.ID, "identity_document.viewed", map[string]any{"content_type": doc.ContentType}); err != nil {
		s.fail(c, err)
		return
	}
	ext := map[string]string{"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}[doc.ContentType]
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", fmt.Sprintf(`inline; filename="`+documentDownload+`%s"`, row.ID, ext))
	c.Data(http.StatusOK, doc.ContentType, doc.Data)
}

// act checks an action against the request's workflow state and signals
// it: 404 for a request the caller cannot see, 409 naming the current
// status when the state does not allow it, 422 for a bad payload. It then
// waits (briefly) until the workflow shows the action done (done(state)) or
// ignored, so that the request detail shows the change once the API has
// answered 202. done gets the state the action was checked against first,
// to compute what to expect. act returns that state, and the state after the
// action (nil if the workflow has not finished with the signal yet).
func (s *Server) act(c *gin.Context, signal string, payload any, done func(before, now workflows.State) bool) (workflows.State, *workflows.State, bool) {
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return workflows.State{}, nil, false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), actionTimeout)
	defer cancel()
	st, err := s.queryState(ctx, row.ID)
	if err != nil {
		s.fail(c, err)
		return st, nil, false
	}
	if err := st.Allows(signal, payload); err != nil {
		s.fail(c, err)
		return st, nil, false
	}
	if err := s.Temporal.SignalWorkflow(ctx, workflows.WorkflowID(row.ID), "", signal, payload); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			err = dsar.Errorf(dsar.ECONFLICT, "the request has just been closed")
		} else if ctx.Err() != nil {
			err = errWorkflowLate
		}
		s.fail(c, err)
		return st, nil, false
	}
	return st, s.awaitAction(ctx, row.ID, st, done), true
}

// awaitAction polls the workflow's state for up to actionSettle until the
// action shows as done, or as ignored (the workflow notes a signal that
// lost a race), and returns that state; nil if neither happened in time
// (the signal is stored and will be taken; the detail catches up).
func (s *Server) awaitAction(ctx context.Context, id string, before workflows.State, done func(before, now workflows.State) bool) *workflows.State {
	ctx, cancel := context.WithTimeout(ctx, actionSettle)
	defer cancel()
	for {
		st, err := s.queryState(ctx, id)
		if err == nil {
			if done(before, st) {
				return &st
			}
			for _, e := range st.Timeline[min(len(before.Timeline), len(st.Timeline)):] {
				if e.Event == workflows.EventSignalIgnored {
					return &st
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// bindOptionalJSON is bindJSON for bodies that may be left out entirely.
func bindOptionalJSON(c *gin.Context, v any) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	return bindJSON(c, v)
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
	_, after, ok := s.act(c, workflows.SignalIdentityDecided, p, func(_, now workflows.State) bool {
		return now.Status != dsar.StatusAwaitingIdentity
	})
	if !ok {
		return
	}
	id := c.Param("id")
	if err := s.DB.DeleteIdentityDocument(c.Request.Context(), id); err != nil {
		s.Log.Error("delete identity document after the decision", "id", id, "err", err)
	}
	status := dsar.StatusIdentityVerified
	if !p.Verified {
		status = dsar.StatusRejected
	}
	if after != nil {
		status = after.Status
	}
	c.JSON(http.StatusAccepted, gin.H{"status": status})
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
	st, after, ok := s.act(c, workflows.SignalSourcesAssigned, workflows.Assignment{DataSourceIDs: ids, By: staffUser(c).ID},
		func(before, now workflows.State) bool {
			for _, id := range ids {
				if _, has := now.Task(id); !has {
					return false
				}
			}
			return len(now.Timeline) > len(before.Timeline) && now.Status != dsar.StatusIdentityVerified
		})
	if !ok {
		return
	}
	status := st.Status
	for _, id := range ids {
		if _, has := st.Task(id); !has {
			status = dsar.StatusInProgress
		}
	}
	if after != nil {
		status = after.Status
	}
	c.JSON(http.StatusAccepted, gin.H{"status": status})
}

// completeTask is POST /api/v1/requests/{id}/tasks/{data_source_id}/completion.
// A source owner completes only the tasks of sources they own; anyone
// else's, like a task that does not exist, is 404.
func (s *Server) completeTask(c *gin.Context) {
	var in struct {
		Note string `json:"note"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if checkNote(bad, in.Note); len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	me := staffUser(c)
	source := c.Param("data_source_id")
	if u, err := uuid.Parse(source); err == nil {
		source = u.String()
	}
	if me.Role == dsar.RoleSourceOwner {
		owns, err := s.DB.OwnsDataSource(c.Request.Context(), me.ID, source)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !owns {
			s.fail(c, dsar.Errorf(dsar.ENOTFOUND, "no such task"))
			return
		}
	}
	st, after, ok := s.act(c, workflows.SignalTaskCompleted, workflows.TaskCompletion{DataSourceID: source, Note: in.Note, By: me.ID},
		func(before, now workflows.State) bool {
			t, has := now.Task(source)
			return has && t.Status == workflows.TaskCompleted &&
				(now.OpenTasks() > 0 || now.Status != dsar.StatusInProgress)
		})
	if !ok {
		return
	}
	status := st.Status
	if st.Status == dsar.StatusInProgress && st.OpenTasks() == 1 {
		status = dsar.StatusReadyToClose
	}
	if after != nil {
		status = after.Status
	}
	c.JSON(http.StatusAccepted, gin.H{"status": status})
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
	st, after, ok := s.act(c, workflows.SignalDeadlineExtended, workflows.Extension{Days: in.Days, Reason: in.Reason, By: staffUser(c).ID},
		func(before, now workflows.State) bool { return now.Deadline.After(before.Deadline) })
	if !ok {
		return
	}
	deadline := st.Deadline.AddDate(0, 0, in.Days)
	if after != nil {
		st, deadline = *after, after.Deadline
	}
	c.JSON(http.StatusAccepted, gin.H{"deadline": deadline, "status": st.Status})
}

// complete is POST /api/v1/requests/{id}/completion: 409 while tasks are
// open.
func (s *Server) complete(c *gin.Context) {
	var in struct {
		Note string `json:"note"`
	}
	if err := bindOptionalJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	bad := map[string]string{}
	if checkNote(bad, in.Note); len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	p := workflows.Closure{Outcome: workflows.OutcomeCompleted, Note: in.Note, By: staffUser(c).ID}
	_, after, ok := s.act(c, workflows.SignalRequestClosed, p, func(_, now workflows.State) bool { return now.Status.Closed() })
	if !ok {
		return
	}
	status := dsar.StatusCompleted
	if after != nil {
		status = after.Status
	}
	c.JSON(http.StatusAccepted, gin.H{"status": status})
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
	_, after, ok := s.act(c, workflows.SignalRequestClosed, p, func(_, now workflows.State) bool { return now.Status.Closed() })
	if !ok {
		return
	}
	status := dsar.StatusRejected
	if after != nil {
		status = after.Status
	}
	c.JSON(http.StatusAccepted, gin.H{"status": status})
}

// listTasks is GET /api/v1/tasks: a source owner's own tasks, or every task
// for the other roles; status open or completed; newest assignment first.
func (s *Server) listTasks(c *gin.Context) {
	f := store.TaskFilter{Status: c.Query("status"), OwnerID: ownerScope(staffUser(c)), Limit: defaultPage}
	bad := map[string]string{}
	if f.Status != "" && f.Status != workflows.TaskOpen && f.Status != workflows.TaskCompleted {
		bad["status"] = "must be open or completed"
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxPage {
			bad["limit"] = fmt.Sprintf("must be 1 to %d", store.MaxPage)
		}
		f.Limit = n
	}
	if v := c.Query("cursor"); v != "" {
		cur, err := store.DecodeCursor(v)
		if err != nil || cur.Also == "" {
			bad["cursor"] = "is not a cursor from a previous page"
		}
		f.After = &cur
	}
	if len(bad) > 0 {
		s.fail(c, dsar.Invalid(bad))
		return
	}
	items, next, err := s.DB.Tasks(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := gin.H{"items": items, "next_cursor": nil}
	if next != nil {
		out["next_cursor"] = next.Encode()
	}
	c.JSON(http.StatusOK, out)
}

// auditJSON is one audit event as the API shows it.
type auditJSON struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	ActorKind string    `json:"actor_kind"`
	ActorID   string    `json:"actor_id"`
	ActorName string    `json:"actor_name,omitempty"`
	Action    string    `json:"action"`
	Detail    any       `json:"detail"`
}

// requestAudit is GET /api/v1/requests/{id}/audit: the request's audit
// events in order, who did what when.
func (s *Server) requestAudit(c *gin.Context) {
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(staffUser(c)))
	if err != nil {
		s.fail(c, err)
		return
	}
	evs, err := s.DB.RequestAudit(c.Request.Context(), row.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	users, err := s.DB.Users(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	items := make([]auditJSON, len(evs))
	for i, e := range evs {
		items[i] = auditJSON{Seq: e.Seq, At: e.CreatedAt, ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action, Detail: e.Detail}
		if e.ActorKind == store.ActorStaff {
			items[i].ActorName = names[e.ActorID]
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}
