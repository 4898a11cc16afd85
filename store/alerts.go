package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Alert kinds: what a staff alert is about.
const (
	AlertNewRequest       = "new_request"             // a request was verified (or an opt-out accepted at submission) and waits for data sources
	AlertUnassigned       = "unassigned"              // still no data sources, days after verification
	AlertTaskAssigned     = "task_assigned"           // a data source the recipient owns was assigned
	AlertTaskStalled      = "task_stalled"            // a task has not moved for days
	AlertDeadlineWarning  = "deadline_warning"        // the deadline is near
	AlertOverdue          = "overdue"                 // the deadline has passed
	AlertAttention        = "needs_attention"         // a step of the request's workflow failed for good and waits for an operator
	AlertRequesterReplied = "requester_replied"       // the requester wrote a message
	AlertReadyToComplete  = "ready_to_complete"       // every task is done: the request can be completed
	AlertTaskDeclined     = "task_declined"           // a source owner declined a task, with a reason
	AlertWithdrawn        = "request_withdrawn"       // the requester withdrew the request
	AlertMailFailed       = "mail_failed"             // the completion or rejection mail could not be delivered
	AlertAppealFiled      = "appeal_filed"            // the requester appealed the decision on their request
	AlertAppealWarning    = "appeal_deadline_warning" // an appeal's deadline is near
	AlertAppealOverdue    = "appeal_overdue"          // an appeal's deadline has passed undecided
	AlertSourceAttention  = "source_attention"        // an automated data source's task needs a person: a failed step, or a dry run to approve
	AlertAcknowledgeDue   = "acknowledge_due"         // the rule's acknowledgement deadline came and no confirmation of receipt was sent
	// AlertOutstanding is the end-of-day notice of the recipient's open
	// work: the digest records one per user and day for every user that
	// work waits on (RecordOutstandingAlerts), so a user with no event that
	// day still gets the digest, once.
	AlertOutstanding = "outstanding"
)

// AlertKinds lists every alert kind.
var AlertKinds = []string{AlertNewRequest, AlertUnassigned, AlertTaskAssigned, AlertTaskStalled,
	AlertDeadlineWarning, AlertOverdue, AlertAttention, AlertRequesterReplied,
	AlertReadyToComplete, AlertTaskDeclined, AlertWithdrawn, AlertMailFailed, AlertAcknowledgeDue, AlertOutstanding,
	AlertAppealFiled, AlertAppealWarning, AlertAppealOverdue, AlertSourceAttention}

// AlertLabel is an alert kind in words, for the digest mail.
func AlertLabel(kind string) string {
	switch kind {
	case AlertNewRequest:
		return "New request waiting for data sources (email verified, or an opt-out taken at once)"
	case AlertUnassigned:
		return "Request still has no data sources assigned"
	case AlertTaskAssigned:
		return "New task: a data source was assigned to a request"
	case AlertTaskStalled:
		return "A task on a data source has not moved"
	case AlertDeadlineWarning:
		return "Deadline approaching"
	case AlertOverdue:
		return "Request is overdue"
	case AlertAttention:
		return "Request is stuck: a step failed and needs an operator"
	case AlertRequesterReplied:
		return "The requester sent a message"
	case AlertReadyToComplete:
		return "Every task is done: the request is ready to complete"
	case AlertTaskDeclined:
		return "A task was declined and needs a decision"
	case AlertWithdrawn:
		return "The requester withdrew the request"
	case AlertMailFailed:
		return "The closing mail to the requester could not be delivered"
	case AlertSourceAttention:
		return "An automated data source needs you: retry, approve or switch it to manual"
	case AlertAcknowledgeDue:
		return "Confirm receipt to the requester: the acknowledgement deadline of the law has come"
	case AlertOutstanding:
		return "Requests waiting on you"
	case AlertAppealFiled:
		return "The requester appealed the decision: someone who did not decide the request decides the appeal"
	case AlertAppealWarning:
		return "Appeal deadline approaching"
	case AlertAppealOverdue:
		return "Appeal is overdue: its deadline has passed undecided"
	}
	return kind
}

// Alert is one staff alert.
type Alert struct {
	ID          int64           `db:"id" json:"id"`
	DedupeKey   string          `db:"dedupe_key" json:"-"`
	RecipientID string          `db:"recipient_id" json:"recipient_id"`
	RequestID   *string         `db:"request_id" json:"request_id,omitempty"`
	Kind        string          `db:"kind" json:"kind"`
	Detail      json.RawMessage `db:"detail" json:"detail"`
	CreatedAt   time.Time       `db:"created_at" json:"created_at"`
	SentAt      *time.Time      `db:"sent_at" json:"sent_at,omitempty"`
	// DeadlineRule is the id of the rule the request's deadline was
	// counted by (PendingAlerts only, "" without a request), whose time
	// zone the deadline's date is read in.
	DeadlineRule string `db:"deadline_rule" json:"-"`
}

