package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// SignInAddress is what the portal knows of an email address, by its blind
// index: whether a sign-in link may be sent to it.
type SignInAddress struct {
	// Known: requests were made with the address (accepted ones, closed
	// and erased ones too), or it has a portal account.
	Known bool `db:"known"`
	// LatestRequestID is the newest accepted request made with it, "" if
	// none: the request a mail about the address is recorded on.
	LatestRequestID string `db:"latest_request_id"`
}

// PortalSignInAddress looks up the email whose blind index is emailHash.
func (db *DB) PortalSignInAddress(ctx context.Context, emailHash []byte) (SignInAddress, error) {
	const q = `SELECT coalesce(latest.id::text, '') AS latest_request_id,
			latest.id IS NOT NULL OR EXISTS (SELECT 1 FROM portal_accounts WHERE email_hash = $1) AS known
		FROM (SELECT 1) one
		LEFT JOIN LATERAL (SELECT r.id FROM requests r WHERE r.accepted AND r.email_hash = $1
			ORDER BY r.submitted_at DESC, r.id DESC LIMIT 1) latest ON true`
	var a SignInAddress
	if err := db.GetContext(ctx, &a, q, emailHash); err != nil {
		return SignInAddress{}, fmt.Errorf("store: sign-in address: %w", err)
	}
	return a, nil
}

// SignInWithLink uses the sign-in link token raw and returns the portal
// account of the email it was sent to, opening one without a password if
// there is none yet (created reports that). It records the sign-in as the
// account's last login and audits it. Errors: ENOTFOUND for an unknown or
// malformed token, EGONE for a used or expired one.
func (db *DB) SignInWithLink(ctx context.Context, raw string) (acc PortalAccount, created bool, err error) {
	unknown := &dsar.Error{Code: dsar.ENOTFOUND, Message: "this sign-in link is not valid", Fields: map[string]string{"token": "is unknown"}}
	if !crypto.ValidToken(raw) {
		return PortalAccount{}, false, unknown
	}
	err = db.Tx(ctx, func(tx *sqlx.Tx) error {
		var t Token
		const q = `SELECT token_hash, kind, request_id, email_hash, expires_at, used_at, created_at
			FROM tokens WHERE token_hash = $1 AND kind = $2 FOR UPDATE`
		if err := tx.GetContext(ctx, &t, q, crypto.HashToken(raw), TokenPortalSignIn); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return unknown
			}
			return fmt.Errorf("store: sign-in token: %w", err)
		}
		gone := func(msg string) error {
			return &dsar.Error{Code: dsar.EGONE, Message: msg, Fields: map[string]string{"token": msg}}
		}
		switch {
		case t.UsedAt != nil:
			return gone("this sign-in link has already been used")
		case time.Now().After(t.ExpiresAt):
			return gone("this sign-in link has expired")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET used_at = now() WHERE token_hash = $1`, t.Hash); err != nil {
			return fmt.Errorf("store: use sign-in token: %w", err)
		}
		// An account opened by a link has no password ('') until one is set.
		const qNew = `INSERT INTO portal_accounts (id, email_hash, password_hash, last_login_at) VALUES ($1, $2, '', now())
			ON CONFLICT (email_hash) DO NOTHING RETURNING ` + portalAccountColumns
		switch err := tx.GetContext(ctx, &acc, qNew, uuid.NewString(), t.EmailHash); {
		case err == nil:
			created = true
		case errors.Is(err, sql.ErrNoRows):
			const qOld = `UPDATE portal_accounts SET last_login_at = now() WHERE email_hash = $1 RETURNING ` + portalAccountColumns
			if err := tx.GetContext(ctx, &acc, qOld, t.EmailHash); err != nil {
				return fmt.Errorf("store: sign in with link: %w", Translate(err))
			}
		default:
			return fmt.Errorf("store: sign in with link: %w", Translate(err))
		}
		if created {
			if _, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorRequester, ActorID: acc.ID,
				Action: dsar.AuditPortalAccountCreated, Detail: map[string]any{"token_kind": TokenPortalSignIn}}); err != nil {
				return err
			}
		}
		_, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorRequester, ActorID: acc.ID,
			Action: dsar.AuditPortalSignedInByLink, Detail: map[string]any{"account_created": created}})
		return err
	})
	if err != nil {
		return PortalAccount{}, false, err
	}
	return acc, created, nil
}

// SetPortalPassword sets the account's password (passwordHash from
// crypto.HashPassword), ends every other session of the account (all but
// the one with token keepSession) and audits it. ENOTFOUND for no such
// account.
func (db *DB) SetPortalPassword(ctx context.Context, accountID, passwordHash, keepSession string) error {
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var hadPassword bool
		const q = `UPDATE portal_accounts a SET password_hash = $2 FROM portal_accounts old
			WHERE a.id = $1 AND old.id = a.id RETURNING old.password_hash <> '' AS had_password`
		if err := tx.GetContext(ctx, &hadPassword, q, accountID, passwordHash); err != nil {
			return Translate(err)
		}
		const qEnd = `UPDATE sessions SET revoked_at = now()
			WHERE kind = 'portal' AND portal_account_id = $1 AND revoked_at IS NULL AND token_hash <> $2`
		if _, err := tx.ExecContext(ctx, qEnd, accountID, crypto.HashToken(keepSession)); err != nil {
			return fmt.Errorf("store: end other portal sessions: %w", err)
		}
		_, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorRequester, ActorID: accountID,
			Action: dsar.AuditPortalPasswordSet, Detail: map[string]any{"changed": hadPassword}})
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set portal password of %s: %w", accountID, err)
	}
	db.forgetSessions()
	return nil
}

// PortalRequestDetail is one request as its requester reads it in the
// portal: PortalRequest with the extension and the closing reasons. It holds
// no PII (the description is read separately, while the request is open).
type PortalRequestDetail struct {
	PortalRequest
	OriginalDeadline time.Time      `db:"original_deadline"`
	ExtendedAt       *time.Time     `db:"extended_at"`
	ExtensionReason  string         `db:"extension_reason"`
	CloseReasons     pq.StringArray `db:"close_reasons"`
}

// PortalRequestDetail returns request id if it was made with the email
// whose blind index is emailHash. ENOTFOUND otherwise, as PortalRequest.
func (db *DB) PortalRequestDetail(ctx context.Context, emailHash []byte, id string) (PortalRequestDetail, error) {
	if _, err := uuid.Parse(id); err != nil {
		return PortalRequestDetail{}, dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	const q = `SELECT ` + portalRequestColumns + `, r.original_deadline, r.extended_at, r.extension_reason, r.close_reasons
		FROM requests r WHERE r.accepted AND r.email_hash = $1 AND r.id = $2`
	var r PortalRequestDetail
	if err := db.GetContext(ctx, &r, q, emailHash, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return PortalRequestDetail{}, dsar.Errorf(dsar.ENOTFOUND, "no such request")
		}
		return PortalRequestDetail{}, fmt.Errorf("store: portal request %s: %w", id, err)
	}
	return r, nil
}
