package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// LegalHoldChange is what placing or lifting a legal hold records: the
// hold it leaves (off: the zero hold), the timeline entry and the audit
// event.
type LegalHoldChange struct {
	Hold     LegalHold
	Timeline TimelineEntry
	Audit    Audit
}

// SetEndedLegalHold places or lifts the legal hold of a request whose
// workflow has ended: the workflow records the holds changed while it runs
// with its projection; after its end nothing else writes them, so the API
// writes them here. decide is called under the row's lock with the hold
// as stored: its error refuses the change and nothing is written;
// otherwise, in one transaction, the change's hold goes into the hold's
// columns (the ones the retention sweep, the reconciliation and the
// request page read) and the compliance record's legal_hold, its entry
// onto the timeline, the action's outcome o (applied, replacing a refusal
// the workflow recorded for the same action as it ended) is recorded and
// announced on ActionsChannel, and its audit event appended. It returns
// the outcome as recorded (with the request's status). ENOTFOUND for no
// such request.
func (db *DB) SetEndedLegalHold(ctx context.Context, requestID string, o ActionOutcome,
	decide func(cur LegalHold) (LegalHoldChange, error)) (ActionOutcome, error) {
	if _, err := uuid.Parse(requestID); err != nil {
		return ActionOutcome{}, dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var cur struct {
			Status dsar.Status `db:"status"`
			On     bool        `db:"legal_hold_on"`
			Reason string      `db:"legal_hold_reason"`
			Since  *time.Time  `db:"legal_hold_since"`
			By     string      `db:"legal_hold_by"`
		}
		const qr = `SELECT status, legal_hold_on, legal_hold_reason, legal_hold_since, legal_hold_by
			FROM requests WHERE id = $1 AND accepted FOR UPDATE`
		if err := tx.GetContext(ctx, &cur, qr, requestID); err != nil {
			return fmt.Errorf("store: legal hold of %s: %w", requestID, Translate(err))
		}
		stored := LegalHold{On: cur.On, Reason: cur.Reason, By: cur.By}
		if cur.On && cur.Since != nil {
			stored.Since = *cur.Since
		}
		ch, err := decide(stored)
		if err != nil {
			return err
		}
		line, err := json.Marshal([]TimelineEntry{ch.Timeline})
		if err != nil {
			return fmt.Errorf("store: legal hold of %s: timeline: %w", requestID, err)
		}
		h := ch.Hold
		var since *time.Time
		if h.On {
			since = &h.Since
		}
		const qh = `UPDATE requests SET legal_hold_on = $2, legal_hold_reason = $3, legal_hold_since = $4,
			legal_hold_by = $5, timeline = timeline || $6::jsonb, updated_at = now() WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qh, requestID, h.On, h.Reason, since, h.By, string(line)); err != nil {
			return fmt.Errorf("store: legal hold of %s: %w", requestID, Translate(err))
		}
		const qc = `UPDATE compliance_records SET legal_hold = $2, updated_at = now() WHERE request_id = $1`
		if _, err := tx.ExecContext(ctx, qc, requestID, h.On); err != nil {
			return fmt.Errorf("store: legal hold of %s: compliance record: %w", requestID, Translate(err))
		}
		const qd = `DELETE FROM request_actions WHERE request_id = $1 AND action_id = $2 AND NOT applied`
		if _, err := tx.ExecContext(ctx, qd, requestID, o.ActionID); err != nil {
			return fmt.Errorf("store: legal hold of %s: refusal: %w", requestID, Translate(err))
		}
		o.Applied, o.Code, o.Reason, o.Status = true, "", "", cur.Status
		if err := recordActions(ctx, tx, requestID, []ActionOutcome{o}); err != nil {
			return err
		}
		ev := ch.Audit
		ev.RequestID = requestID
		_, err = db.AppendAuditTx(ctx, tx, ev)
		return err
	})
	if err != nil {
		return ActionOutcome{}, err
	}
	return o, nil
}
