package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// audience says who receives the alerts of one kind. It is the one place
// that decides it: the workflow's alerts, a requester's reply and the
// digest's list of outstanding work all follow it.
type audience struct {
	// staff: the request's handler; while it has none (or the handler is
	// disabled), every active org owner and admin: the people who pick up
	// unhandled requests (the seed: "The Org_Owner or another Osano Admin").
	staff bool
	// orgOwners: every active org owner, whether or not the request has a
	// handler.
	orgOwners bool
	// sources: for each data source the alert names, whoever answers for
	// its task (see answerers): the task's assignee, else the source's
	// owners, else the org owners.
	sources bool
	// writers: the active staff who wrote to the requester on the request.
	writers bool
}

// audiences is who receives each alert kind. A kind missing here goes to
// the request's staff (a test holds every kind to a row).
var audiences = map[string]audience{
	AlertNewRequest:      {staff: true},
	AlertUnassigned:      {staff: true},
	AlertTaskAssigned:    {sources: true},
	AlertTaskStalled:     {sources: true},
	AlertDeadlineWarning: {staff: true, sources: true},
	AlertOverdue:         {staff: true, sources: true},
	// A step that failed for good needs an operator as much as the
	// handler: org owners manage the deployment's people.
	AlertAttention:        {staff: true, orgOwners: true},
	AlertRequesterReplied: {staff: true, writers: true},
	AlertReadyToComplete:  {staff: true},
	AlertTaskDeclined:     {staff: true},
	AlertWithdrawn:        {staff: true, sources: true},
	AlertMailFailed:       {staff: true},
	// An appeal is decided by someone who did not decide the request (often
	// its handler): the org owners hear of it too, to pick who decides.
	AlertAppealFiled:   {staff: true, orgOwners: true},
	AlertAppealWarning: {staff: true, orgOwners: true},
	AlertAppealOverdue: {staff: true, orgOwners: true},
	// An automated source's task that needs a person: its owners fix the
	// connector or the endpoint, the handler decides.
	AlertSourceAttention: {staff: true, sources: true},
	AlertAcknowledgeDue:  {staff: true},
	// Recorded by the digest for each user work waits on, never resolved.
	AlertOutstanding: {},
}

func audienceOf(kind string) audience {
	if a, ok := audiences[kind]; ok {
		return a
	}
	return audience{staff: true}
}

// activeHandler holds for a user h (joined as h) who can handle requests:
// not disabled, and an org owner, admin or manager (not a source owner, who
// sees only their own tasks, nor an operator, who works no request).
const activeHandler = `h.disabled_at IS NULL AND h.role IN ('org_owner', 'admin', 'manager')`

// answerers is who answers for each task named by a pairs CTE
// (request_id uuid, data_source_id uuid), one row per task and user: the
// task's active assignee; else its data source's active owners; else, the
// source having no active owner, every active org owner (unowned). The task
// need not exist yet (an assignment's alert may come before its row). It is
// the one rule for source alerts and for the digest's open tasks.
const answerers = `
SELECT p.request_id, p.data_source_id, ds.name AS data_source_name, x.user_id, x.unowned
FROM pairs p
JOIN data_sources ds ON ds.id = p.data_source_id
LEFT JOIN tasks t ON t.request_id = p.request_id AND t.data_source_id = p.data_source_id
LEFT JOIN users a ON a.id = t.assignee_id AND a.disabled_at IS NULL
CROSS JOIN LATERAL (
	SELECT a.id AS user_id, false AS unowned WHERE a.id IS NOT NULL
	UNION ALL
	SELECT o.user_id, false FROM data_source_owners o JOIN users u ON u.id = o.user_id AND u.disabled_at IS NULL
	WHERE a.id IS NULL AND o.data_source_id = p.data_source_id
	UNION ALL
	SELECT u.id, true FROM users u
	WHERE a.id IS NULL AND u.role = 'org_owner' AND u.disabled_at IS NULL AND NOT EXISTS (
		SELECT 1 FROM data_source_owners o JOIN users v ON v.id = o.user_id AND v.disabled_at IS NULL
		WHERE o.data_source_id = p.data_source_id)
) x`

