package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// documentDownload is the file name (without extension) of a downloaded
// identity document.
const documentDownload = "identity-document-%s"

// ruleJSON says which rule set a request's deadline.
type ruleJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Period    string `json:"period"`
	Extension string `json:"extension"`
	Source    string `json:"source,omitempty"` // the statute, where the rule names it
}

// deadlineRule finds the rule a request's deadline came from: a
// jurisdiction of the config, or the default period.
func (s *Server) deadlineRule(row store.Request) ruleJSON {
	if r, ok := s.Config.Jurisdictions.ByID(row.DeadlineRule); ok {
		return ruleJSON{ID: r.ID, Name: r.Name, Period: r.Period.String(), Extension: r.Extension.String(), Source: r.Source}
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

	Outcome       string  `json:"outcome"`       // "" until completed (or completed without one)
	OutcomeLabel  string  `json:"outcome_label"` // the outcome in words, once completed
	RecordCount   *int64  `json:"record_count"`
	DeclineReason string  `json:"decline_reason"` // while declined
	AssigneeID    *string `json:"assignee_id"`    // the one person it is given to, if any

	// Mode is how the task is fulfilled (its source's mode when assigned);
	// Automation where the system stands on it (nil for a manual one).
	Mode       dsar.SourceMode   `json:"mode"`
	ModeLabel  string            `json:"mode_label"`
	Automation *store.Automation `json:"automation"`

	Files []taskFileJSON `json:"files"` // the exports attached to it (erased with the request)
}

// requestJSON is the request detail of GET /api/v1/requests/{id}.
type requestJSON struct {
	ID            string             `json:"id"`
	Reference     string             `json:"reference"`
	Status        dsar.Status        `json:"status"`
	StatusLabel   string             `json:"status_label"`
	RequestType   dsar.RequestType   `json:"request_type"`
	RequestorType dsar.RequestorType `json:"requestor_type"`
	Country       string             `json:"country"`
	Region        string             `json:"region"`
	SubmittedAt   time.Time          `json:"submitted_at"`
	Channel       dsar.Channel       `json:"channel"`       // how the request arrived
	ChannelLabel  string             `json:"channel_label"` // the channel in words
	Language      string             `json:"language"`      // what the requester is written to in (en, de, fr, es)
	LanguageName  string             `json:"language_name"` // that language, in itself

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
	// DeadlineWhy is the workflow's own words for the deadline (the rule,
	// its source, pauses, extension); deadline_reason for older requests.
	DeadlineWhy       string     `json:"deadline_why"`
	AcknowledgeBy     *time.Time `json:"acknowledge_by"`  // receipt must be confirmed by then (null: the rule asks for none)
	AcknowledgedAt    *time.Time `json:"acknowledged_at"` // when receipt was confirmed
	ExtensionNoticeBy *time.Time `json:"extension_notice_by"`
	PauseAllowed      bool       `json:"pause_allowed"` // the rule lets staff stop the clock
	Paused            *pauseJSON `json:"paused"`        // the pause under way, if any
	IdentityRequired  bool       `json:"identity_required"`
	Extended          bool       `json:"extended"`
	Extension         any        `json:"extension"`

	HandlerID     *string `json:"handler_id"`   // the staff member handling it, if any
	HandlerName   *string `json:"handler_name"` // their name
	AwaitingReply bool    `json:"awaiting_reply"`

	EmailVerifiedAt   *time.Time          `json:"email_verified_at"`
	IdentityDecidedAt *time.Time          `json:"identity_decided_at"`
	IdentityVerified  *bool               `json:"identity_verified"`
	IdentityNote      string              `json:"identity_note"` // staff only, like the closing note
	IdentityDocument  *store.DocumentInfo `json:"identity_document"`
	Tasks             []taskJSON          `json:"tasks"`
	Timeline          []timelineJSON      `json:"timeline"`
	ClosedAt          *time.Time          `json:"closed_at"`
	CloseReasons      []string            `json:"close_reasons"`
	CloseNote         string              `json:"close_note"`
	ClosingMailFailed bool                `json:"closing_mail_failed"` // the closing mail failed: it can be sent again
	PackageRequired   bool                `json:"package_required"`    // completing it needs an approved access package (GET .../package)
	Source            string              `json:"source"`              // always "projection" (the workflow writes it with each change)
	LegalHold         legalHoldJSON       `json:"legal_hold"`          // while on, the erasure at close waits

	// Appeals: who decided the request (they may not decide its appeal),
	// until when its requester may appeal, their appeal, and whether
	// their name and email are kept for it after the erasure (then shown
	// above, the rest of the PII being erased).
	DecidedBy   *string     `json:"decided_by"`
	AppealUntil *time.Time  `json:"appeal_until"`
	Appeal      *appealJSON `json:"appeal"`
	ContactKept bool        `json:"contact_kept"`
}

// pauseJSON is the pause of a request's clock under way.
type pauseJSON struct {
	Since       time.Time `json:"since"`
	Reason      string    `json:"reason"`
	ReasonLabel string    `json:"reason_label"`
}

// getRequest is GET /api/v1/requests/{id}: the request with its PII, tasks,
// deadline (and the rule that set it), extension and timeline, all read
// from Postgres (the workflow projects each change there before an action
// is answered); the read of PII is audited.
func (s *Server) getRequest(c *gin.Context) {
	me := staffUser(c)
	row, err := s.DB.Request(c.Request.Context(), c.Param("id"), ownerScope(me))
	if err != nil {
		s.fail(c, err)
		return
	}
	out := requestJSON{
		ID: row.ID, Status: row.Status, StatusLabel: row.Status.Label(), RequestType: row.RequestType,
		RequestorType: row.RequestorType, Country: row.Country, Region: row.Region, SubmittedAt: row.SubmittedAt,
		Deadline: row.Deadline, OriginalDeadline: row.OriginalDeadline, Overdue: row.Overdue,
		DeadlineRule: s.deadlineRule(row), Extended: row.ExtendedAt != nil,
		EmailVerifiedAt: row.EmailVerifiedAt, IdentityDecidedAt: row.IdentityDecidedAt, IdentityVerified: row.IdentityVerified,
		IdentityNote: row.IdentityNote, Channel: row.Channel, ChannelLabel: row.Channel.Label(),
		ClosedAt: row.ClosedAt, CloseReasons: row.CloseReasons, CloseNote: row.CloseNote, Source: "projection",
		ClosingMailFailed: row.ClosingMailFailed, PackageRequired: row.PackageRequired,
		Language: row.Language, LanguageName: locale.Lang(row.Language).Or().Name(),
		LegalHold: legalHoldOf(row),
	}
	if out.CloseReasons == nil {
		out.CloseReasons = []string{}
	}
	ext := gin.H{"days": row.ExtensionDays, "reason": row.ExtensionReason, "extended_at": row.ExtendedAt,
		"max_extension": row.MaxExtension, "latest_deadline": row.OriginalDeadline}
	if p, err := dsar.ParsePeriod(row.MaxExtension); err == nil {
		ext["latest_deadline"] = p.AddTo(row.OriginalDeadline)
	}
	out.Extension = ext
	out.DeadlineReason = deadlineReason(out)
	out.DeadlineWhy = row.DeadlineWhy
	if out.DeadlineWhy == "" {
		out.DeadlineWhy = out.DeadlineReason
	}
	out.AcknowledgeBy, out.AcknowledgedAt, out.ExtensionNoticeBy = row.AcknowledgeBy, row.AcknowledgedAt, row.ExtensionNoticeBy
	out.PauseAllowed, out.IdentityRequired = row.PauseAllowed, !row.IdentityNotRequired
	if p := row.Paused; p != nil {
		out.Paused = &pauseJSON{Since: p.Since, Reason: p.Reason, ReasonLabel: workflows.PauseReasonWords(p.Reason)}
	}
	out.Reference, out.HandlerID, out.HandlerName, out.AwaitingReply = row.Reference, row.HandlerID, row.HandlerName, row.AwaitingReply

	if out.Tasks, err = s.detailTasks(c, row.ID, ownerScope(me)); err != nil {
		s.fail(c, err)
		return
	}
	if me.Role == dsar.RoleSourceOwner {
		// The timeline names every data source; a source owner sees theirs only.
		out.Timeline = []timelineJSON{}
	} else if out.Timeline, err = s.timeline(c, row.ID); err != nil {
		s.fail(c, err)
		return
	}
	if row.IdentityDecidedAt == nil { // deleted once decided
		if out.IdentityDocument, err = s.DB.IdentityDocumentInfo(c.Request.Context(), row.ID); err != nil {
			s.fail(c, err)
			return
		}
	}

	out.DecidedBy, out.AppealUntil = row.DecidedBy, row.AppealUntil
	switch ap, err := s.DB.AppealOfRequest(c.Request.Context(), row.ID); {
	case err == nil:
		out.Appeal = new(appealOut(ap, time.Now()))
	case dsar.ErrorCode(err) != dsar.ENOTFOUND:
		s.fail(c, err)
		return
	}

	pii, err := s.DB.RequestPII(c.Request.Context(), s.Keys, row.ID)
	if dsar.ErrorCode(err) == dsar.EGONE && me.Role != dsar.RoleSourceOwner {
		// Erased at close but for the name and email kept for an appeal.
		out.PIIErased = true
		switch contact, cerr := s.DB.RequestContact(c.Request.Context(), s.Keys, row.ID); {
		case cerr == nil:
			pii, err, out.ContactKept = store.PII{FirstName: contact.FirstName, LastName: contact.LastName, Email: contact.Email}, nil, true
		case dsar.ErrorCode(cerr) != dsar.EGONE:
			err = cerr
		}
	}
	switch {
	case dsar.ErrorCode(err) == dsar.EGONE:
		out.PIIErased = true
	case err != nil:
		s.fail(c, err)
		return
	default:
		// Audited before it is shown: no audit, no PII.
		if err := s.auditStaff(c, row.ID, dsar.AuditPIIViewed, nil); err != nil {
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

// detailTasks are the request's tasks with their data sources' names,
// limited to a source owner's own (scope).
func (s *Server) detailTasks(c *gin.Context, id, scope string) ([]taskJSON, error) {
	ts, err := s.DB.RequestTasks(c.Request.Context(), id, scope)
	if err != nil {
		return nil, err
	}
	files, err := s.taskFiles(c, id)
	if err != nil {
		return nil, err
	}
	out := []taskJSON{}
	for _, t := range ts {
		tj := taskJSON{DataSourceID: t.DataSourceID, Name: t.Name, Status: t.Status,
			AssignedAt: t.AssignedAt, CompletedAt: t.CompletedAt, Note: t.Note, Outcome: t.Outcome,
			RecordCount: t.RecordCount, DeclineReason: t.DeclineReason, AssigneeID: t.AssigneeID,
			Mode: dsar.SourceMode(t.Mode), ModeLabel: dsar.SourceMode(t.Mode).Label(), Automation: t.Automation}
		if t.Status == workflows.TaskCompleted {
			tj.OutcomeLabel = dsar.TaskOutcome(t.Outcome).Label()
		}
		tj.Files = []taskFileJSON{}
		for _, f := range files {
			if f.DataSourceID == t.DataSourceID {
				tj.Files = append(tj.Files, f)
			}
		}
		out = append(out, tj)
	}
	return out, nil
}

// timelineJSON is one timeline entry with its event in words.
type timelineJSON struct {
	store.TimelineEntry
	Label string `json:"label"`
}

// timeline is what happened to the request: the timeline its workflow
// projected, or, for a request projected before timelines were, its audit
// trail.
func (s *Server) timeline(c *gin.Context, id string) ([]timelineJSON, error) {
	entries, err := s.DB.RequestTimeline(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	out := make([]timelineJSON, len(entries))
	for i, e := range entries {
		out[i] = timelineJSON{TimelineEntry: e, Label: workflows.EventLabel(e.Event)}
	}
	if len(out) > 0 {
		return out, nil
	}
	evs, err := s.DB.RequestAudit(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if e.Action == dsar.AuditPIIViewed || e.Action == dsar.AuditDocumentViewed {
			continue
		}
		out = append(out, timelineJSON{TimelineEntry: store.TimelineEntry{At: e.CreatedAt, Event: e.Action, Actor: e.ActorKind + ":" + e.ActorID},
			Label: auditEventLabel(e)})
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
	if row.IdentityDecidedAt != nil {
		// Deleted once identity is decided: the workflow answers the
		// decision first and deletes right after.
		s.fail(c, dsar.Errorf(dsar.EGONE, "the identity document was deleted when identity was decided"))
		return
	}
	doc, err := s.DB.RequestIdentityDocument(c.Request.Context(), s.Keys, row.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.auditStaff(c, row.ID, dsar.AuditDocumentViewed, map[string]any{"content_type": doc.ContentType}); err != nil {
		s.fail(c, err)
		return
	}
	ext := map[string]string{"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}[doc.ContentType]
	c.Header("Cache-Control", "no-store")
	// A download, never a page of ours: a PDF (which may hold script) opened
	// from it runs sandboxed, with nothing of this origin.
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="`+documentDownload+`%s"`, row.ID, ext))
	c.Header("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'")
	c.Data(http.StatusOK, doc.ContentType, doc.Data)
}

// auditJSON is one audit event as the API shows it.
type auditJSON struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	ActorKind string    `json:"actor_kind"`
	ActorID   string    `json:"actor_id"`
	ActorName string    `json:"actor_name,omitempty"`
	Action    string    `json:"action"`
	Label     string    `json:"label"` // the action in words
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
		items[i] = auditJSON{Seq: e.Seq, At: e.CreatedAt, ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action,
			Label: auditEventLabel(e), Detail: e.Detail}
		if e.ActorKind == store.ActorStaff {
			items[i].ActorName = names[e.ActorID]
		}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// auditEventLabel is an audit event in words; a mail to the requester
// says which mail it was ("Mail sent to the requester: completion
// notice").
func auditEventLabel(e store.AuditEvent) string {
	label := dsar.AuditLabel(e.Action)
	if e.Action != dsar.AuditMailSent && e.Action != dsar.AuditMailFailed {
		return label
	}
	var d struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(e.Detail, &d) == nil && d.Kind != "" {
		label += ": " + activities.MailLabel(d.Kind)
	}
	return label
}
