package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// LoginBudget is how failed logins are met (config auth.login_*).
type LoginBudget struct {
	// FreeFailures from one network may fail before it waits; from then
	// on each failure makes it wait Backoff, doubled at each further
	// failure, up to MaxBackoff.
	FreeFailures int
	Backoff      time.Duration
	MaxBackoff   time.Duration
	// CaptchaAfter failures of the account from every network, the next
	// attempt needs a solved captcha, from any network.
	CaptchaAfter int
	// Window is how long a failure is remembered.
	Window time.Duration
}

// LoginAttempt is TakeLoginAttempt's answer: allowed, or refused, with
// Wait (the network waits that long) or NeedsCaptcha (the account needs a
// solved captcha from everyone).
type LoginAttempt struct {
	Allowed      bool
	Wait         time.Duration
	NeedsCaptcha bool
}

// loginSweepEvery is how often a process deletes forgotten failures.
const loginSweepEvery = time.Minute

// errLoginRefused rolls TakeLoginAttempt's transaction back.
var errLoginRefused = errors.New("store: login refused")

// TakeLoginAttempt decides whether an attempt to log in to account (a
// blind index) from network (a keyed hash of the client's network) may
// check a password, and if so counts it as a failure, which LoginSucceeded
// takes back. It is one transaction over the rows of the network and of
// the account, shared by every API process; a refused attempt counts
// nothing. captchaSolved is true when the attempt came with a captcha
// solution, verified and redeemed.
func (db *DB) TakeLoginAttempt(ctx context.Context, scope string, account, network []byte, captchaSolved bool, b LoginBudget) (LoginAttempt, error) {
	db.sweepLoginFailures(ctx, b.Window)
	var out LoginAttempt
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		// The account's row first, then the network's: one order, so two
		// attempts never wait for each other's lock.
		acc, err := lockLoginRow(ctx, tx, scope, account, nil, b.Window)
		if err != nil {
			return err
		}
		if acc.Failures >= b.CaptchaAfter && !captchaSolved {
			out = LoginAttempt{NeedsCaptcha: true}
			return errLoginRefused
		}
		acc.Failures++
		if err := acc.save(ctx, tx); err != nil {
			return err
		}
		net, err := lockLoginRow(ctx, tx, scope, account, network, b.Window)
		if err != nil {
			return err
		}
		if net.LockedUntil != nil && net.LockedUntil.After(net.Now) {
			out = LoginAttempt{Wait: max(net.LockedUntil.Sub(net.Now), time.Second)}
			return errLoginRefused
		}
		net.Failures++
		net.LockedUntil = nil
		if n := net.Failures - b.FreeFailures; n >= 0 {
			wait := b.MaxBackoff
			if n < 40 {
				wait = min(b.MaxBackoff, b.Backoff<<n)
				if wait <= 0 { // overflowed
					wait = b.MaxBackoff
				}
			}
			until := net.Now.Add(wait)
			net.LockedUntil = &until
		}
		if err := net.save(ctx, tx); err != nil {
			return err
		}
		out = LoginAttempt{Allowed: true}
		return nil
	})
	if err != nil && !errors.Is(err, errLoginRefused) {
		return LoginAttempt{}, fmt.Errorf("store: login attempt: %w", err)
	}
	return out, nil
}

// LoginSucceeded takes back the failure TakeLoginAttempt counted for an
// attempt that had the right password: the network's failures are
// forgotten; the account's, counted from every network, keep what others
// failed.
func (db *DB) LoginSucceeded(ctx context.Context, scope string, account, network []byte) error {
	const q = `WITH gone AS (DELETE FROM login_failures WHERE scope = $1 AND account = $2 AND network = $3)
		UPDATE login_failures SET failures = greatest(failures - 1, 0) WHERE scope = $1 AND account = $2 AND network = ''`
	if _, err := db.ExecContext(ctx, q, scope, account, network); err != nil {
		return fmt.Errorf("store: login succeeded: %w", err)
	}
	return nil
}

// loginRow is one row of login_failures, locked, with the database's now.
type loginRow struct {
	Scope       string     `db:"scope"`
	Account     []byte     `db:"account"`
	Network     []byte     `db:"network"`
	Failures    int        `db:"failures"`
	LastAt      time.Time  `db:"last_at"`
	LockedUntil *time.Time `db:"locked_until"`
	Now         time.Time  `db:"now"`
}

// lockLoginRow loads the row of account and network (nil: the account's
// own), made if missing, under a row lock; failures older than window are
// forgotten.
func lockLoginRow(ctx context.Context, tx *sqlx.Tx, scope string, account, network []byte, window time.Duration) (loginRow, error) {
	if network == nil {
		network = []byte{}
	}
	const qMake = `INSERT INTO login_failures (scope, account, network, failures, last_at) VALUES ($1, $2, $3, 0, now())
		ON CONFLICT (scope, account, network) DO NOTHING`
	if _, err := tx.ExecContext(ctx, qMake, scope, account, network); err != nil {
		return loginRow{}, err
	}
	const q = `SELECT scope, account, network, failures, last_at, locked_until, now() AS now FROM login_failures
		WHERE scope = $1 AND account = $2 AND network = $3 FOR UPDATE`
	var r loginRow
	if err := tx.GetContext(ctx, &r, q, scope, account, network); err != nil {
		return loginRow{}, err
	}
	if r.Now.Sub(r.LastAt) > window && (r.LockedUntil == nil || !r.LockedUntil.After(r.Now)) {
		r.Failures, r.LockedUntil = 0, nil
	}
	return r, nil
}

// save writes the row back, last used now.
func (r loginRow) save(ctx context.Context, tx *sqlx.Tx) error {
	const q = `UPDATE login_failures SET failures = $4, locked_until = $5, last_at = now()
		WHERE scope = $1 AND account = $2 AND network = $3`
	_, err := tx.ExecContext(ctx, q, r.Scope, r.Account, r.Network, r.Failures, r.LockedUntil)
	return err
}

// sweepLoginFailures deletes the rows forgotten anyway (older than window,
// not waiting), at most once every loginSweepEvery per process. A failure
// is left to the next sweep: the rows only take space.
func (db *DB) sweepLoginFailures(ctx context.Context, window time.Duration) {
	now := time.Now().UnixNano()
	last := db.loginSweep.Load()
	if now-last < int64(loginSweepEvery) || !db.loginSweep.CompareAndSwap(last, now) {
		return
	}
	const q = `DELETE FROM login_failures
		WHERE last_at < now() - make_interval(secs => $1) AND (locked_until IS NULL OR locked_until < now())`
	_, _ = db.ExecContext(ctx, q, window.Seconds())
}

// RedeemCaptcha records a solved captcha as used, so it passes once.
// EINVALID naming the field captcha if it was used already.
func (db *DB) RedeemCaptcha(ctx context.Context, r CaptchaRedemption) error {
	const q = `INSERT INTO captcha_redemptions (signature, expires_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING`
	res, err := db.ExecContext(ctx, q, r.Signature, r.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: redeem captcha: %w", Translate(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return dsar.Invalid(map[string]string{"captcha": captchaUsedMessage})
	}
	return nil
}
