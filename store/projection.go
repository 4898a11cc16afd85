package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
)

// Projection is what the queue shows of a request, written from its
// workflow's state. Only the workflow's Project activity writes it; the API
// and pages read the rows it produces.
type Projection struct {
	RequestID         string
	Status            dsar.Status
	Deadline          time.Time
	Overdue           bool
	ExtendedAt        *time.Time
	ExtensionDays     int
	ExtensionReason   string
	EmailVerifiedAt   *time.Time
	IdentityDecidedAt *time.Time
	IdentityVerified  *bool
	IdentityNote      string
	ClosingMailFailed bool // closed, and its closing mail waits to be sent again
	// PackageRequired: completing the request needs an approved access
	// package, or a reason why nothing is sent.
	PackageRequired bool
	ClosedAt        *time.Time
	CloseReasons    []string
	CloseNote       string
	Tasks           []ProjectedTask

	// Decision is who decided the request (a staff user id; "" none, or a
	// workflow before appeals). AppealUntil is until when its requester
	// may appeal (nil: no appeal right). Appeal is the appeal they filed:
	// inserted with this write when new (its own workflow writes it then).
	Decision    string
	AppealUntil *time.Time
	Appeal      *ProjectedAppeal

	// The jurisdiction rule's clocks (workflows before them send none, and
	// a nil OriginalDeadline or an empty DeadlineWhy keeps what is
	// stored). OriginalDeadline is the deadline before extensions, which a
	// pause of the clock moves.
	OriginalDeadline    *time.Time
	AcknowledgeBy       *time.Time
	AcknowledgedAt      *time.Time
	ExtensionNoticeBy   *time.Time
	PauseAllowed        bool
	Paused              *ProjectedPause
	IdentityNotRequired bool
	DeadlineWhy         string

	// Seq counts the workflow's projection writes (carried across
	// continue-as-new): a write with a Seq not above the stored one changes
	// nothing of the request and its tasks, so a late retry never
	// overwrites newer state. Zero (workflows before sequence numbers)
	// always writes.
	Seq int64
	// Timeline is the request's timeline, so that the request detail reads
	// Postgres only (nil keeps the stored one; with Seq 0, the stored
	// entries it lacks are kept after it: see Project).
	Timeline []TimelineEntry
	// Attention names a step that failed for good and waits for an
	// operator ("" when none).
	Attention string
	// Actions are outcomes of staff and requester actions decided since the
	// last write, recorded in the same transaction (whatever Seq says) and
	// announced with NOTIFY on ActionsChannel once committed.
	Actions []ActionOutcome

	// Record is what the request's compliance record needs beyond the
	// fields above (see records.go); written in the same transaction.
	Record RecordFacts
	// LegalHold is the request's legal hold; nil (runs before legal holds)
	// leaves the stored one as it is, and so does a write with Seq 0 (the
	// reconciliation's final state of an ended workflow, whose own last
	// write recorded its hold): once a workflow has ended, only the API
	// changes the hold (SetEndedLegalHold).
	LegalHold *LegalHold
	// Audits are audit events appended to the trail in the same
	// transaction, in order (whatever Seq says), each once by its Key as
	// AppendAuditTx does: a retried write stores none twice.
	Audits []Audit `json:",omitempty"`
}

// ProjectedPause is the pause of a request's clock under way.
type ProjectedPause struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"` // identity or clarification
	By     string    `json:"by,omitempty"`
}

// Scan reads a pause from its jsonb column.
func (p *ProjectedPause) Scan(src any) error {
	b, ok := src.([]byte)
	if !ok {
		return fmt.Errorf("store: pause: want jsonb, got %T", src)
	}
	return json.Unmarshal(b, p)
}

// TimelineEntry is one thing that happened to a request.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Actor  string    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// ActionsChannel is the Postgres NOTIFY channel on which each recorded
// action outcome is announced; the payload is "<request id>:<action id>".
const ActionsChannel = "dsar_actions"

// ActionOutcome is the workflow's answer to one action: applied, or
// refused with an error code and reason. Status is the request's status
// once the action was handled.
type ActionOutcome struct {
	ActionID string      `db:"action_id" json:"action_id"`
	Signal   string      `db:"signal" json:"signal"`
	Applied  bool        `db:"applied" json:"applied"`
	Code     string      `db:"code" json:"code,omitempty"`     // dsar error code when refused
	Reason   string      `db:"reason" json:"reason,omitempty"` // why it was refused, for people
	Status   dsar.Status `db:"status" json:"status"`
	// Deadline is the request's deadline once the action was handled, so
	// that a repeat of an extension answers with the deadline it set (nil:
	// not recorded; the request's current deadline is shown instead).
	Deadline *time.Time `db:"deadline" json:"deadline,omitempty"`
	ActedAt  time.Time  `db:"acted_at" json:"acted_at"` // when the person acted (clamped)
}

