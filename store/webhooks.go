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
	"github.com/opendsar/dsar/webhook"
)

// A webhook data source posts each job to its owner's endpoint, signed with
// a secret the service makes per source (docs/webhooks.md). The secret is
// kept sealed under a key derived from the master key, like staff TOTP
// secrets, and shown once: when it is made and when it is rotated.

// Labels of the keys derived from a master key that seal a source's
// webhook secret and a webhook job's task token.
const (
	webhookSecretLabel = "dsar webhook secret v1"
	webhookTokenLabel  = "dsar webhook task token v1"
)

func webhookSecretAAD(sourceID string) []byte { return []byte("dsar webhook secret " + sourceID) }
func webhookTokenAAD(jobID string) []byte     { return []byte("dsar webhook task token " + jobID) }

// WebhookActor is the audit trail's actor id of what a webhook source's
// system did through its callback (audited as the system).
func WebhookActor(dataSourceID string) string { return "webhook:" + dataSourceID }

// WebhookSource is what the webhook activity needs of a data source: its
// endpoint and its secret, opened.
type WebhookSource struct {
	ID     string
	URL    string // "" when none is set
	Secret string // "" when none is made
}

// EnsureWebhookSecret makes a secret for a data source that has a webhook
// URL and no secret yet, and returns it: the only time it is shown, with
// RotateWebhookSecret's. It returns "" when there is nothing to make.
// ENOTFOUND for no such source.
func (db *DB) EnsureWebhookSecret(ctx context.Context, keys *crypto.Keyring, id string) (string, error) {
	if _, err := uuid.Parse(id); err != nil {
		return "", dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	secret := ""
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var rows []struct {
			URL bool `db:"url"`
			Has bool `db:"has"`
		}
		const lock = `SELECT webhook_url IS NOT NULL AS url, webhook_secret IS NOT NULL AS has FROM data_sources
			WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`
		if err := tx.SelectContext(ctx, &rows, lock, id); err != nil {
			return fmt.Errorf("store: webhook of %s: %w", id, err)
		}
		if len(rows) == 0 {
			return dsar.Errorf(dsar.ENOTFOUND, "no such data source")
		}
		if !rows[0].URL || rows[0].Has {
			return nil
		}
		var err error
		secret, err = putWebhookSecret(ctx, tx, keys, id)
		return err
	})
	return secret, err
}

// RotateWebhookSecret makes a new secret for a data source and returns it;
// the old one signs and verifies nothing from then on. ENOTFOUND for no
// such source.
func (db *DB) RotateWebhookSecret(ctx context.Context, keys *crypto.Keyring, id string) (string, error) {
	if _, err := uuid.Parse(id); err != nil {
		return "", dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	secret := ""
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var found []string
		const lock = `SELECT id FROM data_sources WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`
		if err := tx.SelectContext(ctx, &found, lock, id); err != nil {
			return fmt.Errorf("store: webhook secret of %s: %w", id, err)
		}
		if len(found) == 0 {
			return dsar.Errorf(dsar.ENOTFOUND, "no such data source")
		}
		var err error
		secret, err = putWebhookSecret(ctx, tx, keys, id)
		return err
	})
	return secret, err
}

// putWebhookSecret makes, seals and stores a new secret for source id.
func putWebhookSecret(ctx context.Context, tx *sqlx.Tx, keys *crypto.Keyring, id string) (string, error) {
	secret := webhook.NewSecret()
	sealed, err := crypto.Seal(keys.Derive(webhookSecretLabel), []byte(secret), webhookSecretAAD(id))
	if err != nil {
		return "", err
	}
	const q = `UPDATE data_sources SET webhook_secret = $2, webhook_key_id = $3, updated_at = now() WHERE id = $1`
	if _, err := tx.ExecContext(ctx, q, id, sealed, keys.CurrentID()); err != nil {
		return "", fmt.Errorf("store: webhook secret of %s: %w", id, Translate(err))
	}
	return secret, nil
}

