package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// SetHandler makes userID the staff member who handles request requestID
// ("" for nobody) and records it in the audit trail as done by the staff
// user actorID, both in one transaction. It returns the handler now (nil
// for nobody). Setting the handler a request has already changes and
// records nothing. Only staff set it: the workflow's projection never
// writes requests.handler_id.
//
// ENOTFOUND for no accepted request; EINVALID naming user_id when userID is
// not an active user of a role that handles requests.
func (db *DB) SetHandler(ctx context.Context, requestID, userID, actorID string) (*string, error) {
	if _, err := uuid.Parse(requestID); err != nil {
		return nil, dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	var handler *string
	if userID != "" {
		handler = &userID
	}
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var old *string
		const qOld = `SELECT handler_id FROM requests WHERE id = $1 AND accepted FOR UPDATE`
		if err := tx.GetContext(ctx, &old, qOld, requestID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return dsar.Errorf(dsar.ENOTFOUND, "no such request")
			}
			return fmt.Errorf("store: handler of %s: %w", requestID, Translate(err))
		}
		if handler != nil {
			if err := checkHandler(ctx, tx, userID); err != nil {
				return err
			}
		}
		if (old == nil && handler == nil) || (old != nil && handler != nil && *old == *handler) {
			return nil
		}
		const q = `UPDATE requests SET handler_id = $2, updated_at = now() WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, requestID, handler); err != nil {
			return fmt.Errorf("store: set handler of %s: %w", requestID, Translate(err))
		}
		_, err := db.AppendAuditTx(ctx, tx, Audit{RequestID: requestID, ActorKind: ActorStaff, ActorID: actorID,
			Action: dsar.AuditHandlerSet, Detail: map[string]any{"handler_id": handler, "previous_handler_id": old}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return handler, nil
}

// checkHandler refuses a user who may not handle requests, naming user_id;
// the user's row is locked against a change of role until the transaction
// ends.
func checkHandler(ctx context.Context, tx *sqlx.Tx, userID string) error {
	invalid := func(why string) error { return dsar.Invalid(map[string]string{"user_id": why}) }
	if _, err := uuid.Parse(userID); err != nil {
		return invalid("is not a staff user's id")
	}
	var u struct {
		Role     dsar.Role `db:"role"`
		Disabled bool      `db:"disabled"`
	}
	const q = `SELECT role, disabled_at IS NOT NULL AS disabled FROM users WHERE id = $1 FOR SHARE`
	if err := tx.GetContext(ctx, &u, q, userID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return invalid("is not a staff user's id")
		}
		return fmt.Errorf("store: handler %s: %w", userID, Translate(err))
	}
	switch {
	case u.Disabled:
		return invalid("is a disabled user")
	case !u.Role.HandlesRequests():
		return invalid("is a data source owner; requests are handled by org owners, admins and managers")
	}
	return nil
}
