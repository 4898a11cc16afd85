package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
)

// Compliance records: one row per request, without personal data, written
// with every projection (Project) and kept retention.records after the
// request closed. The scrub never touches them; the retention sweep
// deletes them once their time has passed, unless a legal hold is on.

// RecordFacts is what a request's compliance record needs beyond the
// projection's own fields. Empty fields are taken from the request's row
// (written at intake, never erased): runs that carry none still get a
// whole record.
type RecordFacts struct {
	RequestType   dsar.RequestType   `json:",omitempty"`
	RequestorType dsar.RequestorType `json:",omitempty"`
	Rule          string             `json:",omitempty"` // the jurisdiction rule's id
	Channel       dsar.Channel       `json:",omitempty"`
	ReceivedAt    time.Time          `json:",omitzero"`
	// AcknowledgedAt is when receipt was confirmed to the requester.
	AcknowledgedAt *time.Time `json:",omitempty"`
	// The appeal, if one was filed (empty: as the appeals table says).
	AppealFiledAt   *time.Time `json:",omitempty"`
	AppealOutcome   string     `json:",omitempty"`
	AppealDecidedAt *time.Time `json:",omitempty"`
	// RetainFor is retention.records, set by the activity that writes the
	// projection (the workflow reads no config): retain_until is the close
	// plus it. Zero leaves retain_until empty, and the sweep counts the
	// configured period from the close.
	RetainFor time.Duration `json:",omitempty"`
}

