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
	var rid *string
	if requestID != "" {
		rid = &requestID
	}
	const q = `INSERT INTO tokens (token_hash, kind, request_id, email_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`
	if _, err := db.ExecContext(ctx, q, crypto.HashToken(raw), kind, rid, emailHash, now().Add(ttl)); err != nil {
		return "", fmt.Errorf("store: create %s token: %w", kind, Translate(err))
	}
	return raw, nil
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