// WebhookSource returns a live data source's endpoint and opened secret.
// ENOTFOUND for no such source.
func (db *DB) WebhookSource(ctx context.Context, keys *crypto.Keyring, id string) (WebhookSource, error) {
	if _, err := uuid.Parse(id); err != nil {
		return WebhookSource{}, dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	var rows []struct {
		URL    *string `db:"webhook_url"`
		Sealed []byte  `db:"webhook_secret"`
		KeyID  *string `db:"webhook_key_id"`
	}
	const q = `SELECT webhook_url, webhook_secret, webhook_key_id FROM data_sources WHERE id = $1 AND deleted_at IS NULL`
	if err := db.SelectContext(ctx, &rows, q, id); err != nil {
		return WebhookSource{}, fmt.Errorf("store: webhook of %s: %w", id, err)
	}
	if len(rows) == 0 {
		return WebhookSource{}, dsar.Errorf(dsar.ENOTFOUND, "no such data source")
	}
	out := WebhookSource{ID: id}
	if rows[0].URL != nil {
		out.URL = *rows[0].URL
	}
	if rows[0].Sealed != nil && rows[0].KeyID != nil {
		key, ok := keys.DeriveFrom(*rows[0].KeyID, webhookSecretLabel)
		if !ok {
			return WebhookSource{}, fmt.Errorf("store: the webhook secret of %s is sealed by master key %q, not in crypto.previous_keys", id, *rows[0].KeyID)
		}
		secret, err := crypto.Open(key, rows[0].Sealed, webhookSecretAAD(id))
		if err != nil {
			return WebhookSource{}, fmt.Errorf("store: open the webhook secret of %s: %w", id, err)
		}
		out.Secret = string(secret)
	}
	return out, nil
}

// Reasons a webhook job takes no more callbacks (webhook_jobs.closed_reason).
const (
	WebhookJobDone       = "done"       // the owner posted the result
	WebhookJobFailed     = "failed"     // the owner posted that the job cannot be done
	WebhookJobRejected   = "rejected"   // the endpoint refused the job
	WebhookJobSuperseded = "superseded" // a newer job for the same task replaced it
)

// NewWebhookJob is one attempt of sending a webhook job.
type NewWebhookJob struct {
	ID           string // the job's webhook-id, the same for every attempt
	Token        string // the callback URL's token, the same for every attempt
	RequestID    string
	DataSourceID string
	RequestType  dsar.RequestType
	TaskToken    []byte // this attempt's: what completes the activity
	Attempt      int
	ExpiresAt    time.Time
}

// WebhookJob is a stored webhook job (its task token still sealed).
type WebhookJob struct {
	ID           string           `db:"id"`
	RequestID    string           `db:"request_id"`
	DataSourceID string           `db:"data_source_id"`
	RequestType  dsar.RequestType `db:"request_type"`
	ExpiresAt    time.Time        `db:"expires_at"`
	ClosedAt     *time.Time       `db:"closed_at"`
	ClosedReason *string          `db:"closed_reason"`

	sealedToken []byte
	keyID       string
}

// PutWebhookJob stores an attempt of a job before it is sent, so that a
// callback that comes back at once finds it: the first attempt makes the
// job, a later one gives it that attempt's task token. Any other open job
// of the same task is closed (superseded): only the newest callback URL
// works. It returns the job's expiry, the earliest any attempt gave.
func (db *DB) PutWebhookJob(ctx context.Context, keys *crypto.Keyring, j NewWebhookJob) (time.Time, error) {
	sealed, err := crypto.Seal(keys.Derive(webhookTokenLabel), j.TaskToken, webhookTokenAAD(j.ID))
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err = db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO webhook_jobs (id, token_hash, request_id, data_source_id, request_type, task_token, key_id, attempt, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET task_token = excluded.task_token, key_id = excluded.key_id, attempt = excluded.attempt,
				expires_at = least(webhook_jobs.expires_at, excluded.expires_at), updated_at = now()
			RETURNING expires_at`
		if err := tx.GetContext(ctx, &at, q, j.ID, crypto.HashToken(j.Token), j.RequestID, j.DataSourceID, string(j.RequestType),
			sealed, keys.CurrentID(), j.Attempt, j.ExpiresAt); err != nil {
			return fmt.Errorf("store: put webhook job %s: %w", j.ID, Translate(err))
		}
		const qOthers = `UPDATE webhook_jobs SET closed_at = now(), closed_reason = 'superseded', updated_at = now()
			WHERE request_id = $1 AND data_source_id = $2 AND id <> $3 AND closed_at IS NULL`
		if _, err := tx.ExecContext(ctx, qOthers, j.RequestID, j.DataSourceID, j.ID); err != nil {
			return fmt.Errorf("store: supersede webhook jobs of %s: %w", j.RequestID, Translate(err))
		}
		return nil
	})
	return at.UTC(), err
}

const webhookJobColumns = `id, request_id, data_source_id, request_type, expires_at, closed_at, closed_reason, task_token, key_id`

// webhookJobRow is a webhook_jobs row as read.
type webhookJobRow struct {
	WebhookJob
	SealedToken []byte `db:"task_token"`
	KeyID       string `db:"key_id"`
}

func (r webhookJobRow) job() WebhookJob {
	j := r.WebhookJob
	j.sealedToken, j.keyID = r.SealedToken, r.KeyID
	return j
}

// WebhookJobByToken finds the job of a callback URL's token, open or not.
// ENOTFOUND for an unknown token.
func (db *DB) WebhookJobByToken(ctx context.Context, token string) (WebhookJob, error) {
	if !crypto.ValidToken(token) {
		return WebhookJob{}, dsar.Errorf(dsar.ENOTFOUND, "no such callback")
	}
	var r webhookJobRow
	const q = `SELECT ` + webhookJobColumns + ` FROM webhook_jobs WHERE token_hash = $1`
	if err := db.GetContext(ctx, &r, q, crypto.HashToken(token)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return WebhookJob{}, dsar.Errorf(dsar.ENOTFOUND, "no such callback")
		}
		return WebhookJob{}, fmt.Errorf("store: webhook job: %w", Translate(err))
	}
	return r.job(), nil
}

// WebhookJobByID finds a job by its webhook-id. ENOTFOUND if none.
func (db *DB) WebhookJobByID(ctx context.Context, id string) (WebhookJob, error) {
	var r webhookJobRow
	const q = `SELECT ` + webhookJobColumns + ` FROM webhook_jobs WHERE id = $1`
	if err := db.GetContext(ctx, &r, q, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return WebhookJob{}, dsar.Errorf(dsar.ENOTFOUND, "no such webhook job")
		}
		return WebhookJob{}, fmt.Errorf("store: webhook job %s: %w", id, Translate(err))
	}
	return r.job(), nil
}

// WebhookTaskToken opens a job's task token (of its latest attempt).
func (db *DB) WebhookTaskToken(keys *crypto.Keyring, j WebhookJob) ([]byte, error) {
	key, ok := keys.DeriveFrom(j.keyID, webhookTokenLabel)
	if !ok {
		return nil, fmt.Errorf("store: the task token of webhook job %s is sealed by master key %q, not in crypto.previous_keys", j.ID, j.keyID)
	}
	tt, err := crypto.Open(key, j.sealedToken, webhookTokenAAD(j.ID))
	if err != nil {
		return nil, fmt.Errorf("store: open the task token of webhook job %s: %w", j.ID, err)
	}
	return tt, nil
}

// callbackIDsKept is how long a callback's webhook-id is kept to refuse
// its replay: past the signature's tolerance, a replay is stale anyway.
const callbackIDsKept = 3 * webhook.Tolerance

// ClaimWebhookJob takes a signed callback (of message id webhookID) for a
// job: it records the message id and closes the job for reason, in one
// transaction. ECONFLICT when the message id was seen for this source
// before (a replay); EGONE when the job is closed or past its expiry;
// ENOTFOUND for no such job. Nothing is recorded unless it succeeds.
func (db *DB) ClaimWebhookJob(ctx context.Context, jobID, webhookID, reason string) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		var j []struct {
			SourceID string     `db:"data_source_id"`
			Expires  time.Time  `db:"expires_at"`
			Closed   *time.Time `db:"closed_at"`
			Now      time.Time  `db:"now"`
		}
		const lock = `SELECT data_source_id, expires_at, closed_at, now() AS now FROM webhook_jobs WHERE id = $1 FOR UPDATE`
		if err := tx.SelectContext(ctx, &j, lock, jobID); err != nil {
			return fmt.Errorf("store: claim webhook job %s: %w", jobID, Translate(err))
		}
		if len(j) == 0 {
			return dsar.Errorf(dsar.ENOTFOUND, "no such webhook job")
		}
		const sweep = `DELETE FROM webhook_callback_ids WHERE seen_at < now() - $1::interval`
		if _, err := tx.ExecContext(ctx, sweep, fmt.Sprintf("%d seconds", int(callbackIDsKept.Seconds()))); err != nil {
			return fmt.Errorf("store: sweep callback ids: %w", Translate(err))
		}
		const seen = `INSERT INTO webhook_callback_ids (data_source_id, webhook_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
		res, err := tx.ExecContext(ctx, seen, j[0].SourceID, webhookID)
		if err != nil {
			return fmt.Errorf("store: callback id: %w", Translate(err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return dsar.Errorf(dsar.ECONFLICT, "this message (webhook-id) was received before: a replay")
		}
		switch {
		case j[0].Closed != nil:
			return dsar.Errorf(dsar.EGONE, "this callback URL has been used")
		case !j[0].Now.Before(j[0].Expires):
			return dsar.Errorf(dsar.EGONE, "this job passed its time limit: its callback URL has expired")
		}
		const q = `UPDATE webhook_jobs SET closed_at = now(), closed_reason = $2, updated_at = now() WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, jobID, reason); err != nil {
			return fmt.Errorf("store: claim webhook job %s: %w", jobID, Translate(err))
		}
		return nil
	})
}

// ReleaseWebhookJob undoes a claim whose callback could not be applied for
// a reason that may pass (Temporal unreachable): the job takes a callback
// again, the same message included.
func (db *DB) ReleaseWebhookJob(ctx context.Context, jobID, webhookID string) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `UPDATE webhook_jobs SET closed_at = NULL, closed_reason = NULL, updated_at = now() WHERE id = $1
			RETURNING data_source_id`
		var source string
		if err := tx.GetContext(ctx, &source, q, jobID); err != nil {
			return fmt.Errorf("store: release webhook job %s: %w", jobID, Translate(err))
		}
		const qID = `DELETE FROM webhook_callback_ids WHERE data_source_id = $1 AND webhook_id = $2`
		if _, err := tx.ExecContext(ctx, qID, source, webhookID); err != nil {
			return fmt.Errorf("store: release callback id: %w", Translate(err))
		}
		return nil
	})
}

// CloseWebhookJob closes an open job for reason (the endpoint refused it):
// its callback URL answers 410 from then on.
func (db *DB) CloseWebhookJob(ctx context.Context, jobID, reason string) error {
	const q = `UPDATE webhook_jobs SET closed_at = now(), closed_reason = $2, updated_at = now() WHERE id = $1 AND closed_at IS NULL`
	if _, err := db.ExecContext(ctx, q, jobID, reason); err != nil {
		return fmt.Errorf("store: close webhook job %s: %w", jobID, Translate(err))
	}
	return nil
}

// sealedUnderDerived is a column sealed under a key derived from a master
// key, with the column naming that key.
type sealedUnderDerived struct {
	table, id, sealed, keyID, label string
	aad                             func(id string) []byte
}

// webhookSealed are the webhook secrets and the webhook jobs' task tokens.
var webhookSealed = []sealedUnderDerived{
	{"data_sources", "id", "webhook_secret", "webhook_key_id", webhookSecretLabel, webhookSecretAAD},
	{"webhook_jobs", "id", "task_token", "key_id", webhookTokenLabel, webhookTokenAAD},
}

// resealWebhooks seals again, under the current master key's derived
// keys, every webhook secret and webhook job task token sealed under
// another, and reports how many.
func (db *DB) resealWebhooks(ctx context.Context, keys *crypto.Keyring) (int, error) {
	n := 0
	for _, c := range webhookSealed {
		err := db.Tx(ctx, func(tx *sqlx.Tx) error {
			var rows []struct {
				ID     string `db:"id"`
				KeyID  string `db:"key_id"`
				Sealed []byte `db:"sealed"`
			}
			q := `SELECT ` + c.id + `::text AS id, ` + c.keyID + ` AS key_id, ` + c.sealed + ` AS sealed FROM ` + c.table +
				` WHERE ` + c.keyID + ` IS NOT NULL AND ` + c.keyID + ` <> $1 FOR UPDATE`
			if err := tx.SelectContext(ctx, &rows, q, keys.CurrentID()); err != nil {
				return fmt.Errorf("store: %s.%s to seal again: %w", c.table, c.sealed, err)
			}
			for _, r := range rows {
				old, ok := keys.DeriveFrom(r.KeyID, c.label)
				if !ok {
					return fmt.Errorf("store: %s.%s of %s is sealed by master key %q, not in crypto.previous_keys", c.table, c.sealed, r.ID, r.KeyID)
				}
				plain, err := crypto.Open(old, r.Sealed, c.aad(r.ID))
				if err != nil {
					return fmt.Errorf("store: open %s.%s of %s: %w", c.table, c.sealed, r.ID, err)
				}
				sealed, err := crypto.Seal(keys.Derive(c.label), plain, c.aad(r.ID))
				if err != nil {
					return err
				}
				qUpdate := `UPDATE ` + c.table + ` SET ` + c.sealed + ` = $2, ` + c.keyID + ` = $3 WHERE ` + c.id + ` = $1`
				if _, err := tx.ExecContext(ctx, qUpdate, r.ID, sealed, keys.CurrentID()); err != nil {
					return fmt.Errorf("store: seal %s.%s of %s again: %w", c.table, c.sealed, r.ID, Translate(err))
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