// LegalHold is a request's legal hold: while On, its erasure waits and the
// retention sweep leaves it alone. Reason is staff's text; By a user id.
type LegalHold struct {
	On     bool      `json:"on"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	By     string    `json:"by,omitempty"`
}

// upsertRecord writes p's compliance record in Project's transaction,
// after the request's row and tasks (whose sources it reads). A record
// written from a later projection (a higher Seq) is never overwritten by
// an earlier one; Seq 0 (runs before sequence numbers, the
// reconciliation's final states) always writes.
func upsertRecord(ctx context.Context, tx *sqlx.Tx, p Projection) error {
	f := p.Record
	outcomes := make([]dsar.TaskOutcome, len(p.Tasks))
	for i, t := range p.Tasks {
		outcomes[i] = dsar.TaskOutcome(t.Outcome)
	}
	outcome := dsar.OutcomeOf(p.Status, outcomes)
	denial := []string{}
	if outcome == dsar.RecordDenied && p.CloseReasons != nil {
		denial = p.CloseReasons
	}
	var received *time.Time
	if !f.ReceivedAt.IsZero() {
		received = &f.ReceivedAt
	}
	var retain *time.Time
	if p.ClosedAt != nil && f.RetainFor > 0 {
		retain = new(p.ClosedAt.Add(f.RetainFor))
	}
	const q = `INSERT INTO compliance_records (request_id, reference, request_type, requestor_type, rule, channel,
			received_at, acknowledged_at, due_at, extended_to, responded_at, outcome, denial_basis,
			appeal_filed_at, appeal_outcome, appeal_decided_at, sources, legal_hold, seq, updated_at, retain_until)
		SELECT r.id, $2, coalesce(nullif($3, ''), r.request_type), coalesce(nullif($4, ''), r.requestor_type),
			coalesce(nullif($5, ''), r.deadline_rule), coalesce(nullif($6, ''), r.channel),
			coalesce($7, r.submitted_at), $8, r.original_deadline,
			CASE WHEN $9::timestamptz <> r.original_deadline THEN $9::timestamptz END, $10, $11, $12,
			coalesce($13, ap.filed_at), coalesce(nullif($14, ''), CASE WHEN ap.status <> 'open' THEN ap.status END, ''),
			coalesce($15, ap.decided_at),
			coalesce((SELECT jsonb_agg(jsonb_build_object('id', t.data_source_id, 'name', ds.name, 'status', t.status,
					'outcome', t.outcome, 'record_count', t.record_count) ORDER BY t.assigned_at, t.data_source_id)
				FROM tasks t JOIN data_sources ds ON ds.id = t.data_source_id WHERE t.request_id = r.id), '[]'::jsonb),
			r.legal_hold_on, $16, now(), $17
		FROM requests r LEFT JOIN appeals ap ON ap.request_id = r.id WHERE r.id = $1
		ON CONFLICT (request_id) DO UPDATE SET reference = excluded.reference, request_type = excluded.request_type,
			requestor_type = excluded.requestor_type, rule = excluded.rule, channel = excluded.channel,
			received_at = excluded.received_at, acknowledged_at = excluded.acknowledged_at, due_at = excluded.due_at,
			extended_to = excluded.extended_to, responded_at = excluded.responded_at, outcome = excluded.outcome,
			denial_basis = excluded.denial_basis, appeal_filed_at = excluded.appeal_filed_at,
			appeal_outcome = excluded.appeal_outcome, appeal_decided_at = excluded.appeal_decided_at,
			sources = excluded.sources, legal_hold = excluded.legal_hold, seq = excluded.seq,
			updated_at = excluded.updated_at, retain_until = excluded.retain_until
		WHERE excluded.seq = 0 OR compliance_records.seq <= excluded.seq`
	_, err := tx.ExecContext(ctx, q, p.RequestID, dsar.Reference(p.RequestID), string(f.RequestType), string(f.RequestorType),
		f.Rule, string(f.Channel), received, f.AcknowledgedAt, p.Deadline, p.ClosedAt, string(outcome), pq.Array(denial),
		f.AppealFiledAt, f.AppealOutcome, f.AppealDecidedAt, p.Seq, retain)
	if err != nil {
		return fmt.Errorf("store: compliance record of %s: %w", p.RequestID, Translate(err))
	}
	return nil
}

// recordAppeal brings the appeal's columns of its request's compliance
// record up to date from the appeals table, in tx (the appeal's own
// workflow writes the decision).
func recordAppeal(ctx context.Context, tx *sqlx.Tx, appealID string) error {
	const q = `UPDATE compliance_records c SET appeal_filed_at = a.filed_at,
			appeal_outcome = CASE WHEN a.status <> 'open' THEN a.status ELSE '' END, appeal_decided_at = a.decided_at, updated_at = now()
		FROM appeals a WHERE a.id = $1 AND c.request_id = a.request_id`
	if _, err := tx.ExecContext(ctx, q, appealID); err != nil {
		return fmt.Errorf("store: compliance record of appeal %s: %w", appealID, Translate(err))
	}
	return nil
}

// RecordSource is one data source's part in a compliance record.
type RecordSource struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Status      string           `json:"status"`
	Outcome     dsar.TaskOutcome `json:"outcome"`
	RecordCount *int64           `json:"record_count"`
}

// Record is a compliance record as stored. It holds no personal data.
type Record struct {
	RequestID       string             `db:"request_id" json:"request_id"`
	Reference       string             `db:"reference" json:"reference"`
	RequestType     dsar.RequestType   `db:"request_type" json:"request_type"`
	RequestorType   dsar.RequestorType `db:"requestor_type" json:"requestor_type"`
	Rule            string             `db:"rule" json:"rule"`
	Channel         dsar.Channel       `db:"channel" json:"channel"`
	ReceivedAt      time.Time          `db:"received_at" json:"received_at"`
	AcknowledgedAt  *time.Time         `db:"acknowledged_at" json:"acknowledged_at"`
	DueAt           time.Time          `db:"due_at" json:"due_at"`
	ExtendedTo      *time.Time         `db:"extended_to" json:"extended_to"`
	RespondedAt     *time.Time         `db:"responded_at" json:"responded_at"`
	Outcome         dsar.RecordOutcome `db:"outcome" json:"outcome"`
	DenialBasis     pq.StringArray     `db:"denial_basis" json:"denial_basis"`
	AppealFiledAt   *time.Time         `db:"appeal_filed_at" json:"appeal_filed_at"`
	AppealOutcome   string             `db:"appeal_outcome" json:"appeal_outcome"`
	AppealDecidedAt *time.Time         `db:"appeal_decided_at" json:"appeal_decided_at"`
	SourcesJSON     []byte             `db:"sources" json:"-"`
	Sources         []RecordSource     `db:"-" json:"sources"`
	LegalHold       bool               `db:"legal_hold" json:"legal_hold"`
	UpdatedAt       time.Time          `db:"updated_at" json:"updated_at"`
	RetainUntil     *time.Time         `db:"retain_until" json:"retain_until"`
}

// Deadline is the request's deadline as it last stood: extended (or
// moved), or the first one.
func (r Record) Deadline() time.Time {
	if r.ExtendedTo != nil {
		return *r.ExtendedTo
	}
	return r.DueAt
}

const recordColumns = `request_id, reference, request_type, requestor_type, rule, channel, received_at, acknowledged_at,
	due_at, extended_to, responded_at, outcome, denial_basis, appeal_filed_at, appeal_outcome, appeal_decided_at,
	sources, legal_hold, updated_at, retain_until`

// RecordFilter selects compliance records by when their request was
// received: From inclusive, To exclusive (zero: unbounded), and Rule ("":
// any).
type RecordFilter struct {
	From, To time.Time
	Rule     string
}

// Records lists the compliance records f selects, oldest received first.
func (db *DB) Records(ctx context.Context, f RecordFilter) ([]Record, error) {
	out := []Record{}
	err := db.RecordsEach(ctx, f, func(r Record) error { out = append(out, r); return nil })
	return out, err
}

// RecordsEach calls fn with each compliance record f selects, oldest
// received first, as they are read (an export streams them); an error of
// fn stops the reading and is returned.
func (db *DB) RecordsEach(ctx context.Context, f RecordFilter, fn func(Record) error) error {
	var to *time.Time
	if !f.To.IsZero() {
		to = &f.To
	}
	q := `SELECT ` + recordColumns + ` FROM compliance_records
		WHERE received_at >= $1 AND ($2::timestamptz IS NULL OR received_at < $2) AND ($3 = '' OR rule = $3)
		ORDER BY received_at, request_id`
	rows, err := db.QueryxContext(ctx, q, f.From, to, f.Rule)
	if err != nil {
		return fmt.Errorf("store: compliance records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("store: compliance records: %w", err)
		}
		r.Sources = []RecordSource{}
		if err := json.Unmarshal(r.SourcesJSON, &r.Sources); err != nil {
			return fmt.Errorf("store: compliance record %s: sources: %w", r.RequestID, err)
		}
		if r.DenialBasis == nil {
			r.DenialBasis = pq.StringArray{}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: compliance records: %w", err)
	}
	return nil
}

// RecordOf is the compliance record of one request. ENOTFOUND when there
// is none.
func (db *DB) RecordOf(ctx context.Context, requestID string) (Record, error) {
	var r Record
	if err := db.GetContext(ctx, &r, `SELECT `+recordColumns+` FROM compliance_records WHERE request_id = $1`, requestID); err != nil {
		return Record{}, fmt.Errorf("store: compliance record of %s: %w", requestID, Translate(err))
	}
	r.Sources = []RecordSource{}
	if err := json.Unmarshal(r.SourcesJSON, &r.Sources); err != nil {
		return Record{}, fmt.Errorf("store: compliance record %s: sources: %w", requestID, err)
	}
	return r, nil
}

// RecordRules lists the rule ids that have compliance records, for the
// reports' filter.
func (db *DB) RecordRules(ctx context.Context) ([]string, error) {
	rules := []string{}
	if err := db.SelectContext(ctx, &rules, `SELECT DISTINCT rule FROM compliance_records ORDER BY rule`); err != nil {
		return nil, fmt.Errorf("store: record rules: %w", err)
	}
	return rules, nil
}

// PutRecord stores r as it is (seq 0): for seeding reports in tests and
// tools. The workflow writes records through Project.
func (db *DB) PutRecord(ctx context.Context, r Record) error {
	src, err := json.Marshal(r.Sources)
	if err != nil {
		return err
	}
	if r.Sources == nil {
		src = []byte("[]")
	}
	denial := r.DenialBasis
	if denial == nil {
		denial = pq.StringArray{}
	}
	const q = `INSERT INTO compliance_records (` + recordColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, now(), $19)`
	_, err = db.ExecContext(ctx, q, r.RequestID, r.Reference, r.RequestType, r.RequestorType, r.Rule, r.Channel,
		r.ReceivedAt, r.AcknowledgedAt, r.DueAt, r.ExtendedTo, r.RespondedAt, r.Outcome, denial, r.AppealFiledAt,
		r.AppealOutcome, r.AppealDecidedAt, src, r.LegalHold, r.RetainUntil)
	if err != nil {
		return fmt.Errorf("store: put compliance record %s: %w", r.RequestID, Translate(err))
	}
	return nil
}
