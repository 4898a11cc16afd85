package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// SetStaffPassword sets a staff user's own new password (passwordHash from
// crypto.HashPassword), ends every other session of the user (all but the
// one with token keepSession) and audits it, the user as the actor.
// ENOTFOUND for no such user.
func (db *DB) SetStaffPassword(ctx context.Context, userID, passwordHash, keepSession string) error {
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE users SET password_hash = $2 WHERE id = $1`
		res, err := tx.ExecContext(ctx, q, userID, passwordHash)
		if err != nil {
			return Translate(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return dsar.Errorf(dsar.ENOTFOUND, "no such user")
		}
		const qEnd = `UPDATE sessions SET revoked_at = now()
			WHERE kind = 'staff' AND user_id = $1 AND revoked_at IS NULL AND token_hash <> $2`
		res, err = tx.ExecContext(ctx, qEnd, userID, crypto.HashToken(keepSession))
		if err != nil {
			return fmt.Errorf("store: end other staff sessions: %w", err)
		}
		ended, _ := res.RowsAffected()
		_, err = db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorStaff, ActorID: userID,
			Action: dsar.AuditStaffPasswordChanged, Detail: map[string]any{"other_sessions_ended": ended}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set password of %s: %w", userID, err)
	}
	db.forgetSessions()
	return nil
}
