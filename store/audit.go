package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar/crypto"
)

// Actor kinds of audit events.
const (
	ActorStaff     = "staff"
	ActorRequester = "requester"
	ActorSystem    = "system"
)

// AuditEvent is one row of the append-only, keyed hash chain of the audit
// trail.
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
	// Hash is the HMAC-SHA256 of the row (see mac) under the audit key of
	// the master key MACKeyID; rows from before the chain was keyed have no
	// MACKeyID and a plain SHA-256 (see legacyHash).
	Hash     []byte  `db:"hash" json:"-"`
	MACKeyID *string `db:"mac_key_id" json:"-"`
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

// auditMACLabel derives the chain's MAC key from a master key; auditAnchorLabel
// the key that signs anchors. Neither key is stored in the database.
const (
	auditMACLabel    = "dsar audit chain v1"
	auditAnchorLabel = "dsar audit anchor v1"
)

// KeyAudit gives the handle the keyring that keys the audit chain: new
// rows are MACed under a key derived from the master key the blind index
// uses (crypto.index_key_id, which stays put across rotations), and each
// row names that key's id, so rows stay verifiable as long as the keyring
// holds the key. Call it once, before the handle is used; without it,
// appending to the trail and verifying it fail.
func (db *DB) KeyAudit(keys *crypto.Keyring) { db.auditKeys = keys }

// errAuditUnkeyed is what appending or verifying says without KeyAudit.
var errAuditUnkeyed = errors.New("store: the audit chain has no key (DB.KeyAudit was not called)")

// AppendAudit appends an event to the chain in its own transaction.
func (db *DB) AppendAudit(ctx context.Context, a Audit) (AuditEvent, error) {
	var ev AuditEvent
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		ev, err = db.AppendAuditTx(ctx, tx, a)
		return err
	})
	return ev, err
}

// auditColumns are the columns of an AuditEvent, in its field order.
const auditColumns = `seq, request_id, actor_kind, actor_id, action, detail, created_at, key, prev_hash, hash, mac_key_id`

