package store

import (
	"context"
	"fmt"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// Second-factor stages of a staff session (sessions.mfa): what it still
// owes before it is a full session. A full session has MFANone.
const (
	MFANone  = ""
	MFATOTP  = "totp"  // the password was right; a TOTP or recovery code is due
	MFAEnrol = "enrol" // the password was right; the user must set up TOTP first
)

// TOTP is a staff user's TOTP enrolment: the secret, sealed, and the key
// that sealed it.
type TOTP struct {
	UserID       string     `db:"user_id"`
	SecretSealed []byte     `db:"secret_sealed"`
	KeyID        string     `db:"key_id"`
	ConfirmedAt  *time.Time `db:"confirmed_at"`
	LastStep     int64      `db:"last_step"`
}

// CreateStaffSession starts a staff session for userID that owes mfa
// (MFANone for a full session) and returns its raw token.
func (db *DB) CreateStaffSession(ctx context.Context, userID, mfa string, idle, absolute time.Duration) (string, error) {
	if mfa == MFANone {
		return db.CreateSession(ctx, SessionStaff, userID, idle, absolute)
	}
	raw := crypto.NewToken()
	const q = `INSERT INTO sessions (token_hash, kind, user_id, expires_at, mfa)
		VALUES ($1, 'staff', $2, now() + make_interval(secs => $3), $4)`
	if _, err := db.ExecContext(ctx, q, crypto.HashToken(raw), userID, absolute.Seconds(), mfa); err != nil {
		return "", fmt.Errorf("store: create staff session: %w", Translate(err))
	}
	return raw, nil
}

// StaffTOTP is userID's TOTP enrolment, confirmed or not. ENOTFOUND if
// there is none.
func (db *DB) StaffTOTP(ctx context.Context, userID string) (TOTP, error) {
	const q = `SELECT user_id, secret_sealed, key_id, confirmed_at, last_step FROM staff_totp WHERE user_id = $1`
	var t TOTP
	if err := db.GetContext(ctx, &t, q, userID); err != nil {
		return TOTP{}, Translate(err)
	}
	return t, nil
}

// StartTOTPEnrolment stores a new, unconfirmed secret for userID, replacing
// an unconfirmed one. A confirmed enrolment is ECONFLICT: it is removed
// (ResetTOTP) before another is started.
func (db *DB) StartTOTPEnrolment(ctx context.Context, userID string, sealed []byte, keyID string) error {
	const q = `INSERT INTO staff_totp (user_id, secret_sealed, key_id) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, key_id = EXCLUDED.key_id,
			last_step = 0, created_at = now()
		WHERE staff_totp.confirmed_at IS NULL`
	res, err := db.ExecContext(ctx, q, userID, sealed, keyID)
	if err != nil {
		return fmt.Errorf("store: start totp enrolment: %w", Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return dsar.Errorf(dsar.ECONFLICT, "a second factor is set up already; an org owner can reset it")
	}
	return nil
}

// ConfirmTOTP confirms userID's enrolment with the code of time step step
// and replaces their recovery codes with the given hashes, in one
// transaction. ECONFLICT if there is no unconfirmed enrolment.
func (db *DB) ConfirmTOTP(ctx context.Context, userID string, step int64, recoveryHashes []string) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: confirm totp: %w", Translate(err))
	}
	defer func() { _ = tx.Rollback() }()
	const q = `UPDATE staff_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1 AND confirmed_at IS NULL`
	res, err := tx.ExecContext(ctx, q, userID, step)
	if err != nil {
		return fmt.Errorf("store: confirm totp: %w", Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return dsar.Errorf(dsar.ECONFLICT, "there is no second factor being set up; start again")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM staff_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("store: confirm totp: %w", Translate(err))
	}
	for _, h := range recoveryHashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff_recovery_codes (user_id, code_hash) VALUES ($1, $2)`, userID, h); err != nil {
			return fmt.Errorf("store: confirm totp: %w", Translate(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: confirm totp: %w", Translate(err))
	}
	return nil
}

// UseTOTPStep records that userID's code of time step step was accepted.
// It reports false when a code of that step or a later one was accepted
// already: a code is good once.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	const q = `UPDATE staff_totp SET last_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2`
	res, err := db.ExecContext(ctx, q, userID, step)
	if err != nil {
		return false, fmt.Errorf("store: use totp step: %w", Translate(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UseRecoveryCode spends userID's unused recovery code with hash codeHash.
// It reports false when there is no such unused code.
func (db *DB) UseRecoveryCode(ctx context.Context, userID, codeHash string) (bool, error) {
	const q = `UPDATE staff_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`
	res, err := db.ExecContext(ctx, q, userID, codeHash)
	if err != nil {
		return false, fmt.Errorf("store: use recovery code: %w", Translate(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecoveryCodesLeft counts userID's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM staff_recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID); err != nil {
		return 0, fmt.Errorf("store: recovery codes left: %w", Translate(err))
	}
	return n, nil
}

// ResetTOTP removes userID's second factor and recovery codes (a lost
// device), so that they enrol again at their next sign-in if required. It
// reports whether there was one.
func (db *DB) ResetTOTP(ctx context.Context, userID string) (bool, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: reset totp: %w", Translate(err))
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `DELETE FROM staff_totp WHERE user_id = $1`, userID)
	if err != nil {
		return false, fmt.Errorf("store: reset totp: %w", Translate(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM staff_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return false, fmt.Errorf("store: reset totp: %w", Translate(err))
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: reset totp: %w", Translate(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