// ProjectedTask is one data source's task of a projected request. AssignedBy
// and CompletedBy are staff user ids; ids of no existing user are stored as
// NULL (the audit trail keeps who acted).
type ProjectedTask struct {
	DataSourceID   string
	Status         string
	AssignedAt     time.Time
	AssignedBy     string
	LastActivityAt time.Time
	CompletedAt    *time.Time
	CompletedBy    string
	Note           string
	Outcome        string
	RecordCount    *int64
	DeclineReason  string
	AssigneeID     string      // a user id; one of no existing user is stored as NULL
	Mode           string      // the source's mode when assigned ("" is manual)
	Automation     *Automation // an automated task's progress; nil for a manual one
}

// Project writes p over the request's row and its tasks in one
// transaction, unless the row holds a newer projection already (a Seq not
// above the stored one): such a stale write changes nothing of the request
// and its tasks, and is no error. It is idempotent: writing the same
// projection twice leaves the same rows. In the same transaction it appends
// p.Audits to the audit trail and records p.Actions (the first outcome of an
// action id is kept), announcing each on ActionsChannel; a failure stores
// none of it. A write with Seq 0 (the reconciliation's final state of an
// ended workflow) keeps, after the workflow's timeline, the stored entries
// that timeline lacks: those the API wrote once the workflow had ended
// (SetEndedLegalHold). ENOTFOUND when the request row does not exist: the audit
// events are stored all the same (the trail keeps what happened), nothing
// else. A task whose data source does not exist is skipped.
func (db *DB) Project(ctx context.Context, p Projection) error {
	reasons := p.CloseReasons
	if reasons == nil {
		reasons = []string{}
	}
	var timeline *string // nil keeps the stored timeline (workflows before timelines send none)
	if p.Timeline != nil {
		b, err := json.Marshal(p.Timeline)
		if err != nil {
			return fmt.Errorf("store: project request %s: timeline: %w", p.RequestID, err)
		}
		timeline = new(string(b))
	}
	gone := false
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE requests SET status = $2, deadline = $3, overdue = $4, extended_at = $5,
			extension_days = $6, extension_reason = $7, email_verified_at = $8, identity_decided_at = $9,
			identity_verified = $10, closed_at = $11, close_reasons = $12, close_note = $13,
			projection_seq = greatest(projection_seq, $14), timeline = CASE WHEN $14 = 0 AND $15::jsonb IS NOT NULL
				THEN $15::jsonb || coalesce((SELECT jsonb_agg(s.e ORDER BY s.n) FROM jsonb_array_elements(requests.timeline) WITH ORDINALITY s(e, n)
					WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements($15::jsonb) w(e) WHERE w.e = s.e)), '[]'::jsonb)
				ELSE coalesce($15::jsonb, timeline) END,
			attention = $16, identity_note = $17, closing_mail_failed = $18, package_required = $19,
			decided_by = (SELECT u.id FROM users u WHERE u.id::text = $20), appeal_until = $21, accepted = true, updated_at = now(),
			legal_hold_on = coalesce($22, legal_hold_on), legal_hold_reason = coalesce($23, legal_hold_reason),
			legal_hold_since = CASE WHEN $22 IS NULL THEN legal_hold_since ELSE $24 END,
			legal_hold_by = coalesce($25, legal_hold_by),
			original_deadline = coalesce($26, original_deadline), acknowledge_by = coalesce($27, acknowledge_by),
			acknowledged_at = coalesce($28, acknowledged_at), extension_notice_by = coalesce($29, extension_notice_by),
			pause_allowed = $30, paused = $31::jsonb, identity_not_required = $32,
			deadline_why = coalesce(nullif($33, ''), deadline_why)
			WHERE id = $1 AND ($14 = 0 OR projection_seq < $14)`
		var holdOn *bool
		var holdReason, holdBy *string
		var holdSince *time.Time
		if h := p.LegalHold; h != nil && p.Seq != 0 {
			holdOn, holdReason, holdBy = &h.On, &h.Reason, &h.By
			if h.On {
				holdSince = &h.Since
			}
		}
		var paused *string
		if p.Paused != nil {
			b, err := json.Marshal(p.Paused)
			if err != nil {
				return fmt.Errorf("store: project request %s: pause: %w", p.RequestID, err)
			}
			paused = new(string(b))
		}
		res, err := tx.ExecContext(ctx, q, p.RequestID, p.Status, p.Deadline, p.Overdue, p.ExtendedAt,
			p.ExtensionDays, p.ExtensionReason, p.EmailVerifiedAt, p.IdentityDecidedAt, p.IdentityVerified,
			p.ClosedAt, pq.Array(reasons), p.CloseNote, p.Seq, timeline, p.Attention, p.IdentityNote,
			p.ClosingMailFailed, p.PackageRequired, p.Decision, p.AppealUntil, holdOn, holdReason, holdSince, holdBy,
			p.OriginalDeadline, p.AcknowledgeBy, p.AcknowledgedAt, p.ExtensionNoticeBy, p.PauseAllowed, paused,
			p.IdentityNotRequired, p.DeadlineWhy)
		if err != nil {
			return fmt.Errorf("store: project request %s: %w", p.RequestID, Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists bool
			if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM requests WHERE id = $1)`, p.RequestID); err != nil {
				return fmt.Errorf("store: project request %s: %w", p.RequestID, Translate(err))
			}
			if !exists {
				gone = true
				return db.appendAudits(ctx, tx, p.Audits)
			}
			if err := db.appendAudits(ctx, tx, p.Audits); err != nil {
				return err
			}
			return recordActions(ctx, tx, p.RequestID, p.Actions) // a newer projection is stored
		}
		if p.Appeal != nil {
			if err := insertAppeal(ctx, tx, p.RequestID, p.Appeal); err != nil {
				return err
			}
		}
		for _, t := range p.Tasks {
			const qt = `INSERT INTO tasks (request_id, data_source_id, status, assigned_at, assigned_by,
					last_activity_at, completed_at, completed_by, note, outcome, record_count, decline_reason, assignee_id,
					mode, automation)
				SELECT $1, ds.id, $3, $4, (SELECT u.id FROM users u WHERE u.id::text = $5),
					$6, $7, (SELECT u.id FROM users u WHERE u.id::text = $8), $9, $10, $11, $12,
					(SELECT u.id FROM users u WHERE u.id::text = $13), $14, $15::jsonb
				FROM data_sources ds WHERE ds.id::text = $2
				ON CONFLICT (request_id, data_source_id) DO UPDATE SET status = excluded.status,
					last_activity_at = excluded.last_activity_at, completed_at = excluded.completed_at,
					completed_by = excluded.completed_by, note = excluded.note, outcome = excluded.outcome,
					record_count = excluded.record_count, decline_reason = excluded.decline_reason,
					assignee_id = excluded.assignee_id, mode = excluded.mode, automation = excluded.automation`
			mode := t.Mode
			if mode == "" {
				mode = string(dsar.SourceManual)
			}
			auto, err := automationValue(t.Automation)
			if err != nil {
				return fmt.Errorf("store: project task %s of %s: %w", t.DataSourceID, p.RequestID, err)
			}
			if _, err := tx.ExecContext(ctx, qt, p.RequestID, t.DataSourceID, t.Status, t.AssignedAt, t.AssignedBy,
				t.LastActivityAt, t.CompletedAt, t.CompletedBy, t.Note, t.Outcome, t.RecordCount, t.DeclineReason,
				t.AssigneeID, mode, auto); err != nil {
				return fmt.Errorf("store: project task %s of %s: %w", t.DataSourceID, p.RequestID, Translate(err))
			}
		}
		if err := upsertRecord(ctx, tx, p); err != nil {
			return err
		}
		// The audit rows last: the chain's lock is taken after the
		// request's row, as every other writer of both does, and held
		// for the shortest time.
		if err := db.appendAudits(ctx, tx, p.Audits); err != nil {
			return err
		}
		return recordActions(ctx, tx, p.RequestID, p.Actions)
	})
	if err == nil && gone {
		return dsar.Errorf(dsar.ENOTFOUND, "no request %s to project", p.RequestID)
	}
	return err
}

