package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/opendsar/dsar"
)

// The reconciliation's reads: what its workflow checks against Temporal.

// UnerasedRequests lists the ids of requests closed before closedBefore
// whose PII has not been scrubbed, oldest first, at most limit. A request
// under a legal hold is not listed: its erasure waits for the lift.
func (db *DB) UnerasedRequests(ctx context.Context, closedBefore time.Time, limit int) ([]string, error) {
	const q = `SELECT id FROM requests WHERE closed_at < $1 AND scrubbed_at IS NULL AND NOT legal_hold_on ORDER BY closed_at LIMIT $2`
	ids := []string{}
	if err := db.SelectContext(ctx, &ids, q, closedBefore, limit); err != nil {
		return nil, fmt.Errorf("store: unerased requests: %w", err)
	}
	return ids, nil
}

// ProjectedStatus is a request's status as the queue shows it, and when its
// row last changed.
type ProjectedStatus struct {
	ID        string      `db:"id"`
	Status    dsar.Status `db:"status"`
	UpdatedAt time.Time   `db:"updated_at"`
}

// ProjectedStatuses returns the status of each of ids (UUIDs) that has a row;
// ids without one are missing from the map.
func (db *DB) ProjectedStatuses(ctx context.Context, ids []string) (map[string]ProjectedStatus, error) {
	const q = `SELECT id, status, updated_at FROM requests WHERE id = ANY($1::uuid[])`
	var rows []ProjectedStatus
	if err := db.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: projected statuses: %w", err)
	}
	m := make(map[string]ProjectedStatus, len(rows))
	for _, r := range rows {
		m[r.ID] = r
	}
	return m, nil
}

// OpenRequestsExcept lists the ids of accepted requests that the queue
// shows open (not closed), whose row has not changed since before
// unchangedSince, and that are not among except (UUIDs), least recently changed
// first, at most limit: with except the requests whose workflows run, what
// is left are open requests whose workflows may have ended.
func (db *DB) OpenRequestsExcept(ctx context.Context, except []string, unchangedSince time.Time, limit int) ([]string, error) {
	const q = `SELECT id FROM requests
		WHERE accepted AND closed_at IS NULL AND updated_at < $2 AND NOT (id = ANY($1::uuid[]))
		ORDER BY updated_at LIMIT $3`
	ids := []string{}
	if err := db.SelectContext(ctx, &ids, q, pq.Array(except), unchangedSince, limit); err != nil {
		return nil, fmt.Errorf("store: open requests: %w", err)
	}
	return ids, nil
}
