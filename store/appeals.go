package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// ProjectedAppeal is the appeal as the request's workflow knows it: it
// inserts the row when it takes the requester's appeal; from then on the
// appeal's own workflow writes it (ProjectAppeal).
type ProjectedAppeal struct {
	ID        string
	Status    dsar.AppealStatus
	FiledAt   time.Time
	Deadline  time.Time
	DecidedAt *time.Time
}

// AppealProjection is what the appeal's workflow writes of its state.
type AppealProjection struct {
	ID          string
	RequestID   string
	Status      dsar.AppealStatus
	Deadline    time.Time
	Overdue     bool
	DecidedAt   *time.Time
	DecidedBy   string
	Explanation string
	// Seq counts the appeal workflow's writes: a write not above the stored
	// one changes nothing of the appeal (its Actions are still recorded).
	Seq int64
	// Actions are the outcomes of the decisions taken since the last write,
	// recorded with the request's actions.
	Actions []ActionOutcome
}

// insertAppeal stores a new appeal in tx; one stored already stays.
func insertAppeal(ctx context.Context, tx *sqlx.Tx, requestID string, a *ProjectedAppeal) error {
	const q = `INSERT INTO appeals (id, request_id, status, filed_at, deadline) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`
	if _, err := tx.ExecContext(ctx, q, a.ID, requestID, a.Status, a.FiledAt, a.Deadline); err != nil {
		return fmt.Errorf("store: appeal of %s: %w", requestID, Translate(err))
	}
	return nil
}

// ProjectAppeal writes the appeal's state, unless a newer write is stored,
// and records the outcomes of its actions, in one transaction. ENOTFOUND
// when the appeal row does not exist (the request's workflow inserts it
// before it starts the appeal's).
func (db *DB) ProjectAppeal(ctx context.Context, p AppealProjection) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE appeals SET status = $2, deadline = $3, overdue = $4, decided_at = $5,
			decided_by = (SELECT u.id FROM users u WHERE u.id::text = $6), explanation = $7, seq = $8, updated_at = now()
			WHERE id = $1 AND seq < $8`
		res, err := tx.ExecContext(ctx, q, p.ID, p.Status, p.Deadline, p.Overdue, p.DecidedAt, p.DecidedBy, p.Explanation, p.Seq)
		if err != nil {
			return fmt.Errorf("store: project appeal %s: %w", p.ID, Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists bool
			if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM appeals WHERE id = $1)`, p.ID); err != nil {
				return fmt.Errorf("store: project appeal %s: %w", p.ID, Translate(err))
			}
			if !exists {
				return dsar.Errorf(dsar.ENOTFOUND, "no appeal %s to project", p.ID)
			}
		} else if err := recordAppeal(ctx, tx, p.ID); err != nil {
			return err
		}
		return recordActions(ctx, tx, p.RequestID, p.Actions)
	})
}

// Appeal is one requester's appeal of the decision on their request.
type Appeal struct {
	ID          string            `db:"id" json:"id"`
	RequestID   string            `db:"request_id" json:"request_id"`
	Reference   string            `db:"-" json:"reference"`
	Status      dsar.AppealStatus `db:"status" json:"status"`
	FiledAt     time.Time         `db:"filed_at" json:"filed_at"`
	Deadline    time.Time         `db:"deadline" json:"deadline"`
	Overdue     bool              `db:"overdue" json:"overdue"`
	DecidedAt   *time.Time        `db:"decided_at" json:"decided_at,omitempty"`
	DecidedBy   *string           `db:"decided_by" json:"decided_by,omitempty"`
	Explanation string            `db:"explanation" json:"explanation,omitempty"`
	// RequestDecidedBy is who decided the request: the one staff member
	// who may not decide its appeal.
	RequestDecidedBy *string `db:"request_decided_by" json:"request_decided_by,omitempty"`
}

const appealColumns = `a.id::text AS id, a.request_id::text AS request_id, a.status, a.filed_at, a.deadline, a.overdue,
	a.decided_at, a.decided_by::text AS decided_by, a.explanation, r.decided_by::text AS request_decided_by`

// Appeals lists the appeals, open ones first by deadline, then the decided
// ones newest first; status, when set, keeps only those in it.
func (db *DB) Appeals(ctx context.Context, status dsar.AppealStatus) ([]Appeal, error) {
	const q = `SELECT ` + appealColumns + ` FROM appeals a JOIN requests r ON r.id = a.request_id
		WHERE ($1 = '' OR a.status = $1)
		ORDER BY a.status <> 'open', CASE WHEN a.status = 'open' THEN a.deadline END, a.decided_at DESC, a.id LIMIT 500`
	out := []Appeal{}
	if err := db.SelectContext(ctx, &out, q, status); err != nil {
		return nil, fmt.Errorf("store: appeals: %w", err)
	}
	for i := range out {
		out[i].Reference = dsar.Reference(out[i].RequestID)
	}
	return out, nil
}

// AppealByID returns one appeal. ENOTFOUND for none.
func (db *DB) AppealByID(ctx context.Context, id string) (Appeal, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Appeal{}, dsar.Errorf(dsar.ENOTFOUND, "no such appeal")
	}
	return db.appealWhere(ctx, "a.id = $1", id)
}

// AppealOfRequest returns the appeal of a request. ENOTFOUND for none.
func (db *DB) AppealOfRequest(ctx context.Context, requestID string) (Appeal, error) {
	if _, err := uuid.Parse(requestID); err != nil {
		return Appeal{}, dsar.Errorf(dsar.ENOTFOUND, "no such appeal")
	}
	return db.appealWhere(ctx, "a.request_id = $1", requestID)
}

func (db *DB) appealWhere(ctx context.Context, where string, arg string) (Appeal, error) {
	q := `SELECT ` + appealColumns + ` FROM appeals a JOIN requests r ON r.id = a.request_id WHERE ` + where
	var a Appeal
	if err := db.GetContext(ctx, &a, q, arg); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return Appeal{}, dsar.Errorf(dsar.ENOTFOUND, "no such appeal")
		}
		return Appeal{}, fmt.Errorf("store: appeal: %w", err)
	}
	a.Reference = dsar.Reference(a.RequestID)
	return a, nil
}
