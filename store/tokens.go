package store

import (
	"context"
	"fmt"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// Token kinds.
const (
	TokenEmailVerification = "email_verification"
	TokenPortalInvitation  = "portal_invitation"
	// TokenPortalSignIn is an emailed portal sign-in link's token: tied to
	// an email's blind index, not to a request.
	TokenPortalSignIn = "portal_sign_in"
)

// Token is a single-use token from an email link; only its hash is stored.
type Token struct {
	Hash      string     `db:"token_hash"`
	Kind      string     `db:"kind"`
	RequestID *string    `db:"request_id"`
	EmailHash []byte     `db:"email_hash"`
	ExpiresAt time.Time  `db:"expires_at"`
	UsedAt    *time.Time `db:"used_at"`
	CreatedAt time.Time  `db:"created_at"`
}

// CreateToken stores a new token of kind for a request (may be empty) and
// email hash, valid for ttl, and returns the raw token for the link.
func (db *DB) CreateToken(ctx context.Context, kind, requestID string, emailHash []byte, ttl time.Duration) (string, error) {
	raw := crypto.NewToken()
	if _, err := db.PutToken(ctx, raw, kind, requestID, emailHash, now().Add(ttl)); err != nil {
		return "", err
	}
	return raw, nil
}

// PutToken stores the token raw (of NewToken's or KeyedToken's shape) of
// kind for a request (may be empty) and email hash, valid until expiresAt,
// unless it is stored already. It returns the stored token's expiry: that
// of the first call, so a step that puts the same token again shows the
// same expiry.
func (db *DB) PutToken(ctx context.Context, raw, kind, requestID string, emailHash []byte, expiresAt time.Time) (time.Time, error) {
	var rid *string
	if requestID != "" {
		rid = &requestID
	}
	const q = `WITH put AS (
			INSERT INTO tokens (token_hash, kind, request_id, email_hash, expires_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (token_hash) DO NOTHING RETURNING expires_at)
		SELECT expires_at FROM put UNION ALL SELECT expires_at FROM tokens WHERE token_hash = $1`
	var at time.Time
	if err := db.GetContext(ctx, &at, q, crypto.HashToken(raw), kind, rid, emailHash, expiresAt); err != nil {
		return time.Time{}, fmt.Errorf("store: put %s token: %w", kind, Translate(err))
	}
	return at.UTC(), nil
}

// PeekToken returns the token raw of one of kinds without using it.
// ENOTFOUND for an unknown or malformed token, EGONE for a used or expired
// one.
func (db *DB) PeekToken(ctx context.Context, raw string, kinds ...string) (Token, error) {
	if !crypto.ValidToken(raw) {
		return Token{}, dsar.Errorf(dsar.ENOTFOUND, "unknown token")
	}
	var t Token
	const q = `SELECT token_hash, kind, request_id, email_hash, expires_at, used_at, created_at FROM tokens WHERE token_hash = $1`
	if err := db.GetContext(ctx, &t, q, crypto.HashToken(raw)); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return Token{}, dsar.Errorf(dsar.ENOTFOUND, "unknown token")
		}
		return Token{}, fmt.Errorf("store: token: %w", err)
	}
	ok := false
	for _, k := range kinds {
		ok = ok || t.Kind == k
	}
	switch {
	case !ok:
		return Token{}, dsar.Errorf(dsar.ENOTFOUND, "unknown token")
	case t.UsedAt != nil:
		return Token{}, dsar.Errorf(dsar.EGONE, "this link has already been used")
	case time.Now().After(t.ExpiresAt):
		return Token{}, dsar.Errorf(dsar.EGONE, "this link has expired")
	}
	return t, nil
}

// UseToken marks the token raw (of one of kinds) used and returns it; it
// succeeds once. Errors as PeekToken.
func (db *DB) UseToken(ctx context.Context, raw string, kinds ...string) (Token, error) {
	t, err := db.PeekToken(ctx, raw, kinds...)
	if err != nil {
		return Token{}, err
	}
	const q = `UPDATE tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()`
	res, err := db.ExecContext(ctx, q, t.Hash)
	if err != nil {
		return Token{}, fmt.Errorf("store: use token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Token{}, dsar.Errorf(dsar.EGONE, "this link has already been used")
	}
	return t, nil
}
