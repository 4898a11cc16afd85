package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/opendsar/dsar"
)

// staffOpen is the statuses of requests that wait on staff: verified and
// not closed.
func staffOpen() pq.StringArray {
	var out pq.StringArray
	for _, s := range dsar.Statuses {
		if !s.Closed() && s != dsar.StatusPendingEmailVerification {
			out = append(out, string(s))
		}
	}
	return out
}

// openTasks is the pairs CTE (see answerers) of every open task of a request
// that waits on staff ($1, the statuses).
const openTasks = `pairs AS (SELECT t.request_id, t.data_source_id FROM tasks t JOIN requests r ON r.id = t.request_id
	WHERE t.status = 'open' AND r.accepted AND r.status = ANY($1))`

// OutstandingRequest is an open request that waits on a user.
type OutstandingRequest struct {
	RequestID   string           `db:"id"`
	RequestType dsar.RequestType `db:"request_type"`
	Status      dsar.Status      `db:"status"`
	Deadline    time.Time        `db:"deadline"`
	// DeadlineRule is the id of the rule the deadline was counted by,
	// whose time zone its date is read in.
	DeadlineRule string `db:"deadline_rule"`
	Overdue      bool   `db:"overdue"` // past the deadline
	// DataSources names the data sources of the user's open tasks on the
	// request (in Outstanding.Tasks only).
	DataSources pq.StringArray `db:"data_sources"`
	// Unowned names those of DataSources without an active owner: the
	// user answers for them as an org owner.
	Unowned pq.StringArray `db:"unowned"`
	Total   int            `db:"total"` // how many the whole list holds
}

// OutstandingList is the first requests of a list, earliest deadline first,
// and how many it holds in all.
type OutstandingList struct {
	Items []OutstandingRequest
	Total int
}

// Outstanding is what waits on a user at the end of a day. The same rules
// as AlertRecipients decide it: the requests they handle; for org owners
// and admins, the requests without an active handler; the open tasks they
// answer for (as assignee, as owner of the source, or as an org owner when
// the source has no active owner).
type Outstanding struct {
	Handled   OutstandingList
	Unhandled OutstandingList
	Tasks     OutstandingList
}

// Empty reports whether nothing waits.
func (o Outstanding) Empty() bool {
	return o.Handled.Total == 0 && o.Unhandled.Total == 0 && o.Tasks.Total == 0
}

// Outstanding lists what waits on user userID, each list at most limit
// long. A disabled user has nothing outstanding. ENOTFOUND for no such
// user.
func (db *DB) Outstanding(ctx context.Context, userID string, limit int) (Outstanding, error) {
	var out Outstanding
	u, err := db.User(ctx, userID)
	if err != nil || u.DisabledAt != nil {
		return out, err
	}
	open := staffOpen()
	list := func(what string, dst *OutstandingList, q string, args ...any) error {
		rows := []OutstandingRequest{}
		if err := db.SelectContext(ctx, &rows, q, args...); err != nil {
			return fmt.Errorf("store: outstanding %s of %s: %w", what, userID, err)
		}
		dst.Items = rows
		if len(rows) > 0 {
			dst.Total = rows[0].Total
		}
		return nil
	}
	const columns = `r.id, r.request_type, r.status, r.deadline, r.deadline_rule, r.overdue OR r.deadline < now() AS overdue`
	const qHandled = `SELECT ` + columns + `, '{}'::text[] AS data_sources, '{}'::text[] AS unowned, count(*) OVER () AS total
		FROM requests r WHERE r.handler_id = $1 AND r.accepted AND r.status = ANY($2)
		ORDER BY r.deadline, r.id LIMIT $3`
	if err := list("handled", &out.Handled, qHandled, userID, open, limit); err != nil {
		return out, err
	}
	if u.Role == dsar.RoleOrgOwner || u.Role == dsar.RoleAdmin {
		const qUnhandled = `SELECT ` + columns + `, '{}'::text[] AS data_sources, '{}'::text[] AS unowned, count(*) OVER () AS total
			FROM requests r LEFT JOIN users h ON h.id = r.handler_id AND ` + activeHandler + `
			WHERE h.id IS NULL AND r.accepted AND r.status = ANY($1)
			ORDER BY r.deadline, r.id LIMIT $2`
		if err := list("unhandled", &out.Unhandled, qUnhandled, open, limit); err != nil {
			return out, err
		}
	}
	// The open tasks are narrowed to those this user might answer for
	// before answerers decides.
	const qTasks = `WITH pairs AS (
			SELECT t.request_id, t.data_source_id FROM tasks t JOIN requests r ON r.id = t.request_id
			WHERE t.status = 'open' AND r.accepted AND r.status = ANY($1) AND (t.assignee_id = $2 OR $3
				OR EXISTS (SELECT 1 FROM data_source_owners o WHERE o.data_source_id = t.data_source_id AND o.user_id = $2))
		), mine AS (` + answerers + `)
		SELECT ` + columns + `, array_agg(m.data_source_name ORDER BY m.data_source_name) AS data_sources,
			array_remove(array_agg(CASE WHEN m.unowned THEN m.data_source_name END ORDER BY m.data_source_name), NULL) AS unowned,
			count(*) OVER () AS total
		FROM mine m JOIN requests r ON r.id = m.request_id
		WHERE m.user_id = $2
		GROUP BY r.id ORDER BY r.deadline, r.id LIMIT $4`
	if err := list("tasks", &out.Tasks, qTasks, open, userID, u.Role == dsar.RoleOrgOwner, limit); err != nil {
		return out, err
	}
	return out, nil
}

// RecordOutstandingAlerts records an AlertOutstanding for every active user
// with work outstanding (see Outstanding), once per user and day (a date
// the caller names, e.g. "2026-04-01"), and returns how many were new.
func (db *DB) RecordOutstandingAlerts(ctx context.Context, day string) (int, error) {
	const q = `WITH ` + openTasks + `,
		waiting AS (
			SELECT r.handler_id AS user_id FROM requests r JOIN users h ON h.id = r.handler_id AND ` + activeHandler + `
			WHERE r.accepted AND r.status = ANY($1)
			UNION
			SELECT u.id FROM users u WHERE u.role IN ('org_owner', 'admin') AND u.disabled_at IS NULL AND EXISTS (
				SELECT 1 FROM requests r LEFT JOIN users h ON h.id = r.handler_id AND ` + activeHandler + `
				WHERE h.id IS NULL AND r.accepted AND r.status = ANY($1))
			UNION
			SELECT user_id FROM (` + answerers + `) a
		)
		INSERT INTO alerts (dedupe_key, recipient_id, kind)
		SELECT $2::text || ':' || $3::text || ':' || user_id, user_id, $2::text FROM waiting
		ON CONFLICT (dedupe_key) DO NOTHING`
	res, err := db.ExecContext(ctx, q, staffOpen(), AlertOutstanding, day)
	if err != nil {
		return 0, fmt.Errorf("store: record outstanding alerts of %s: %w", day, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
