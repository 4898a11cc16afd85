package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
)

// The retention sweep: what has outlived its configured period is deleted
// (docs/retention.md). Nothing of a request under a legal hold is touched,
// and no audit event is ever deleted (the chain would break).

// RetentionPeriods are the retention.* keys: how long each kind of row is
// kept past the moment its period counts from.
type RetentionPeriods struct {
	Records         time.Duration // compliance records, from the request's close (unless retain_until says otherwise)
	Messages        time.Duration // messages and their attachments, from the request's close
	Packages        time.Duration // expired access packages' rows, from their expiry
	Sessions        time.Duration // sessions, from their expiry or revocation
	Tokens          time.Duration // emailed tokens, from their expiry or use
	IdempotencyKeys time.Duration // stored answers to Idempotency-Keys, from their creation
	BlindIndex      time.Duration // a request's email blind index, from its erasure
}

// SweepCounts is what one sweep deleted, by kind.
type SweepCounts struct {
	Records         int64 `json:"records"`
	Messages        int64 `json:"messages"`
	Attachments     int64 `json:"attachments"`
	Packages        int64 `json:"packages"`
	Sessions        int64 `json:"sessions"`
	Tokens          int64 `json:"tokens"`
	IdempotencyKeys int64 `json:"idempotency_keys"`
	BlindIndex      int64 `json:"blind_index"`
}

// Total is the number of rows the sweep deleted (or cleared).
func (c SweepCounts) Total() int64 {
	return c.Records + c.Messages + c.Attachments + c.Packages + c.Sessions + c.Tokens + c.IdempotencyKeys + c.BlindIndex
}

// SweepRetention deletes, as of now, every row past its period in p, at
// most limit of each kind (the next sweep takes the rest), and appends the
// audit event retention.swept with the counts, in one transaction. Rows
// of requests under a legal hold stay.
func (db *DB) SweepRetention(ctx context.Context, now time.Time, p RetentionPeriods, limit int) (SweepCounts, error) {
	var c SweepCounts
	cut := func(d time.Duration) time.Time { return now.Add(-d) }
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		steps := []struct {
			name  string
			q     string
			args  []any
			count *int64
		}{
			{"compliance records", `DELETE FROM compliance_records WHERE request_id IN (
				SELECT c.request_id FROM compliance_records c
				WHERE NOT c.legal_hold AND c.responded_at IS NOT NULL
					AND coalesce(c.retain_until, c.responded_at + $2 * interval '1 microsecond') < $1
					-- An appeal's record (Colorado Rule 6.11) is kept the
					-- same period from its decision; an undecided one, kept.
					AND (c.appeal_filed_at IS NULL OR c.appeal_decided_at + $2 * interval '1 microsecond' < $1)
					AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = c.request_id AND r.legal_hold_on)
				LIMIT $3)`, []any{now, p.Records.Microseconds(), limit}, &c.Records},
			{"packages", `DELETE FROM packages WHERE id IN (
				SELECT pk.id FROM packages pk JOIN requests r ON r.id = pk.request_id
				WHERE pk.status = 'expired' AND coalesce(pk.expired_at, pk.expires_at) < $1 AND NOT r.legal_hold_on
				LIMIT $2)`, []any{cut(p.Packages), limit}, &c.Packages},
			{"sessions", `DELETE FROM sessions WHERE token_hash IN (
				SELECT token_hash FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)`,
				[]any{cut(p.Sessions), limit}, &c.Sessions},
			{"tokens", `DELETE FROM tokens WHERE token_hash IN (
				SELECT t.token_hash FROM tokens t LEFT JOIN requests r ON r.id = t.request_id
				WHERE (t.expires_at < $1 OR t.used_at < $1) AND NOT coalesce(r.legal_hold_on, false)
				LIMIT $2)`, []any{cut(p.Tokens), limit}, &c.Tokens},
			{"idempotency keys", `DELETE FROM idempotency_keys WHERE (scope, key) IN (
				SELECT scope, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
				[]any{cut(p.IdempotencyKeys), limit}, &c.IdempotencyKeys},
			{"blind index", `UPDATE requests SET email_hash = NULL WHERE id IN (
				SELECT id FROM requests WHERE email_hash IS NOT NULL AND scrubbed_at < $1 AND NOT legal_hold_on LIMIT $2)`,
				[]any{cut(p.BlindIndex), limit}, &c.BlindIndex},
		}
		for _, s := range steps {
			res, err := tx.ExecContext(ctx, s.q, s.args...)
			if err != nil {
				return fmt.Errorf("store: retention sweep: %s: %w", s.name, err)
			}
			*s.count, _ = res.RowsAffected()
		}
		// Messages last: their attachments are counted as they go.
		const qm = `WITH doomed AS (
				SELECT m.id FROM messages m JOIN requests r ON r.id = m.request_id
				WHERE r.closed_at < $1 AND NOT r.legal_hold_on LIMIT $2),
			att AS (DELETE FROM message_attachments WHERE message_id IN (SELECT id FROM doomed) RETURNING 1),
			msg AS (DELETE FROM messages WHERE id IN (SELECT id FROM doomed) RETURNING 1)
			SELECT (SELECT count(*) FROM msg) AS messages, (SELECT count(*) FROM att) AS attachments`
		var n struct {
			Messages    int64 `db:"messages"`
			Attachments int64 `db:"attachments"`
		}
		if err := tx.GetContext(ctx, &n, qm, cut(p.Messages), limit); err != nil {
			return fmt.Errorf("store: retention sweep: messages: %w", err)
		}
		c.Messages, c.Attachments = n.Messages, n.Attachments
		_, err := db.AppendAuditTx(ctx, tx, Audit{ActorKind: ActorSystem, Action: dsar.AuditRetentionSwept, Detail: map[string]any{
			"records": c.Records, "messages": c.Messages, "attachments": c.Attachments, "packages": c.Packages,
			"sessions": c.Sessions, "tokens": c.Tokens, "idempotency_keys": c.IdempotencyKeys, "blind_index": c.BlindIndex,
		}})
		return err
	})
	if err != nil {
		return SweepCounts{}, err
	}
	return c, nil
}
