package store

import (
	"context"
	"fmt"
	"time"

	"github.com/opendsar/dsar"
)

// rateSweepEvery is how often a process deletes idle buckets.
const rateSweepEvery = time.Minute

// TakeToken takes one attempt from the bucket of key in scope, which every
// process on the database shares: perMinute attempts a minute, in bursts of
// as many. It reports whether there was one and, if not, how long until
// there is. key should be a keyed hash (crypto.Keyring.BlindIndex), not
// personal data.
func (db *DB) TakeToken(ctx context.Context, scope string, key []byte, perMinute int) (bool, time.Duration, error) {
	db.sweepRateLimits(ctx)
	// The bucket refills at perMinute a minute up to perMinute; the update
	// takes a token only when one is there, under the row's lock.
	const q = `INSERT INTO rate_limits AS r (scope, key, tokens, at) VALUES ($1, $2, $3::float8 - 1, now())
		ON CONFLICT (scope, key) DO UPDATE
			SET tokens = LEAST($3::float8, r.tokens + EXTRACT(EPOCH FROM now() - r.at) / 60 * $3::float8) - 1, at = now()
			WHERE LEAST($3::float8, r.tokens + EXTRACT(EPOCH FROM now() - r.at) / 60 * $3::float8) >= 1
		RETURNING tokens`
	st, err := db.prepared(ctx, q)
	if err != nil {
		return false, 0, fmt.Errorf("store: rate limit %s: %w", scope, err)
	}
	var left float64
	err = st.GetContext(ctx, &left, scope, key, perMinute)
	if err == nil {
		return true, 0, nil
	}
	if dsar.ErrorCode(Translate(err)) != dsar.ENOTFOUND {
		return false, 0, fmt.Errorf("store: rate limit %s: %w", scope, err)
	}
	const qw = `SELECT LEAST($3::float8, tokens + EXTRACT(EPOCH FROM now() - at) / 60 * $3::float8)
		FROM rate_limits WHERE scope = $1 AND key = $2`
	var tokens float64
	if err := db.GetContext(ctx, &tokens, qw, scope, key, perMinute); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND { // swept meanwhile: a full bucket
			return false, time.Second, nil
		}
		return false, 0, fmt.Errorf("store: rate limit %s: %w", scope, err)
	}
	wait := time.Duration((1 - tokens) / float64(perMinute) * float64(time.Minute))
	return false, max(wait, time.Second), nil
}

// sweepRateLimits deletes the buckets idle long enough to be full again,
// at most once every rateSweepEvery per process. A failure is left to the
// next sweep: the rows only take space.
func (db *DB) sweepRateLimits(ctx context.Context) {
	now := time.Now().UnixNano()
	last := db.rateSweep.Load()
	if now-last < int64(rateSweepEvery) || !db.rateSweep.CompareAndSwap(last, now) {
		return
	}
	const q = `DELETE FROM rate_limits WHERE at < now() - interval '2 minutes'`
	_, _ = db.ExecContext(ctx, q)
}
