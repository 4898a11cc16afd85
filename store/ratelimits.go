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
	return db.TakeTokenPer(ctx, scope, key, perMinute, time.Minute)
}

// TakeTokenPer is TakeToken for a budget of n attempts every period (in
// bursts of n): the bucket refills at n a period, up to n.
func (db *DB) TakeTokenPer(ctx context.Context, scope string, key []byte, n int, period time.Duration) (bool, time.Duration, error) {
	db.sweepRateLimits(ctx)
	// The bucket refills at $3 every $4 seconds up to $3; the update takes
	// a token only when one is there, under the row's lock, and records
	// when the bucket is full again (for the sweep).
	const q = `INSERT INTO rate_limits AS r (scope, key, tokens, at, full_at)
		VALUES ($1, $2, $3::float8 - 1, now(), now() + make_interval(secs => $4::float8 / $3::float8))
		ON CONFLICT (scope, key) DO UPDATE
			SET tokens = LEAST($3::float8, r.tokens + EXTRACT(EPOCH FROM now() - r.at) / $4::float8 * $3::float8) - 1, at = now(),
				full_at = now() + make_interval(secs => ($3::float8 + 1
					- LEAST($3::float8, r.tokens + EXTRACT(EPOCH FROM now() - r.at) / $4::float8 * $3::float8)) * $4::float8 / $3::float8)
			WHERE LEAST($3::float8, r.tokens + EXTRACT(EPOCH FROM now() - r.at) / $4::float8 * $3::float8) >= 1
		RETURNING tokens`
	st, err := db.prepared(ctx, q)
	if err != nil {
		return false, 0, fmt.Errorf("store: rate limit %s: %w", scope, err)
	}
	var left float64
	err = st.GetContext(ctx, &left, scope, key, n, period.Seconds())
	if err == nil {
		return true, 0, nil
	}
	if dsar.ErrorCode(Translate(err)) != dsar.ENOTFOUND {
		return false, 0, fmt.Errorf("store: rate limit %s: %w", scope, err)
	}
	const qw = `SELECT LEAST($3::float8, tokens + EXTRACT(EPOCH FROM now() - at) / $4::float8 * $3::float8)
		FROM rate_limits WHERE scope = $1 AND key = $2`
	var tokens float64
	if err := db.GetContext(ctx, &tokens, qw, scope, key, n, period.Seconds()); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND { // swept meanwhile: a full bucket
			return false, time.Second, nil
		}
		return false, 0, fmt.Errorf("store: rate limit %s: %w", scope, err)
	}
	wait := time.Duration((1 - tokens) / float64(n) * float64(period))
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
	const q = `DELETE FROM rate_limits
		WHERE full_at < now() OR (full_at IS NULL AND at < now() - interval '2 minutes')`
	_, _ = db.ExecContext(ctx, q)
}
