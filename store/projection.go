package store

import (
	"context"
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
	ClosedAt          *time.Time
	CloseReasons      []string
	CloseNote         string
	Tasks             []ProjectedTask

	// Seq counts the workflow's projection writes (carried across
	// continue-as-new): a write with a Seq not above the stored one changes
	// nothing of the request and its tasks, so a late retry never
	// overwrites newer state. Zero (workflows before sequence numbers)
	// always writes.
	Seq int64
	// Timeline is the request's timeline, so that the request detail reads
	// Postgres only.
	Timeline []TimelineEntry
	// Attention names a step that failed for good and waits for an
	// operator ("" when none).
	Attention string
	// Actions are outcomes of staff and requester actions decided since the
	// last write, recorded in the same transaction (whatever Seq says) and
	// announced with NOTIFY on ActionsChannel once committed.
	Actions []ActionOutcome
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
	ActedAt  time.Time   `db:"acted_at" json:"acted_at"` // when the person acted (clamped)
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
}

// Project writes p over the request's row and its tasks in one
// transaction. It is idempotent: writing the same projection twice leaves
// the same rows. ENOTFOUND when the request row does not exist. A task whose
// data source does not exist is skipped.
func (db *DB) Project(ctx context.Context, p Projection) error {
	reasons := p.CloseReasons
	if reasons == nil {
		reasons = []string{}
	}
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE requests SET status = $2, deadline = $3, overdue = $4, extended_at = $5,
			extension_days = $6, extension_reason = $7, email_verified_at = $8, identity_decided_at = $9,
			identity_verified = $10, closed_at = $11, close_reasons = $12, close_note = $13,
			accepted = true, updated_at = now()
			WHERE id = $1`
		res, err := tx.ExecContext(ctx, q, p.RequestID, p.Status, p.Deadline, p.Overdue, p.ExtendedAt,
			p.ExtensionDays, p.ExtensionReason, p.EmailVerifiedAt, p.IdentityDecidedAt, p.IdentityVerified,
			p.ClosedAt, pq.Array(reasons), p.CloseNote)
		if err != nil {
			return fmt.Errorf("store: project request %s: %w", p.RequestID, Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return dsar.Errorf(dsar.ENOTFOUND, "no request %s to project", p.RequestID)
		}
		for _, t := range p.Tasks {
			const qt = `INSERT INTO tasks (request_id, data_source_id, status, assigned_at, assigned_by,
					last_activity_at, completed_at, completed_by, note)
				SELECT $1, ds.id, $3, $4, (SELECT u.id FROM users u WHERE u.id::text = $5),
					$6, $7, (SELECT u.id FROM users u WHERE u.id::text = $8), $9
				FROM data_sources ds WHERE ds.id::text = $2
				ON CONFLICT (request_id, data_source_id) DO UPDATE SET status = excluded.status,
					last_activity_at = excluded.last_activity_at, completed_at = excluded.completed_at,
					completed_by = excluded.completed_by, note = excluded.note`
			if _, err := tx.ExecContext(ctx, qt, p.RequestID, t.DataSourceID, t.Status, t.AssignedAt, t.AssignedBy,
				t.LastActivityAt, t.CompletedAt, t.CompletedBy, t.Note); err != nil {
				return fmt.Errorf("store: project task %s of %s: %w", t.DataSourceID, p.RequestID, Translate(err))
			}
		}
		return nil
	})
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