// AlertSubject is what an alert is about: its kind, the request (or none)
// and the data sources it names (their tasks, for source alerts).
type AlertSubject struct {
	Kind          string
	RequestID     string
	DataSourceIDs []string
}

// AlertRecipient is a user an alert goes to.
type AlertRecipient struct {
	UserID string
	// DataSources names the alert's data sources this user answers for,
	// by name.
	DataSources []string
	// Unowned names those of DataSources that have no active owner: the
	// user hears of them as an org owner.
	Unowned []string
}

// AlertRecipients resolves who receives an alert, each user once, by the
// kind's audience (see audiences): the request's handler or, while it has
// none, the org owners and admins; for the data sources named, whoever
// answers for their tasks, falling to the org owners when a source has no
// active owner. Disabled users receive nothing.
func (db *DB) AlertRecipients(ctx context.Context, s AlertSubject) ([]AlertRecipient, error) {
	return alertRecipients(ctx, db, s)
}

func alertRecipients(ctx context.Context, q sqlx.QueryerContext, s AlertSubject) ([]AlertRecipient, error) {
	aud := audienceOf(s.Kind)
	var rid *string
	if s.RequestID != "" {
		rid = &s.RequestID
	}
	var out []AlertRecipient
	at := map[string]int{}
	add := func(id string) *AlertRecipient {
		if i, ok := at[id]; ok {
			return &out[i]
		}
		at[id] = len(out)
		out = append(out, AlertRecipient{UserID: id})
		return &out[len(out)-1]
	}
	addAll := func(what, query string, args ...any) error {
		var ids []string
		if err := sqlx.SelectContext(ctx, q, &ids, query, args...); err != nil {
			return fmt.Errorf("store: alert recipients (%s): %w", what, err)
		}
		for _, id := range ids {
			add(id)
		}
		return nil
	}
	if aud.staff {
		const qHandler = `SELECT h.id FROM requests r JOIN users h ON h.id = r.handler_id AND ` + activeHandler + `
			WHERE r.id = $1::uuid`
		var handler []string
		if err := sqlx.SelectContext(ctx, q, &handler, qHandler, rid); err != nil {
			return nil, fmt.Errorf("store: alert recipients (handler): %w", err)
		}
		if len(handler) > 0 {
			add(handler[0])
		} else {
			const qTeam = `SELECT id FROM users WHERE role IN ('org_owner', 'admin') AND disabled_at IS NULL
				ORDER BY role = 'admin', email`
			if err := addAll("org owners and admins", qTeam); err != nil {
				return nil, err
			}
		}
	}
	if aud.orgOwners {
		const qOwners = `SELECT id FROM users WHERE role = 'org_owner' AND disabled_at IS NULL ORDER BY email`
		if err := addAll("org owners", qOwners); err != nil {
			return nil, err
		}
	}
	if aud.writers && rid != nil {
		const qWriters = `SELECT u.id FROM users u WHERE u.disabled_at IS NULL AND u.id IN
			(SELECT staff_user_id FROM messages WHERE request_id = $1::uuid AND sender = 'staff' AND staff_user_id IS NOT NULL)
			ORDER BY u.email`
		if err := addAll("writers", qWriters, rid); err != nil {
			return nil, err
		}
	}
	if aud.sources && len(s.DataSourceIDs) > 0 {
		const qSources = `SELECT user_id, data_source_name, unowned FROM (
			WITH pairs AS (SELECT DISTINCT $1::uuid AS request_id, unnest($2::uuid[]) AS data_source_id)` + answerers + `
			) s ORDER BY data_source_name, data_source_id, user_id`
		var rows []struct {
			UserID string `db:"user_id"`
			Name   string `db:"data_source_name"`
			Un     bool   `db:"unowned"`
		}
		if err := sqlx.SelectContext(ctx, q, &rows, qSources, rid, pq.Array(s.DataSourceIDs)); err != nil {
			return nil, fmt.Errorf("store: alert recipients (data sources): %w", Translate(err))
		}
		for _, r := range rows {
			rc := add(r.UserID)
			rc.DataSources = append(rc.DataSources, r.Name)
			if r.Un {
				rc.Unowned = append(rc.Unowned, r.Name)
			}
		}
	}
	return out, nil
}
