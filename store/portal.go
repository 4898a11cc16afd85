package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// PortalAccount is a requester's portal account, known only by the keyed
// hash of its verified email.
type PortalAccount struct {
	ID           string     `db:"id"`
	EmailHash    []byte     `db:"email_hash"`
	PasswordHash string     `db:"password_hash"`
	CreatedAt    time.Time  `db:"created_at"`
	LastLoginAt  *time.Time `db:"last_login_at"`
}

const portalAccountColumns = `id, email_hash, password_hash, created_at, last_login_at`

// portalToken is a token that may open a portal account, with whether its
// request's email has been verified.
type portalToken struct {
	Token
	Verified bool `db:"verified"`
}

// checkPortalToken loads the token raw and says whether it may open a
// portal account: an unused, unexpired portal invitation, or an unexpired
// email-verification token whose request's email is verified (that one may
// already be used: the verification itself used it). lock takes a row lock
// on the token. Errors: ENOTFOUND (unknown), EGONE (used or expired),
// ECONFLICT (the email is not verified yet).
func checkPortalToken(ctx context.Context, q sqlx.QueryerContext, raw string, lock bool) (portalToken, error) {
	unknown := &dsar.Error{Code: dsar.ENOTFOUND, Message: "this link is not valid", Fields: map[string]string{"token": "is unknown"}}
	if !crypto.ValidToken(raw) {
		return portalToken{}, unknown
	}
	query := `SELECT t.token_hash, t.kind, t.request_id, t.email_hash, t.expires_at, t.used_at, t.created_at,
			coalesce(r.email_verified_at IS NOT NULL OR r.status NOT IN ('pending_email_verification', 'expired'), false) AS verified
		FROM tokens t LEFT JOIN requests r ON r.id = t.request_id
		WHERE t.token_hash = $1 AND t.kind IN ('email_verification', 'portal_invitation')`
	if lock {
		query += ` FOR UPDATE OF t`
	}
	var t portalToken
	if err := sqlx.GetContext(ctx, q, &t, query, crypto.HashToken(raw)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return portalToken{}, unknown
		}
		return portalToken{}, fmt.Errorf("store: portal token: %w", err)
	}
	gone := func(msg string) error {
		return &dsar.Error{Code: dsar.EGONE, Message: msg, Fields: map[string]string{"token": msg}}
	}
	switch {
	case time.Now().After(t.ExpiresAt):
		return portalToken{}, gone("this link has expired")
	case t.Kind == TokenPortalInvitation && t.UsedAt != nil:
		return portalToken{}, gone("this link has already been used")
	case t.Kind == TokenEmailVerification && !t.Verified:
		return portalToken{}, &dsar.Error{Code: dsar.ECONFLICT, Message: "verify your email address first",
			Fields: map[string]string{"token": "the email address is not verified yet"}}
	}
	return t, nil
}

// CheckPortalToken reports whether the token raw may open a portal account,
// without using it: nil, or the error CreatePortalAccount would give.
func (db *DB) CheckPortalToken(ctx context.Context, raw string) error {
	_, err := checkPortalToken(ctx, db, raw, false)
	return err
}

// CreatePortalAccount opens a portal account with passwordHash (argon2id,
// from crypto.HashPassword) for the email the token raw was sent to, uses
// the token if it is an invitation, and audits it. Token errors are as
// CheckPortalToken's; an account for that email already existing with a
// password is ECONFLICT.
func (db *DB) CreatePortalAccount(ctx context.Context, raw, passwordHash string) (PortalAccount, error) {
	var acc PortalAccount
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		t, err := checkPortalToken(ctx, tx, raw, true)
		if err != nil {
			return err
		}
		// An account a sign-in link opened has no password yet: the
		// invitation or verification link may set its first one.
		const q = `INSERT INTO portal_accounts AS a (id, email_hash, password_hash) VALUES ($1, $2, $3)
			ON CONFLICT (email_hash) DO UPDATE SET password_hash = excluded.password_hash WHERE a.password_hash = ''
			RETURNING ` + portalAccountColumns
		if err := tx.GetContext(ctx, &acc, q, uuid.NewString(), t.EmailHash, passwordHash); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return &dsar.Error{Code: dsar.ECONFLICT, Message: "a portal account for this email address exists already: log in instead",
					Fields: map[string]string{"token": "an account exists already"}}
			}
			return fmt.Errorf("store: create portal account: %w", Translate(err))
		}
		if t.Kind == TokenPortalInvitation {
			const qUse = `UPDATE tokens SET used_at = now() WHERE token_hash = $1`
			if _, err := tx.ExecContext(ctx, qUse, t.Hash); err != nil {
				return fmt.Errorf("store: use portal invitation: %w", err)
			}
		}
		rid := ""
		if t.RequestID != nil {
			rid = *t.RequestID
		}
		_, err = db.AppendAuditTx(ctx, tx, Audit{RequestID: rid, ActorKind: ActorRequester, ActorID: acc.ID,
			Action: dsar.AuditPortalAccountCreated, Detail: map[string]any{"token_kind": t.Kind}})
		return err
	})
	if err != nil {
		return PortalAccount{}, err
	}
	return acc, nil
}

