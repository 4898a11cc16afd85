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
// address it was given, beside the current PII, for the workflow to apply.
// EGONE once the PII is erased; ENOTFOUND for no such request.
func (db *DB) StageEmailCorrection(ctx context.Context, keys *crypto.Keyring, id, email string) error {
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
	const q = `UPDATE requests SET corrected_pii = $2, corrected_email_hash = $3 WHERE id = $1 AND pii IS NOT NULL`
	res, err := db.ExecContext(ctx, q, id, sealed, keys.BlindIndex(email))
	if err != nil {
		return fmt.Errorf("store: stage email correction of %s: %w", id, Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return dsar.Errorf(dsar.EGONE, "the request's personal data has been erased")
	}
	return nil
}

// ApplyEmailCorrection puts the staged PII in place of the current one and
// voids the verification links sent to the old address. Nothing staged
// (applied already) is no error.
func (db *DB) ApplyEmailCorrection(ctx context.Context, id string) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE requests SET pii = corrected_pii, email_hash = corrected_email_hash,
				corrected_pii = NULL, corrected_email_hash = NULL, updated_at = now()
			WHERE id = $1 AND corrected_pii IS NOT NULL AND pii IS NOT NULL`
		res, err := tx.ExecContext(ctx, q, id)
		if err != nil {
			return fmt.Errorf("store: apply email correction of %s: %w", id, Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		const qt = `UPDATE tokens SET expires_at = least(expires_at, now()) WHERE request_id = $1 AND kind = $2 AND used_at IS NULL`
		if _, err := tx.ExecContext(ctx, qt, id, TokenEmailVerification); err != nil {
			return fmt.Errorf("store: void verification links of %s: %w", id, Translate(err))
		}
		return nil
	})
}
