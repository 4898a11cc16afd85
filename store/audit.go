package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
)

// Actor kinds of audit events.
const (
	ActorStaff     = "staff"
	ActorRequester = "requester"
	ActorSystem    = "system"
)

// AuditEvent is one row of the append-only, hash-chained audit trail.
type AuditEvent struct {
	Seq       int64           `db:"seq" json:"seq"`
	RequestID *string         `db:"request_id" json:"request_id,omitempty"`
	ActorKind string          `db:"actor_kind" json:"actor_kind"`
	ActorID   string          `db:"actor_id" json:"actor_id"`
	Action    string          `db:"action" json:"action"`
	Detail    json.RawMessage `db:"detail" json:"detail"`
	CreatedAt time.Time       `db:"created_at" json:"created_at"`
	Key       *string         `db:"key" json:"-"` // the idempotency key, if the event has one
	PrevHash  []byte          `db:"prev_hash" json:"-"`
	Hash      []byte          `db:"hash" json:"-"`
}

// Audit is what a caller says about one action; AppendAudit fills in the
// sequence number, time and hashes. Detail must hold no PII.
type Audit struct {
	RequestID string
	ActorKind string
	ActorID   string
	Action    string
	Detail    map[string]any
	// Key makes the append idempotent: appending an event whose key is
	// already in the trail stores nothing and returns the stored event.
	// Workflows derive it deterministically; "" appends unconditionally.
	Key string
}

// auditLockID is the advisory lock that serialises appends to the chain.
const auditLockID = 0x64736172_61756474 // "dsaraudt"

// AppendAudit appends an event to the chain in its own transaction.
func (db *DB) AppendAudit(ctx context.Context, a Audit) (AuditEvent, error) {
	var ev AuditEvent
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		ev, err = AppendAuditTx(ctx, tx, a)
		return err
	})
	return ev, err
}

// auditColumns are the columns of an AuditEvent, in its field order.
const auditColumns = `seq, request_id, actor_kind, actor_id, action, detail, created_at, key, prev_hash, hash`

// AppendAuditTx appends an event inside the caller's transaction, so an
// action and its audit row commit together or not at all. An event whose
// Key is already in the trail is not appended again: the stored one is
// returned.
func AppendAuditTx(ctx context.Context, tx *sqlx.Tx, a Audit) (AuditEvent, error) {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLockID)); err != nil {
		return AuditEvent{}, fmt.Errorf("store: audit lock: %w", err)
	}
	if a.Key != "" {
		var stored []AuditEvent
		if err := tx.SelectContext(ctx, &stored, `SELECT `+auditColumns+` FROM audit_events WHERE key = $1`, a.Key); err != nil {
			return AuditEvent{}, fmt.Errorf("store: audit key %s: %w", a.Key, err)
		}
		if len(stored) > 0 {
			return stored[0], nil
		}
	}
	var last struct {
		Seq  int64  `db:"seq"`
		Hash []byte `db:"hash"`
	}
	const qLast = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`
	if err := tx.GetContext(ctx, &last, qLast); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AuditEvent{}, fmt.Errorf("store: audit head: %w", err)
	}
	detail, err := canonicalJSON(a.Detail)
	if err != nil {
		return AuditEvent{}, fmt.Errorf("store: audit detail: %w", err)
	}
	ev := AuditEvent{
		Seq:       last.Seq + 1,
		ActorKind: a.ActorKind,
		ActorID:   a.ActorID,
		Action:    a.Action,
		Detail:    detail,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		PrevHash:  last.Hash,
	}
	if ev.PrevHash == nil {
		ev.PrevHash = make([]byte, sha256.Size)
	}
	if a.RequestID != "" {
		ev.RequestID = &a.RequestID
	}
	if a.Key != "" {
		ev.Key = &a.Key
	}
	ev.Hash = ev.computeHash()
	const q = `INSERT INTO audit_events (` + auditColumns + `)
		VALUES (:seq, :request_id, :actor_kind, :actor_id, :action, :detail, :created_at, :key, :prev_hash, :hash)`
	if _, err := tx.NamedExecContext(ctx, q, ev); err != nil {
		return AuditEvent{}, fmt.Errorf("store: append audit %s: %w", a.Action, Translate(err))
	}
	return ev, nil
}

// computeHash is SHA-256 over the previous hash and every field of the
// event, each length-prefixed so no two events share an encoding. The key
// is hashed only when there is one, so events from before keys still
// verify.
func (ev AuditEvent) computeHash() []byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write([]byte(strconv.Itoa(len(b))))
		h.Write([]byte{':'})
		h.Write(b)
	}
	field(ev.PrevHash)
	field([]byte(strconv.FormatInt(ev.Seq, 10)))
	rid := ""
	if ev.RequestID != nil {
		rid = *ev.RequestID
	}
	field([]byte(rid))
	field([]byte(ev.ActorKind))
	field([]byte(ev.ActorID))
	field([]byte(ev.Action))
	d, _ := canonicalJSON(ev.Detail)
	field(d)
	field([]byte(ev.CreatedAt.UTC().Format(time.RFC3339Nano)))
	if ev.Key != nil {
		field([]byte(*ev.Key))
	}
	return h.Sum(nil)
}

// canonicalJSON encodes v (a map, or JSON bytes) with sorted keys and no
// spaces, the same way however Postgres's jsonb hands it back.
func canonicalJSON(v any) ([]byte, error) {
	var generic any
	switch t := v.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if len(t) == 0 {
			return []byte("{}"), nil
		}
		if err := json.Unmarshal(t, &generic); err != nil {
			return nil, err
		}
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &generic); err != nil {
			return nil, err
		}
	}
	if m, ok := generic.(map[string]any); ok && m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(generic)
}

// RequestAudit returns a request's audit events in order.
func (db *DB) RequestAudit(ctx context.Context, requestID string) ([]AuditEvent, error) {
	const q = `SELECT ` + auditColumns + ` FROM audit_events WHERE request_id = $1 ORDER BY seq`
	evs := []AuditEvent{}
	if err := db.SelectContext(ctx, &evs, q, requestID); err != nil {
		return nil, fmt.Errorf("store: audit of %s: %w", requestID, Translate(err))
	}
	return evs, nil
}

// AuditBreak describes the first row where the chain does not hold.
type AuditBreak struct {
	Seq    int64
	Reason string
}

// VerifyAudit walks the whole chain in order and returns the number of rows
// checked and the first break, or nil when the chain holds.
func (db *DB) VerifyAudit(ctx context.Context) (int64, *AuditBreak, error) {
	const q = `SELECT ` + auditColumns + ` FROM audit_events ORDER BY seq`
	rows, err := db.QueryxContext(ctx, q)
	if err != nil {
		return 0, nil, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	var n, want int64 = 0, 1
	for rows.Next() {
		var ev AuditEvent
		if err := rows.StructScan(&ev); err != nil {
			return n, nil, fmt.Errorf("store: verify audit: %w", err)
		}
		n++
		switch {
		case ev.Seq != want:
			return n, &AuditBreak{Seq: ev.Seq, Reason: fmt.Sprintf("expected row %d: a row is missing", want)}, nil
		case !bytes.Equal(ev.PrevHash, prev):
			return n, &AuditBreak{Seq: ev.Seq, Reason: "previous hash does not match the row before"}, nil
		case !bytes.Equal(ev.computeHash(), ev.Hash):
			return n, &AuditBreak{Seq: ev.Seq, Reason: "content does not match its hash (the row was changed)"}, nil
		}
		prev = ev.Hash
		want++
	}
	return n, nil, rows.Err()
}
