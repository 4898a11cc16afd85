package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// Session kinds.
const (
	SessionStaff  = "staff"
	SessionPortal = "portal"
)

// sessionTouchEvery is how often a session's last use is written.
const sessionTouchEvery = 30 * time.Second

// Session is a signed-in staff user's or portal account's session. Only the
// hash of its token is stored.
type Session struct {
	Kind       string    `db:"kind"`
	SubjectID  string    `db:"subject_id"` // users.id for staff, portal_accounts.id for portal
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"` // the absolute expiry
	// MFA is what a staff session still owes (MFATOTP, MFAEnrol), or
	// MFANone for a full session.
	MFA string `db:"mfa"`
}

// CreateSession starts a session of kind (SessionStaff or SessionPortal) for
// subjectID and returns its raw token, for the client only. The session ends
// after idle without use or at absolute after creation, whichever is first.
func (db *DB) CreateSession(ctx context.Context, kind, subjectID string, idle, absolute time.Duration) (string, error) {
	var userID, accountID *string
	switch kind {
	case SessionStaff:
		userID = &subjectID
	case SessionPortal:
		accountID = &subjectID
	default:
		return "", fmt.Errorf("store: create session: unknown kind %q", kind)
	}
	if _, err := uuid.Parse(subjectID); err != nil {
		return "", dsar.Errorf(dsar.EINVALID, "store: create session: subject %q is not an id", subjectID)
	}
	raw := crypto.NewToken()
	const q = `INSERT INTO sessions (token_hash, kind, user_id, portal_account_id, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`
	if _, err := db.ExecContext(ctx, q, crypto.HashToken(raw), kind, userID, accountID, absolute.Seconds()); err != nil {
		return "", fmt.Errorf("store: create %s session: %w", kind, Translate(err))
	}
	return raw, nil
}

// errSessionInvalid is the one answer to a token that opens no session.
var errSessionInvalid = dsar.Errorf(dsar.EUNAUTHORIZED, "the session is not valid; sign in again")

// Session returns the live session of kind with token raw and slides its
// last use to now. A malformed, unknown, revoked, idle-expired or expired
// token is EUNAUTHORIZED (idle is checked here, on each use, from the last
// use written), as is a staff session of a disabled user.
func (db *DB) Session(ctx context.Context, kind, raw string, idle time.Duration) (Session, error) {
	if !crypto.ValidToken(raw) {
		return Session{}, errSessionInvalid
	}
	const q = `SELECT s.kind, coalesce(s.user_id, s.portal_account_id)::text AS subject_id,
		       s.created_at, s.last_seen_at, s.expires_at
		FROM sessions s
		WHERE s.token_hash = $1 AND s.kind = $2 AND s.revoked_at IS NULL
		  AND s.expires_at > now() AND s.last_seen_at + make_interval(secs => $3) > now()
		  AND (s.kind <> 'staff' OR EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id AND u.disabled_at IS NULL))`
	var s Session
	err := db.liveSession(ctx, q, crypto.HashToken(raw), &s.LastSeenAt, func(st *sqlx.Stmt, hash string) error {
		return st.GetContext(ctx, &s, hash, kind, idle.Seconds())
	})
	return s, err
}

// StaffSession is Session for a staff token together with its user (who
// is not disabled), in one prepared query: the check every staff call
// makes. The session's MFA says whether it still owes a second factor.
// With CacheStaffSessions running, a session checked a moment ago
// is answered from memory.
func (db *DB) StaffSession(ctx context.Context, raw string, idle time.Duration) (Session, User, error) {
	if !crypto.ValidToken(raw) {
		return Session{}, User{}, errSessionInvalid
	}
	hash := crypto.HashToken(raw)
	cache := db.sessions.Load()
	var gen uint64
	if cache != nil {
		if s, u, ok := cache.get(hash, idle, time.Now()); ok {
			return s, u, nil
		}
		gen = cache.generation()
	}
	const q = `SELECT s.created_at, s.last_seen_at, s.expires_at, coalesce(s.mfa, ''),
		       u.id, u.email, u.name, u.role, u.password_hash, u.disabled_at, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.kind = 'staff' AND s.revoked_at IS NULL
		  AND s.expires_at > now() AND s.last_seen_at + make_interval(secs => $2) > now()
		  AND u.disabled_at IS NULL`
	s := Session{Kind: SessionStaff}
	var u User
	err := db.liveSession(ctx, q, hash, &s.LastSeenAt, func(st *sqlx.Stmt, hash string) error {
		return st.QueryRowContext(ctx, hash, idle.Seconds()).Scan(&s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.MFA,
			&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.DisabledAt, &u.CreatedAt)
	})
	if err != nil {
		return Session{}, User{}, err
	}
	s.SubjectID = u.ID
	if cache != nil {
		cache.put(hash, gen, s, u, time.Now())
	}
	return s, u, nil
}

// liveSession runs the prepared session query q for the token hash through
// get, then writes the session's last use (into lastSeen too) when it is
// older than sessionTouchEvery. Most calls only read, so a busy client does
// not wait for a commit on every call; the idle expiry is that much coarser.
func (db *DB) liveSession(ctx context.Context, q, hash string, lastSeen *time.Time, get func(*sqlx.Stmt, string) error) error {
	st, err := db.prepared(ctx, q)
	if err != nil {
		return fmt.Errorf("store: session: %w", err)
	}
	if err := get(st, hash); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return errSessionInvalid
		}
		return fmt.Errorf("store: session: %w", err)
	}
	if time.Since(*lastSeen) > sessionTouchEvery {
		const qt = `UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1 RETURNING last_seen_at`
		if err := db.GetContext(ctx, lastSeen, qt, hash); err != nil {
			return fmt.Errorf("store: session: %w", Translate(err))
		}
	}
	return nil
}

// RevokeSession ends the session with token raw. Revoking an unknown or
// already revoked session is not an error.
func (db *DB) RevokeSession(ctx context.Context, raw string) error {
	if !crypto.ValidToken(raw) {
		return nil
	}
	const q = `UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`
	if _, err := db.ExecContext(ctx, q, crypto.HashToken(raw)); err != nil {
		return fmt.Errorf("store: revoke session: %w", err)
	}
	db.forgetSessions()
	return nil
}

// RevokeSessions ends every session of kind for subjectID (a user disabled,
// a password changed).
func (db *DB) RevokeSessions(ctx context.Context, kind, subjectID string) error {
	const q = `UPDATE sessions SET revoked_at = now()
		WHERE kind = $1 AND coalesce(user_id, portal_account_id)::text = $2 AND revoked_at IS NULL`
	if _, err := db.ExecContext(ctx, q, kind, subjectID); err != nil {
		return fmt.Errorf("store: revoke sessions: %w", err)
	}
	db.forgetSessions()
	return nil
}