// AppendAuditTx appends an event inside the caller's transaction, so an
// action and its audit row commit together or not at all. An event whose
// Key is already in the trail is not appended again: the stored one is
// returned.
func (db *DB) AppendAuditTx(ctx context.Context, tx *sqlx.Tx, a Audit) (AuditEvent, error) {
	if db.auditKeys == nil {
		return AuditEvent{}, errAuditUnkeyed
	}
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
	keyID := db.auditKeys.IndexKeyID()
	ev := AuditEvent{
		Seq:       last.Seq + 1,
		ActorKind: a.ActorKind,
		ActorID:   a.ActorID,
		Action:    a.Action,
		Detail:    detail,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		PrevHash:  last.Hash,
		MACKeyID:  &keyID,
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
	key, _ := db.auditKeys.DeriveFrom(keyID, auditMACLabel)
	ev.Hash = ev.mac(key)
	const q = `INSERT INTO audit_events (` + auditColumns + `)
		VALUES (:seq, :request_id, :actor_kind, :actor_id, :action, :detail, :created_at, :key, :prev_hash, :hash, :mac_key_id)`
	if _, err := tx.NamedExecContext(ctx, q, ev); err != nil {
		return AuditEvent{}, fmt.Errorf("store: append audit %s: %w", a.Action, Translate(err))
	}
	return ev, nil
}

// encode writes the previous hash and every field of the event to w, each
// length-prefixed so no two events share an encoding. The idempotency key
// is written only when there is one, so events from before keys still
// verify.
func (ev AuditEvent) encode(w io.Writer) {
	field := func(b []byte) {
		_, _ = w.Write([]byte(strconv.Itoa(len(b))))
		_, _ = w.Write([]byte{':'})
		_, _ = w.Write(b)
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
}

// legacyHash is how rows were hashed before the chain was keyed: SHA-256
// over the encoding. Anyone can compute it, so it proves nothing against
// someone who can write to the database; such rows are protected only by
// the first keyed row after them.
func (ev AuditEvent) legacyHash() []byte {
	h := sha256.New()
	ev.encode(h)
	return h.Sum(nil)
}

// mac is the keyed hash of a row: HMAC-SHA256 under key (the audit key of
// the master key MACKeyID) over a version tag, the key's id and the
// encoding.
func (ev AuditEvent) mac(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("dsar-audit-v2\x00"))
	id := ""
	if ev.MACKeyID != nil {
		id = *ev.MACKeyID
	}
	m.Write([]byte(strconv.Itoa(len(id)) + ":" + id))
	ev.encode(m)
	return m.Sum(nil)
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

// AuditCheck is what CheckAudit found.
type AuditCheck struct {
	Rows    int64 // rows read
	Unkeyed int64 // rows from before the chain was keyed (plain SHA-256), all at its start
	// HeadSeq and HeadHash are the last row read (0 and nil for an empty
	// trail).
	HeadSeq  int64
	HeadHash []byte
	// Anchors is how many anchors the chain reached; Latest the one of the
	// highest row (the zero value when none was given).
	Anchors int
	Latest  AuditAnchor
	Break   *AuditBreak // the first break, nil when the chain holds
}

// VerifyAudit walks the whole chain in order and returns the number of rows
// checked and the first break, or nil when the chain holds. It is
// CheckAudit without anchors.
func (db *DB) VerifyAudit(ctx context.Context) (int64, *AuditBreak, error) {
	c, err := db.CheckAudit(ctx, nil)
	return c.Rows, c.Break, err
}

// CheckAudit walks the whole chain in order and checks each row's link to
// the one before, its MAC (or, for the rows from before the chain was
// keyed, its hash) and that the chain still reaches each of anchors: the
// anchored row is there with the hash it had. So it finds a row changed,
// deleted or added, and with an anchor the tail cut off up to the anchored
// row. An anchor whose own MAC fails is a break too. The error is for
// failing to read, not for a broken chain.
func (db *DB) CheckAudit(ctx context.Context, anchors []AuditAnchor) (AuditCheck, error) {
	var c AuditCheck
	if db.auditKeys == nil {
		return c, errAuditUnkeyed
	}
	pending := map[int64][]AuditAnchor{}
	for _, a := range anchors {
		if err := db.checkAnchor(a); err != nil {
			c.Break = &AuditBreak{Seq: a.Seq, Reason: err.Error()}
			return c, nil
		}
		pending[a.Seq] = append(pending[a.Seq], a)
	}
	macKeys := map[string][]byte{}
	const q = `SELECT ` + auditColumns + ` FROM audit_events ORDER BY seq`
	rows, err := db.QueryxContext(ctx, q)
	if err != nil {
		return c, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	keyed := false
	brk := func(seq int64, format string, args ...any) (AuditCheck, error) {
		c.Break = &AuditBreak{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return c, nil
	}
	for want := int64(1); rows.Next(); want++ {
		var ev AuditEvent
		if err := rows.StructScan(&ev); err != nil {
			return c, fmt.Errorf("store: verify audit: %w", err)
		}
		c.Rows++
		if ev.Seq != want {
			return brk(ev.Seq, "expected row %d: a row is missing", want)
		}
		if !bytes.Equal(ev.PrevHash, prev) {
			return brk(ev.Seq, "previous hash does not match the row before")
		}
		if ev.MACKeyID == nil {
			if keyed {
				return brk(ev.Seq, "an unkeyed row after keyed ones: only rows from before the chain was keyed may be unkeyed (the row was changed)")
			}
			if !bytes.Equal(ev.legacyHash(), ev.Hash) {
				return brk(ev.Seq, "content does not match its hash (the row was changed)")
			}
			c.Unkeyed++
		} else {
			keyed = true
			key, ok := macKeys[*ev.MACKeyID]
			if !ok {
				if key, ok = db.auditKeys.DeriveFrom(*ev.MACKeyID, auditMACLabel); !ok {
					return brk(ev.Seq, "MACed under master key %q, which the keyring does not hold (add it to crypto.previous_keys), or the row was changed", *ev.MACKeyID)
				}
				macKeys[*ev.MACKeyID] = key
			}
			if !hmac.Equal(ev.mac(key), ev.Hash) {
				return brk(ev.Seq, "content does not match its MAC (the row was changed)")
			}
		}
		for _, a := range pending[ev.Seq] {
			if !hmac.Equal(a.Hash, ev.Hash) {
				return brk(ev.Seq, "the row differs from the one anchored at %s (the trail was rewritten)", a.At.Format(time.RFC3339))
			}
			c.Anchors++
			if a.Seq > c.Latest.Seq || a.Seq == c.Latest.Seq && a.At.After(c.Latest.At) {
				c.Latest = a
			}
		}
		delete(pending, ev.Seq)
		prev = ev.Hash
		c.HeadSeq, c.HeadHash = ev.Seq, ev.Hash
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("store: verify audit: %w", err)
	}
	var missing *AuditAnchor
	for _, as := range pending {
		for _, a := range as {
			if missing == nil || a.Seq > missing.Seq {
				missing = &a
			}
		}
	}
	if missing != nil {
		return brk(missing.Seq, "the trail ends at row %d, but row %d was anchored at %s: rows were removed from its end",
			c.HeadSeq, missing.Seq, missing.At.Format(time.RFC3339))
	}
	return c, nil
}

// AuditAnchor pins the chain's head outside the database: the head's
// sequence number and hash when it was taken, signed with a key derived
// from the master key KeyID (HMAC-SHA256), so nobody without the master key
// can make one from what the database holds. Its text form is one line;
// operators keep the lines somewhere the database's users cannot rewrite.
type AuditAnchor struct {
	Seq   int64
	Hash  []byte
	At    time.Time
	KeyID string
	MAC   []byte
}

// auditAnchorPrefix starts every anchor line (and names its format).
const auditAnchorPrefix = "dsar-audit-anchor v1"

// body is the signed part of the anchor's line.
func (a AuditAnchor) body() string {
	return fmt.Sprintf("%s seq=%d hash=%s at=%s key=%s", auditAnchorPrefix, a.Seq, hex.EncodeToString(a.Hash),
		a.At.UTC().Format(time.RFC3339), a.KeyID)
}

// String is the anchor as one line (no newline), as ParseAuditAnchors reads it.
func (a AuditAnchor) String() string { return a.body() + " mac=" + hex.EncodeToString(a.MAC) }

// anchorMAC signs the anchor's body; ok is false for a key the keyring does
// not hold.
func (db *DB) anchorMAC(a AuditAnchor) ([]byte, bool) {
	key, ok := db.auditKeys.DeriveFrom(a.KeyID, auditAnchorLabel)
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(a.body()))
	return m.Sum(nil), true
}

// checkAnchor says why an anchor is not genuine, or nil.
func (db *DB) checkAnchor(a AuditAnchor) error {
	want, ok := db.anchorMAC(a)
	switch {
	case !ok:
		return fmt.Errorf("the anchor of row %d is signed with master key %q, which the keyring does not hold", a.Seq, a.KeyID)
	case !hmac.Equal(want, a.MAC):
		return fmt.Errorf("the anchor of row %d taken at %s does not carry a valid MAC (it was forged or changed)", a.Seq, a.At.Format(time.RFC3339))
	}
	return nil
}

// AnchorAudit checks the whole chain against anchors (those taken before,
// if the caller has them) and returns a new anchor of its head. Failed
// sign-ins counted in windows that have closed are written to the trail
// first, so the anchor covers them. A broken chain is not anchored: the
// check comes back with its Break and no anchor. An empty trail has
// nothing to anchor: the anchor has Seq 0.
func (db *DB) AnchorAudit(ctx context.Context, anchors []AuditAnchor) (AuditAnchor, AuditCheck, error) {
	if db.auditKeys == nil {
		return AuditAnchor{}, AuditCheck{}, errAuditUnkeyed
	}
	if err := db.Tx(ctx, func(tx *sqlx.Tx) error { return db.flushLoginFailures(ctx, tx) }); err != nil {
		return AuditAnchor{}, AuditCheck{}, err
	}
	c, err := db.CheckAudit(ctx, anchors)
	if err != nil || c.Break != nil || c.HeadSeq == 0 {
		return AuditAnchor{}, c, err
	}
	a := AuditAnchor{Seq: c.HeadSeq, Hash: c.HeadHash, At: time.Now().UTC().Truncate(time.Second), KeyID: db.auditKeys.IndexKeyID()}
	a.MAC, _ = db.anchorMAC(a)
	return a, c, nil
}

// ParseAuditAnchors reads anchor lines (String's form) from r. Blank lines
// and lines starting with # are skipped; any other line that is not an
// anchor is an error naming its line number. It does not check the MACs:
// CheckAudit does.
func ParseAuditAnchors(r io.Reader) ([]AuditAnchor, error) {
	var out []AuditAnchor
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a, err := parseAuditAnchor(line)
		if err != nil {
			return nil, fmt.Errorf("store: anchor line %d: %w", n, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("store: read anchors: %w", err)
	}
	return out, nil
}

func parseAuditAnchor(line string) (AuditAnchor, error) {
	var a AuditAnchor
	rest, ok := strings.CutPrefix(line, auditAnchorPrefix+" ")
	if !ok {
		return a, fmt.Errorf("does not start with %q", auditAnchorPrefix)
	}
	fields := map[string]string{}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return a, fmt.Errorf("%q is not key=value", f)
		}
		fields[k] = v
	}
	var err error
	bad := func(k string) (AuditAnchor, error) { return AuditAnchor{}, fmt.Errorf("bad or missing %s", k) }
	if a.Seq, err = strconv.ParseInt(fields["seq"], 10, 64); err != nil || a.Seq < 1 {
		return bad("seq")
	}
	if a.Hash, err = hex.DecodeString(fields["hash"]); err != nil || len(a.Hash) != sha256.Size {
		return bad("hash")
	}
	if a.At, err = time.Parse(time.RFC3339, fields["at"]); err != nil {
		return bad("at")
	}
	if a.KeyID = fields["key"]; a.KeyID == "" {
		return bad("key")
	}
	if a.MAC, err = hex.DecodeString(fields["mac"]); err != nil || len(a.MAC) != sha256.Size {
		return bad("mac")
	}
	return a, nil
}
