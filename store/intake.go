package store

import (
	"context"
	"fmt"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/locale"
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
	// Captcha, when set, is redeemed in the same statement, so a captcha
	// solution creates at most one request.
	Captcha *CaptchaRedemption
	// Channel is how the request arrived ("" is the form); RecordedBy is
	// the staff user who recorded a request that arrived another way.
	Channel    dsar.Channel
	RecordedBy string
	// Language is what the requester is answered in ("" is English).
	Language locale.Lang
	// Hold, when set, is recorded with the request (see IntakeHold), in the
	// same statement and only if it fits its limits.
	Hold *IntakeHold
	// Appeal is the appeal right of the jurisdiction rule the request's
	// workflow carries (nil: none): its authority and contact are stored,
	// so that the portal names the ones the mail does.
	Appeal *dsar.AppealRule
}

// IntakeHold is what a request from the public form holds while its email
// is unconfirmed: a place under its email's and its client network's caps,
// and its sealed document's bytes in the budget of all of them. An opt-out
// accepted at submission holds it too, though it no longer waits for its
// email, until its address is confirmed or IntakeLimits.Window has passed
// since its submission (intake_hold_counts). The email's
// key is the request's blind index (Sealed.EmailHash); NetworkKey is a
// keyed hash of the client's network, never an address.
type IntakeHold struct {
	NetworkKey []byte
	Limits     IntakeLimits
}

// IntakeLimits bound what unconfirmed requests hold: how many per email and
// per client network, and how many bytes of identity documents in all.
// Window is how long after its submission an opt-out accepted at
// submission counts while its address is unconfirmed: the verification
// expiry, the time a request waiting for its email counts before it
// expires.
type IntakeLimits struct {
	PerEmail   int
	PerNetwork int
	Budget     int64
	Window     time.Duration
}

// Answers to a submission beyond an IntakeLimits: ERATELIMITED (429) for
// the email's or the network's cap, EUNAVAILABLE (503) for the byte budget.
var (
	errHeldPerEmail = &dsar.Error{Code: dsar.ERATELIMITED,
		Message: "requests from this email address are already waiting for it to be confirmed; confirm them with the link we emailed, or wait until they expire",
		Fields:  map[string]string{"email": "has too many requests waiting for their email to be confirmed; use the link we emailed you"}}
	errHeldPerNetwork = dsar.Errorf(dsar.ERATELIMITED,
		"too many requests from your network are waiting for their email to be confirmed; please confirm yours with the link we emailed, or try again later")
	errHeldBudget = dsar.Errorf(dsar.EUNAVAILABLE,
		"we are receiving more requests than we can hold until their emails are confirmed; please try again in an hour")
)

// holdRefused turns a refusal of intake_hold_refusal into its error.
func holdRefused(refusal string) error {
	switch refusal {
	case "":
		return nil
	case "email":
		return errHeldPerEmail
	case "network":
		return errHeldPerNetwork
	case "budget":
		return errHeldBudget
	}
	return fmt.Errorf("store: unknown intake refusal %q", refusal)
}

// IntakeHoldRefusal checks, without holding anything, whether one more
// unconfirmed request for emailKey (nil: not known yet) from networkKey
// fits l: nil, or the error CreateRequest would give (see IntakeLimits). It
// lets intake refuse before it reads an upload; CreateRequest checks again
// under locks.
func (db *DB) IntakeHoldRefusal(ctx context.Context, emailKey, networkKey []byte, l IntakeLimits) error {
	const q = `SELECT intake_hold_refusal($1, $2, 0, $3, $4, $5, make_interval(secs => $6), false)`
	var email any // SQL NULL when not known
	if emailKey != nil {
		email = emailKey
	}
	var refusal string
	if err := db.GetContext(ctx, &refusal, q, email, networkKey, l.PerEmail, l.PerNetwork, l.Budget, l.Window.Seconds()); err != nil {
		return fmt.Errorf("store: intake limits: %w", err)
	}
	return holdRefused(refusal)
}