// NewAlert is an alert to record. DedupeKey makes recording idempotent: a
// second alert with the same key is dropped. Detail holds no PII.
type NewAlert struct {
	DedupeKey   string
	RecipientID string
	RequestID   string
	Kind        string
	Detail      map[string]any
}

// RecordAlerts stores the alerts not yet stored (by dedupe key) and returns
// how many were new.
func (db *DB) RecordAlerts(ctx context.Context, alerts []NewAlert) (int, error) {
	n := 0
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = recordAlerts(ctx, tx, alerts)
		return err
	})
	return n, err
}

// recordAlerts is RecordAlerts inside a transaction.
func recordAlerts(ctx context.Context, tx *sqlx.Tx, alerts []NewAlert) (int, error) {
	n := 0
	for _, a := range alerts {
		detail, err := json.Marshal(a.Detail)
		if err != nil {
			return 0, fmt.Errorf("store: alert detail: %w", err)
		}
		if a.Detail == nil {
			detail = []byte("{}")
		}
		var rid *string
		if a.RequestID != "" {
			rid = &a.RequestID
		}
		// The same event again adds nothing, except that an alert not yet
		// sent gathers the data sources of a later event with its key (a
		// second source assigned to the same owner the same day is named in
		// the day's one alert).
		const q = `INSERT INTO alerts (dedupe_key, recipient_id, request_id, kind, detail)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (dedupe_key) DO UPDATE SET detail = jsonb_set(alerts.detail, '{data_sources}',
				(SELECT jsonb_agg(DISTINCT e.v) FROM jsonb_array_elements(
					coalesce(alerts.detail->'data_sources', '[]'::jsonb) || (excluded.detail->'data_sources')) AS e(v)))
			WHERE alerts.sent_at IS NULL AND jsonb_typeof(excluded.detail->'data_sources') = 'array'
				AND NOT coalesce(alerts.detail->'data_sources', '[]'::jsonb) @> (excluded.detail->'data_sources')
			RETURNING (xmax = 0) AS inserted`
		var inserted bool
		err = tx.GetContext(ctx, &inserted, q, a.DedupeKey, a.RecipientID, rid, a.Kind, detail)
		switch {
		case errors.Is(err, sql.ErrNoRows): // recorded before
		case err != nil:
			return 0, fmt.Errorf("store: record alert %s: %w", a.Kind, Translate(err))
		case inserted:
			n++
		}
	}
	return n, nil
}

// PendingAlertRecipients lists the users with alerts not yet sent.
func (db *DB) PendingAlertRecipients(ctx context.Context) ([]string, error) {
	const q = `SELECT DISTINCT recipient_id FROM alerts WHERE sent_at IS NULL ORDER BY recipient_id`
	out := []string{}
	if err := db.SelectContext(ctx, &out, q); err != nil {
		return nil, fmt.Errorf("store: pending alert recipients: %w", err)
	}
	return out, nil
}

// PendingAlerts lists a user's alerts not yet sent, oldest first.
func (db *DB) PendingAlerts(ctx context.Context, recipientID string) ([]Alert, error) {
	const q = `SELECT a.id, a.dedupe_key, a.recipient_id, a.request_id, a.kind, a.detail, a.created_at, a.sent_at,
			coalesce(r.deadline_rule, '') AS deadline_rule
		FROM alerts a LEFT JOIN requests r ON r.id = a.request_id
		WHERE a.recipient_id = $1 AND a.sent_at IS NULL ORDER BY a.id`
	out := []Alert{}
	if err := db.SelectContext(ctx, &out, q, recipientID); err != nil {
		return nil, fmt.Errorf("store: pending alerts of %s: %w", recipientID, err)
	}
	return out, nil
}

// MarkAlertsSent stamps the alerts as sent; alerts already sent keep their
// first stamp.
func (db *DB) MarkAlertsSent(ctx context.Context, ids []int64) error {
	const q = `UPDATE alerts SET sent_at = now() WHERE id = ANY($1) AND sent_at IS NULL`
	if _, err := db.ExecContext(ctx, q, pq.Array(ids)); err != nil {
		return fmt.Errorf("store: mark alerts sent: %w", err)
	}
	return nil
}

// RequestAlerts lists the alerts recorded about a request, oldest first.
func (db *DB) RequestAlerts(ctx context.Context, requestID string) ([]Alert, error) {
	const q = `SELECT id, dedupe_key, recipient_id, request_id, kind, detail, created_at, sent_at
		FROM alerts WHERE request_id = $1 ORDER BY id`
	out := []Alert{}
	if err := db.SelectContext(ctx, &out, q, requestID); err != nil {
		return nil, fmt.Errorf("store: alerts of %s: %w", requestID, err)
	}
	return out, nil
}
