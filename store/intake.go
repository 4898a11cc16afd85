package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// NewRequest is a submitted request, validated and sealed, ready to insert.
// Its row stays invisible (accepted = false) until AcceptRequest: the API
// accepts it once the request's workflow has started.
type NewRequest struct {
	ID               string
	RequestType      dsar.RequestType
	RequestorType    dsar.RequestorType
	Country          string
	Region           string
	SubmittedAt      time.Time
	Deadline         time.Time
	DeadlineRule     string // rule id, or "default"
	DeadlineRuleName string
	MaxExtension     dsar.Period
	Sealed           SealedRequest
	// DocumentType and DocumentSize describe the identity document sealed
	// in Sealed.Document (the plaintext's type and size).
	DocumentType string
	DocumentSize int
	// Captcha, when set, is redeemed in the same transaction, so a captcha
	// solution creates at most one request.
	Captcha *CaptchaRedemption
}

// CaptchaRedemption is a solved captcha challenge, known by its signature,
// remembered until the challenge expires.
type CaptchaRedemption struct {
	Signature string
	ExpiresAt time.Time
}

// captchaUsedMessage is what a replayed captcha solution gets (EINVALID,
// field captcha).
const captchaUsedMessage = "this captcha was already used; solve a new one"

// CreateRequest inserts r, its wrapped data key and its identity document in
// one transaction, unaccepted, and redeems its captcha. EINVALID naming the
// field captcha when the captcha was already redeemed.
func (db *DB) CreateRequest(ctx context.Context, r NewRequest) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		if r.Captcha != nil {
			if err := redeemCaptcha(ctx, tx, *r.Captcha); err != nil {
				return err
			}
		}
		const q = `INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, region,
			submitted_at, deadline, original_deadline, deadline_rule, deadline_rule_name, max_extension, email_hash, pii)
			VALUES (:id, false, :status, :request_type, :requestor_type, :country, :region,
			:submitted_at, :deadline, :deadline, :deadline_rule, :deadline_rule_name, :max_extension, :email_hash, :pii)`
		_, err := tx.NamedExecContext(ctx, q, map[string]any{
			"id": r.ID, "status": string(dsar.StatusPendingEmailVerification),
			"request_type": string(r.RequestType), "requestor_type": string(r.RequestorType),
			"country": r.Country, "region": r.Region, "submitted_at": r.SubmittedAt, "deadline": r.Deadline,
			"deadline_rule": r.DeadlineRule, "deadline_rule_name": r.DeadlineRuleName,
			"max_extension": r.MaxExtension.String(), "email_hash": r.Sealed.EmailHash, "pii": r.Sealed.PII,
		})
		if err != nil {
			return fmt.Errorf("store: insert request %s: %w", r.ID, Translate(err))
		}
		const qk = `INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`
		if _, err := tx.ExecContext(ctx, qk, r.ID, r.Sealed.KeyID, r.Sealed.WrappedKey); err != nil {
			return fmt.Errorf("store: insert key of %s: %w", r.ID, Translate(err))
		}
		if r.Sealed.Document != nil {
			const qd = `INSERT INTO identity_documents (request_id, content_type, size, sealed) VALUES ($1, $2, $3, $4)`
			if _, err := tx.ExecContext(ctx, qd, r.ID, r.DocumentType, r.DocumentSize, r.Sealed.Document); err != nil {
				return fmt.Errorf("store: insert identity document of %s: %w", r.ID, Translate(err))
			}
		}
		return nil
	})
}

// redeemCaptcha records a captcha as used, forgetting expired ones.
func redeemCaptcha(ctx context.Context, tx *sqlx.Tx, c CaptchaRedemption) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM captcha_redemptions WHERE expires_at < now()`); err != nil {
		return fmt.Errorf("store: sweep captcha redemptions: %w", err)
	}
	const q = `INSERT INTO captcha_redemptions (signature, expires_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, c.Signature, c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: redeem captcha: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return dsar.Invalid(map[string]string{"captcha": captchaUsedMessage})
	}
	return nil
}