// PortalAccountByEmailHash finds the account of an email's blind index.
// ENOTFOUND if there is none.
func (db *DB) PortalAccountByEmailHash(ctx context.Context, emailHash []byte) (PortalAccount, error) {
	const q = `SELECT ` + portalAccountColumns + ` FROM portal_accounts WHERE email_hash = $1`
	var a PortalAccount
	if err := db.GetContext(ctx, &a, q, emailHash); err != nil {
		return PortalAccount{}, Translate(err)
	}
	return a, nil
}

// PortalAccount finds an account by id. ENOTFOUND if there is none.
func (db *DB) PortalAccount(ctx context.Context, id string) (PortalAccount, error) {
	if _, err := uuid.Parse(id); err != nil {
		return PortalAccount{}, dsar.Errorf(dsar.ENOTFOUND, "no such account")
	}
	const q = `SELECT ` + portalAccountColumns + ` FROM portal_accounts WHERE id = $1`
	var a PortalAccount
	if err := db.GetContext(ctx, &a, q, id); err != nil {
		return PortalAccount{}, Translate(err)
	}
	return a, nil
}

// PortalLoggedIn records a successful login of the account.
func (db *DB) PortalLoggedIn(ctx context.Context, id string) error {
	const q = `UPDATE portal_accounts SET last_login_at = now() WHERE id = $1`
	if _, err := db.ExecContext(ctx, q, id); err != nil {
		return fmt.Errorf("store: portal login of %s: %w", id, err)
	}
	return nil
}

// PortalRequest is a request as its requester sees it in the portal, with
// the number of staff messages they have not read.
type PortalRequest struct {
	ID          string           `db:"id" json:"id"`
	RequestType dsar.RequestType `db:"request_type" json:"request_type"`
	Status      dsar.Status      `db:"status" json:"status"`
	SubmittedAt time.Time        `db:"submitted_at" json:"submitted_at"`
	Deadline    time.Time        `db:"deadline" json:"deadline"`
	ClosedAt    *time.Time       `db:"closed_at" json:"closed_at,omitempty"`
	Unread      int              `db:"unread" json:"unread"`
	// Rule is the id of the request's deadline rule ("default" when none
	// matched), whose time zone the portal's pages write its dates in.
	Rule string `db:"deadline_rule" json:"-"`
}

// portalRequestColumns are a PortalRequest's columns of requests r.
const portalRequestColumns = `r.id, r.request_type, r.status, r.submitted_at, r.deadline, r.closed_at, r.deadline_rule,
		(SELECT count(*) FROM messages m WHERE m.request_id = r.id AND m.sender = 'staff' AND m.read_by_requester_at IS NULL) AS unread`

const portalRequestQuery = `SELECT ` + portalRequestColumns + `
	FROM requests r WHERE r.accepted AND r.email_hash = $1`

// PortalRequests lists the accepted requests made with the email whose
// blind index is emailHash, newest first.
func (db *DB) PortalRequests(ctx context.Context, emailHash []byte) ([]PortalRequest, error) {
	const q = portalRequestQuery + ` ORDER BY r.submitted_at DESC, r.id DESC`
	out := []PortalRequest{}
	if err := db.SelectContext(ctx, &out, q, emailHash); err != nil {
		return nil, fmt.Errorf("store: portal requests: %w", err)
	}
	return out, nil
}

// PortalRequest returns request id if it was made with the email whose blind
// index is emailHash. ENOTFOUND otherwise: someone else's request does not
// exist for the caller.
func (db *DB) PortalRequest(ctx context.Context, emailHash []byte, id string) (PortalRequest, error) {
	if _, err := uuid.Parse(id); err != nil {
		return PortalRequest{}, dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	const q = portalRequestQuery + ` AND r.id = $2`
	var r PortalRequest
	if err := db.GetContext(ctx, &r, q, emailHash, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return PortalRequest{}, dsar.Errorf(dsar.ENOTFOUND, "no such request")
		}
		return PortalRequest{}, fmt.Errorf("store: portal request %s: %w", id, err)
	}
	return r, nil
}