// ReleaseIntakeHold frees what request id held while its email was
// unconfirmed: it has been confirmed. Releasing twice is fine.
func (db *DB) ReleaseIntakeHold(ctx context.Context, id string) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM intake_holds WHERE request_id = $1`, id); err != nil {
		return fmt.Errorf("store: release intake hold of %s: %w", id, err)
	}
	return nil
}

// RecentIntake counts the requests from the form submitted within the last
// window whose emails are still unconfirmed: the load the captcha's work
// follows.
func (db *DB) RecentIntake(ctx context.Context, window time.Duration) (int, error) {
	const q = `SELECT count(*) FROM intake_holds WHERE created_at > now() - make_interval(secs => $1)`
	var n int
	if err := db.GetContext(ctx, &n, q, window.Seconds()); err != nil {
		return 0, fmt.Errorf("store: recent intake: %w", err)
	}
	return n, nil
}

// CaptchaRedeemedBy reports whether a captcha solution was redeemed, so
// that intake can refuse a replay before it reads the upload, and the key
// hash of the submission that redeemed it ("" when it had none).
// CreateRequest remains what enforces single use.
func (db *DB) CaptchaRedeemedBy(ctx context.Context, signature string) (bool, string, error) {
	var key []string
	const q = `SELECT coalesce(idem_key, '') FROM captcha_redemptions WHERE signature = $1`
	if err := db.SelectContext(ctx, &key, q, signature); err != nil {
		return false, "", fmt.Errorf("store: captcha redeemed: %w", err)
	}
	if len(key) == 0 {
		return false, "", nil
	}
	return true, key[0], nil
}

// CaptchaRedemption is a solved captcha challenge, known by its signature,
// remembered until the challenge expires.
type CaptchaRedemption struct {
	Signature string
	ExpiresAt time.Time
	// Key is a keyed hash of the submission's Idempotency-Key (or form
	// key), if it had one: a retry with the same key may use the captcha
	// again (CaptchaRedeemedBy).
	Key string
}

// captchaUsedMessage is what a replayed captcha solution gets (EINVALID,
// field captcha).
const captchaUsedMessage = "this captcha was already used; solve a new one"

// CreateRequest inserts r, its wrapped data key and its identity document,
// unaccepted, and redeems its captcha and records its hold, all in one
// statement. EINVALID naming the field captcha when the captcha was already
// redeemed; for a hold beyond its limits, the errors of IntakeLimits (and
// nothing is written, not even the captcha's redemption).
func (db *DB) CreateRequest(ctx context.Context, r NewRequest) error {
	// One statement, so one round trip and all or nothing: the hold's check,
	// the captcha's redemption, the request, its key, its document and its
	// hold. A captcha redeemed already, or a hold refused, writes nothing at
	// all. The check runs first (the redemption reads its answer), so its
	// locks are always taken before the redemption's.
	const q = `WITH hold AS (
			SELECT CASE WHEN $23::bytea IS NULL THEN ''
				ELSE intake_hold_refusal($12, $23, $24, $25, $26, $27, make_interval(secs => $32), true) END AS refusal),
		captcha AS (
			INSERT INTO captcha_redemptions (signature, expires_at, idem_key)
			SELECT $14::text, $15, nullif($29::text, '') FROM hold WHERE $14::text IS NOT NULL AND hold.refusal = ''
			ON CONFLICT (signature) DO NOTHING RETURNING 1),
		request AS (
			INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, region,
				submitted_at, deadline, original_deadline, deadline_rule, deadline_rule_name, max_extension, email_hash, pii,
				channel, recorded_by, language, appeal_authority, appeal_contact)
			SELECT $1, false, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $21, $22::uuid, $28, $30, $31
			FROM hold WHERE hold.refusal = '' AND ($14::text IS NULL OR EXISTS (SELECT 1 FROM captcha))
			RETURNING id),
		request_key AS (
			INSERT INTO request_keys (request_id, key_id, wrapped_key) SELECT id, $16, $17 FROM request),
		document AS (
			INSERT INTO identity_documents (request_id, content_type, size, sealed)
			SELECT id, $18, $19, $20::bytea FROM request WHERE $20::bytea IS NOT NULL),
		held AS (
			INSERT INTO intake_holds (request_id, email_key, network_key, bytes)
			SELECT id, $12, $23, $24 FROM request WHERE $23::bytea IS NOT NULL)
		SELECT (SELECT count(*) FROM request) AS created, (SELECT refusal FROM hold) AS refusal`
	var sig *string
	var expires *time.Time
	captchaKey := ""
	if r.Captcha != nil {
		sig, expires = &r.Captcha.Signature, &r.Captcha.ExpiresAt
		captchaKey = r.Captcha.Key
	}
	var doc any // SQL NULL unless there is a document
	if r.Sealed.Document != nil {
		doc = r.Sealed.Document
	}
	channel := r.Channel
	if channel == "" {
		channel = dsar.ChannelForm
	}
	var recordedBy *string
	if r.RecordedBy != "" {
		recordedBy = &r.RecordedBy
	}
	var authority, contact *string // SQL NULL without an appeal right
	if a := r.Appeal; a != nil {
		authority, contact = &a.Authority, &a.Contact
	}
	st, err := db.prepared(ctx, q)
	if err != nil {
		return fmt.Errorf("store: insert request %s: %w", r.ID, err)
	}
	var (
		network []byte // SQL NULL without a hold
		held    = int64(len(r.Sealed.Document))
		limits  IntakeLimits
		outcome struct {
			Created int    `db:"created"`
			Refusal string `db:"refusal"`
		}
	)
	if r.Hold != nil {
		network, limits = r.Hold.NetworkKey, r.Hold.Limits
	}
	err = st.GetContext(ctx, &outcome, r.ID, string(dsar.StatusPendingEmailVerification),
		string(r.RequestType), string(r.RequestorType), r.Country, r.Region, r.SubmittedAt, r.Deadline,
		r.DeadlineRule, r.DeadlineRuleName, r.MaxExtension.String(), r.Sealed.EmailHash, r.Sealed.PII,
		sig, expires, r.Sealed.KeyID, r.Sealed.WrappedKey, r.DocumentType, r.DocumentSize, doc, string(channel), recordedBy,
		network, held, limits.PerEmail, limits.PerNetwork, limits.Budget, string(r.Language.Or()), captchaKey,
		authority, contact, limits.Window.Seconds())
	if err != nil {
		return fmt.Errorf("store: insert request %s: %w", r.ID, Translate(err))
	}
	if err := holdRefused(outcome.Refusal); err != nil {
		return err
	}
	if outcome.Created != 1 {
		return dsar.Invalid(map[string]string{"captcha": captchaUsedMessage})
	}
	return nil
}

// SweepCaptchas forgets the redemptions of captchas that have expired (an
// expired challenge is refused anyway) and returns how many it forgot. It
// also deletes the intake holds that count no more under window (see
// IntakeLimits.Window): of requests expired, confirmed while a release
// failed, or accepted opt-outs past the window. They count for nothing,
// and need not keep their network's hash.
func (db *DB) SweepCaptchas(ctx context.Context, window time.Duration) (int64, error) {
	const qh = `DELETE FROM intake_holds h USING requests r
		WHERE r.id = h.request_id
			AND NOT intake_hold_counts(r.status, r.identity_not_required, r.email_verified_at, r.submitted_at,
				make_interval(secs => $1))`
	if _, err := db.ExecContext(ctx, qh, window.Seconds()); err != nil {
		return 0, fmt.Errorf("store: sweep intake holds: %w", err)
	}
	res, err := db.ExecContext(ctx, `DELETE FROM captcha_redemptions WHERE expires_at < now()`)
	if err != nil {
		return 0, fmt.Errorf("store: sweep captcha redemptions: %w", err)
	}
	return res.RowsAffected()
}

// AcceptRequest makes request id visible: its workflow has started.
// Accepting twice is fine; ENOTFOUND when there is no such request.
//
// Its commit does not wait for the disk (synchronous_commit off, set for
// this statement's own transaction by set_config): an accept lost in a
// crash is made again by the workflow's first projection or by the
// reconciler, so intake need not wait for a second flush per request.
func (db *DB) AcceptRequest(ctx context.Context, id string) error {
	const q = `UPDATE requests SET accepted = true, updated_at = now()
		WHERE id = $1 AND set_config('synchronous_commit', 'off', true) IS NOT NULL`
	st, err := db.prepared(ctx, q)
	if err != nil {
		return fmt.Errorf("store: accept request %s: %w", id, err)
	}
	res, err := st.ExecContext(ctx, id)
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

// IdempotentClaimed reports whether key in scope was claimed (answered or
// not, for any body): a request that repeats it may be a client's retry.
func (db *DB) IdempotentClaimed(ctx context.Context, scope, key string) (bool, error) {
	var claimed bool
	const q = `SELECT EXISTS (SELECT 1 FROM idempotency_keys WHERE scope = $1 AND key = $2)`
	if err := db.GetContext(ctx, &claimed, q, scope, key); err != nil {
		return false, fmt.Errorf("store: idempotency key claimed: %w", err)
	}
	return claimed, nil
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