// AcceptRequest makes request id visible: its workflow has started.
// Accepting twice is fine; ENOTFOUND when there is no such request.
func (db *DB) AcceptRequest(ctx context.Context, id string) error {
	const q = `UPDATE requests SET accepted = true, updated_at = now() WHERE id = $1`
	res, err := db.ExecContext(ctx, q, id)
	if err != nil {
		return fmt.Errorf("store: accept request %s: %w", id, Translate(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return dsar.Errorf(dsar.ENOTFOUND, "no request %s", id)
	}
	return nil
}

// DiscardRequest deletes request id if it was never accepted (its workflow
// did not start), with its key and document. An accepted request is left
// alone; discarding twice is fine.
func (db *DB) DiscardRequest(ctx context.Context, id string) error {
	const q = `DELETE FROM requests WHERE id = $1 AND NOT accepted`
	if _, err := db.ExecContext(ctx, q, id); err != nil {
		return fmt.Errorf("store: discard request %s: %w", id, err)
	}
	return nil
}

// ReleaseCaptcha forgets a redeemed captcha, so that a request refused for
// a reason of ours (its workflow did not start) can be retried as it was.
func (db *DB) ReleaseCaptcha(ctx context.Context, signature string) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM captcha_redemptions WHERE signature = $1`, signature); err != nil {
		return fmt.Errorf("store: release captcha: %w", err)
	}
	return nil
}

// UnacceptedRequests lists the ids of requests that have stayed unaccepted
// since before olderThan, oldest first, at most limit: what a reconciler
// checks against Temporal (accept if the workflow exists, else discard).
func (db *DB) UnacceptedRequests(ctx context.Context, olderThan time.Time, limit int) ([]string, error) {
	const q = `SELECT id FROM requests WHERE NOT accepted AND created_at < $1 ORDER BY created_at LIMIT $2`
	ids := []string{}
	if err := db.SelectContext(ctx, &ids, q, olderThan, limit); err != nil {
		return nil, fmt.Errorf("store: unaccepted requests: %w", err)
	}
	return ids, nil
}

// Idempotent is the stored answer to a request made with an Idempotency-Key.
type Idempotent struct {
	Status int
	Body   []byte
}

// idempotencyTTL is how long an answer is kept for replay.
const idempotencyTTL = 24 * time.Hour

// IdempotencyAbandonedAfter is how long a claim may stay without an answer
// before a retry takes it over: far longer than any request takes.
const IdempotencyAbandonedAfter = 2 * time.Minute

// BeginIdempotent claims key in scope for a request whose body hashes to
// hash. It returns (nil, nil) when the caller now owns the key and must end
// with FinishIdempotent or ReleaseIdempotent; the stored answer when the
// same request was already answered; EINVALID (field idempotency_key) when
// the key was used for a different request; ECONFLICT while the first
// request with the key is still being processed.
func (db *DB) BeginIdempotent(ctx context.Context, scope, key, hash string) (*Idempotent, error) {
	const qd = `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3`
	if _, err := db.ExecContext(ctx, qd, scope, key, now().Add(-idempotencyTTL)); err != nil {
		return nil, fmt.Errorf("store: expire idempotency key: %w", err)
	}
	const qi = `INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT (scope, key) DO NOTHING`
	res, err := db.ExecContext(ctx, qi, scope, key, hash)
	if err != nil {
		return nil, fmt.Errorf("store: claim idempotency key: %w", Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	// A claim with no answer long after it was made belongs to a process
	// that died mid-request: take it over, so the client's retry is not
	// refused for a day. The caller resumes what the dead one began.
	const qt = `UPDATE idempotency_keys SET created_at = now()
		WHERE scope = $1 AND key = $2 AND request_hash = $3 AND status IS NULL AND created_at < $4`
	res, err = db.ExecContext(ctx, qt, scope, key, hash, now().Add(-IdempotencyAbandonedAfter))
	if err != nil {
		return nil, fmt.Errorf("store: take over idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	var row struct {
		Hash   string `db:"request_hash"`
		Status *int   `db:"status"`
		Body   []byte `db:"body"`
	}
	const qs = `SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2`
	if err := db.GetContext(ctx, &row, qs, scope, key); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			// Released between our insert and select: the caller may retry.
			return nil, dsar.Errorf(dsar.ECONFLICT, "a request with this Idempotency-Key is being processed; retry")
		}
		return nil, fmt.Errorf("store: idempotency key: %w", err)
	}
	switch {
	case row.Hash != hash:
		return nil, dsar.Invalid(map[string]string{"idempotency_key": "was already used for a different request"})
	case row.Status == nil:
		return nil, dsar.Errorf(dsar.ECONFLICT, "a request with this Idempotency-Key is still being processed; retry")
	}
	return &Idempotent{Status: *row.Status, Body: row.Body}, nil
}

// FinishIdempotent stores the answer to replay for key in scope.
func (db *DB) FinishIdempotent(ctx context.Context, scope, key string, a Idempotent) error {
	const q = `UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2`
	if _, err := db.ExecContext(ctx, q, scope, key, a.Status, a.Body); err != nil {
		return fmt.Errorf("store: finish idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotent forgets a claimed key whose request failed, so that a
// retry is processed afresh. An answered key is kept.
func (db *DB) ReleaseIdempotent(ctx context.Context, scope, key string) error {
	const q = `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL`
	if _, err := db.ExecContext(ctx, q, scope, key); err != nil {
		return fmt.Errorf("store: release idempotency key: %w", err)
	}
	return nil
}

// RequestAccepted reports whether request id exists and whether it is
// accepted. ENOTFOUND when there is no such row.
func (db *DB) RequestAccepted(ctx context.Context, id string) (bool, error) {
	var accepted bool
	if err := db.GetContext(ctx, &accepted, `SELECT accepted FROM requests WHERE id = $1`, id); err != nil {
		return false, Translate(err)
	}
	return accepted, nil
}