// appendAudits appends evs to the audit trail inside tx, in order.
func (db *DB) appendAudits(ctx context.Context, tx *sqlx.Tx, evs []Audit) error {
	for _, a := range evs {
		if _, err := db.AppendAuditTx(ctx, tx, a); err != nil {
			return err
		}
	}
	return nil
}

// HasPortalAccountFor reports whether a portal account exists for the
// email whose blind index is emailHash.
func (db *DB) HasPortalAccountFor(ctx context.Context, emailHash []byte) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM portal_accounts WHERE email_hash = $1)`
	var ok bool
	if err := db.GetContext(ctx, &ok, q, emailHash); err != nil {
		return false, fmt.Errorf("store: portal account lookup: %w", err)
	}
	return ok, nil
}

// RequestTimeline is a request's timeline as its workflow last projected
// it (empty for requests projected before timelines were).
func (db *DB) RequestTimeline(ctx context.Context, requestID string) ([]TimelineEntry, error) {
	var raw []byte
	if err := db.GetContext(ctx, &raw, `SELECT timeline FROM requests WHERE id = $1`, requestID); err != nil {
		return nil, fmt.Errorf("store: timeline of %s: %w", requestID, Translate(err))
	}
	tl := []TimelineEntry{}
	if err := json.Unmarshal(raw, &tl); err != nil {
		return nil, fmt.Errorf("store: timeline of %s: %w", requestID, err)
	}
	return tl, nil
}
