package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// A mistyped email address is corrected in two steps: the API stages the
// corrected PII, then the request's workflow, once it accepts the
// correction, applies it. A correction the workflow refuses is never
// applied, so a verified address is never replaced.

// StageEmailCorrection seals request id's PII with email in place of the
// address it was given, beside the current PII, for the workflow to apply
// when it takes action actionID (a later staging replaces it). EGONE once
// the PII is erased; ENOTFOUND for no such request.
func (db *DB) StageEmailCorrection(ctx context.Context, keys *crypto.Keyring, id, email, actionID string) error {
	p, err := db.RequestPII(ctx, keys, id)
	if err != nil {
		return err
	}
	p.Email = email
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dk, err := db.dataKey(ctx, keys, id)
	if err != nil {
		return err
	}
	sealed, err := crypto.Seal(dk, raw, piiAAD(id))
	if err != nil {
		return err
	}
	const q = `UPDATE requests SET corrected_pii = $2, corrected_email_hash = $3, corrected_action = $4
		WHERE id = $1 AND pii IS NOT NULL`
	res, err := db.ExecContext(ctx, q, id, sealed, keys.BlindIndex(email), actionID)
	if err != nil {
		return fmt.Errorf("store: stage email correction of %s: %w", id, Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return dsar.Errorf(dsar.EGONE, "the request's personal data has been erased")
	}
	return nil
}

// ApplyEmailCorrection puts the PII staged by action actionID in place of
// the current one and voids the verification links sent to the old
// address. It reports whether that action's correction is the one in
// place: true when applied now or before (a retry), false when another
// action's correction was staged instead.
func (db *DB) ApplyEmailCorrection(ctx context.Context, id, actionID string) (bool, error) {
	var applied bool
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var staged struct {
			Action *string `db:"corrected_action"`
			Staged bool    `db:"staged"`
		}
		const qs = `SELECT corrected_action, corrected_pii IS NOT NULL AS staged FROM requests WHERE id = $1 FOR UPDATE`
		if err := tx.GetContext(ctx, &staged, qs, id); err != nil {
			return fmt.Errorf("store: email correction of %s: %w", id, Translate(err))
		}
		if staged.Action == nil || *staged.Action != actionID {
			return nil
		}
		applied = true
		if !staged.Staged {
			return nil // applied by an earlier attempt
		}
		const q = `UPDATE requests SET pii = corrected_pii, email_hash = corrected_email_hash,
				corrected_pii = NULL, corrected_email_hash = NULL, updated_at = now()
			WHERE id = $1 AND pii IS NOT NULL`
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("store: apply email correction of %s: %w", id, Translate(err))
		}
		// The request's hold on intake's caps moves to the corrected
		// address: the mistyped one gets its slot back.
		const qh = `UPDATE intake_holds h SET email_key = r.email_hash FROM requests r
			WHERE h.request_id = $1 AND r.id = h.request_id AND h.email_key IS NOT NULL`
		if _, err := tx.ExecContext(ctx, qh, id); err != nil {
			return fmt.Errorf("store: move the intake hold of %s: %w", id, Translate(err))
		}
		const qt = `UPDATE tokens SET expires_at = least(expires_at, now()) WHERE request_id = $1 AND kind = $2 AND used_at IS NULL`
		if _, err := tx.ExecContext(ctx, qt, id, TokenEmailVerification); err != nil {
			return fmt.Errorf("store: void verification links of %s: %w", id, Translate(err))
		}
		return nil
	})
	return applied, err
}
