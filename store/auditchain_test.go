package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// appendN appends n events and fails the test on an error.
func appendN(t *testing.T, db *store.DB, n int) {
	t.Helper()
	for i := range n {
		if _, err := db.AppendAudit(context.Background(), store.Audit{ActorKind: store.ActorSystem, Action: "x",
			Detail: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

// keyring is a keyring of test keys: current is the current key's id,
// index the blind index's (and so the audit chain's), others previous.
func keyring(t *testing.T, current, index string, others ...string) *crypto.Keyring {
	t.Helper()
	key := func(id string) string {
		return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(id[len(id)-1:]), crypto.KeySize))
	}
	var prev []string
	for _, id := range others {
		prev = append(prev, id+":"+key(id))
	}
	k, err := crypto.NewKeyring(current, key(current), prev, index)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantBreak(t *testing.T, c store.AuditCheck, err error, seq int64, reason string) {
	t.Helper()
	if err != nil || c.Break == nil || c.Break.Seq != seq || !strings.Contains(c.Break.Reason, reason) {
		t.Fatalf("want a break at %d (%q), got %+v %v", seq, reason, c.Break, err)
	}
}

func TestAuditTrailRefusesUpdateDeleteAndTruncate(t *testing.T) {
	db := testenv.DB(t)
	appendN(t, db, 3)
	for _, q := range []string{
		`UPDATE audit_events SET action = 'y' WHERE seq = 2`,
		`DELETE FROM audit_events WHERE seq = 3`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
	} {
		_, err := db.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: want it refused, got %v", q, err)
		}
	}
	if n, brk, err := db.VerifyAudit(context.Background()); n != 3 || brk != nil || err != nil {
		t.Fatalf("after the refusals: n=%d break=%+v err=%v", n, brk, err)
	}
	// Appending still works.
	appendN(t, db, 1)
}

func TestAuditChainIsKeyed(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	appendN(t, db, 4)
	var keyID string
	if err := db.Get(&keyID, `SELECT DISTINCT mac_key_id FROM audit_events`); err != nil || keyID != "test-audit" {
		t.Fatalf("rows are MACed under %q (%v), want the index key test-audit", keyID, err)
	}
	c, err := db.CheckAudit(ctx, nil)
	if err != nil || c.Break != nil || c.Rows != 4 || c.Unkeyed != 0 {
		t.Fatalf("intact chain: %+v %v", c, err)
	}

	// Someone who can write to the database rewrites row 3 and, knowing the
	// format but not the key, computes its hash as a plain SHA-256 of the
	// new content; the next row's link is fixed to match.
	var ev store.AuditEvent
	if err := db.Get(&ev, `SELECT seq, request_id, actor_kind, actor_id, action, detail, created_at, key, prev_hash, hash, mac_key_id
		FROM audit_events WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	ev.Action, ev.MACKeyID = "forged", nil
	forged := store.LegacyAuditHash(ev)
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET action = 'forged', mac_key_id = NULL, hash = $1 WHERE seq = 3`, forged)
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET prev_hash = $1 WHERE seq = 4`, forged)
	c, err = db.CheckAudit(ctx, nil)
	wantBreak(t, c, err, 3, "unkeyed row after keyed ones")

	// Keeping it "keyed" does not help without the key.
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET mac_key_id = 'test-audit' WHERE seq = 3`)
	c, err = db.CheckAudit(ctx, nil)
	wantBreak(t, c, err, 3, "does not match its MAC")

	// Nor does naming a key the keyring does not hold.
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET mac_key_id = 'nobody' WHERE seq = 3`)
	c, err = db.CheckAudit(ctx, nil)
	wantBreak(t, c, err, 3, `master key "nobody"`)
}

func TestAuditRowsFromBeforeTheKeyStillVerify(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	// Three rows as the chain wrote them before it was keyed.
	prev := make([]byte, sha256.Size)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	for seq := int64(1); seq <= 3; seq++ {
		ev := store.AuditEvent{Seq: seq, ActorKind: store.ActorSystem, Action: "old", Detail: []byte(`{"n": 1}`), CreatedAt: at, PrevHash: prev}
		ev.Hash = store.LegacyAuditHash(ev)
		if _, err := db.Exec(`INSERT INTO audit_events (seq, actor_kind, actor_id, action, detail, created_at, prev_hash, hash)
			VALUES ($1, $2, '', $3, $4, $5, $6, $7)`, ev.Seq, ev.ActorKind, ev.Action, string(ev.Detail), ev.CreatedAt, ev.PrevHash, ev.Hash); err != nil {
			t.Fatal(err)
		}
		prev = ev.Hash
	}
	appendN(t, db, 2)
	c, err := db.CheckAudit(ctx, nil)
	if err != nil || c.Break != nil || c.Rows != 5 || c.Unkeyed != 3 {
		t.Fatalf("a chain begun before the key: %+v %v", c, err)
	}
	// An old row rewritten with a consistent plain hash (anyone can compute
	// one) is caught by the first keyed row, whose MAC covers the link.
	var ev store.AuditEvent
	if err := db.Get(&ev, `SELECT seq, request_id, actor_kind, actor_id, action, detail, created_at, key, prev_hash, hash, mac_key_id
		FROM audit_events WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	ev.Action = "rewritten"
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET action = 'rewritten', hash = $1 WHERE seq = 3`, store.LegacyAuditHash(ev))
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET prev_hash = $1 WHERE seq = 4`, store.LegacyAuditHash(ev))
	c, err = db.CheckAudit(ctx, nil)
	wantBreak(t, c, err, 4, "does not match its MAC")
}

func TestAuditChainSurvivesAMasterKeyRotation(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	db.KeyAudit(keyring(t, "k1", ""))
	appendN(t, db, 2)
	// The key rotates as the README says: k1 retires, pinned as the index key.
	db.KeyAudit(keyring(t, "k2", "k1", "k1"))
	appendN(t, db, 2)
	var ids []string
	if err := db.Select(&ids, `SELECT DISTINCT mac_key_id FROM audit_events`); err != nil || len(ids) != 1 || ids[0] != "k1" {
		t.Fatalf("after the rotation rows are MACed under %v (%v), want k1 still", ids, err)
	}
	// Even with the index moved to k2, the old rows verify (they name k1)
	// and new ones are MACed under k2.
	db.KeyAudit(keyring(t, "k2", "k2", "k1"))
	appendN(t, db, 1)
	if c, err := db.CheckAudit(ctx, nil); err != nil || c.Break != nil || c.Rows != 5 {
		t.Fatalf("rows under k1 and k2: %+v %v", c, err)
	}
	// Without k1 they cannot be checked, and verify says which key it lacks.
	db.KeyAudit(keyring(t, "k2", ""))
	c, err := db.CheckAudit(ctx, nil)
	wantBreak(t, c, err, 1, `master key "k1"`)
}

func TestAuditAnchorsFindATruncatedTail(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	if a, c, err := db.AnchorAudit(ctx, nil); err != nil || a.Seq != 0 || c.Break != nil {
		t.Fatalf("an empty trail: anchor %+v, %+v, %v; want nothing anchored", a, c, err)
	}
	appendN(t, db, 5)
	first, c, err := db.AnchorAudit(ctx, nil)
	if err != nil || c.Break != nil || first.Seq != 5 {
		t.Fatalf("anchor: %+v %+v %v", first, c, err)
	}
	appendN(t, db, 2)
	second, c, err := db.AnchorAudit(ctx, []store.AuditAnchor{first})
	if err != nil || c.Break != nil || second.Seq != 7 || c.Anchors != 1 {
		t.Fatalf("second anchor: %+v %+v %v", second, c, err)
	}
	// The anchors round-trip through their text form.
	text := "# anchors\n" + first.String() + "\n\n" + second.String() + "\n"
	anchors, err := store.ParseAuditAnchors(strings.NewReader(text))
	if err != nil || len(anchors) != 2 {
		t.Fatalf("parse: %v %v", anchors, err)
	}
	c, err = db.CheckAudit(ctx, anchors)
	if err != nil || c.Break != nil || c.Anchors != 2 || c.Latest.Seq != 7 {
		t.Fatalf("intact with anchors: %+v %v", c, err)
	}

	// The tail is cut off: without anchors the shorter chain holds; the
	// anchors find it.
	testenv.TamperAudit(t, db.DB, `DELETE FROM audit_events WHERE seq > 3`)
	if n, brk, err := db.VerifyAudit(ctx); n != 3 || brk != nil || err != nil {
		t.Fatalf("truncated, no anchors: n=%d %+v %v (a cut tail is invisible without an anchor)", n, brk, err)
	}
	c, err = db.CheckAudit(ctx, anchors)
	wantBreak(t, c, err, 7, "rows were removed from its end")
	// The anchor command refuses to anchor the cut chain.
	if a, c, err := db.AnchorAudit(ctx, anchors); err != nil || c.Break == nil || a.Seq != 0 {
		t.Fatalf("anchoring a cut chain: %+v %+v %v", a, c, err)
	}
	// All of it, as TRUNCATE would.
	testenv.TamperAudit(t, db.DB, `TRUNCATE audit_events`)
	c, err = db.CheckAudit(ctx, anchors)
	wantBreak(t, c, err, 7, "the trail ends at row 0")
}

func TestAuditAnchorsFindARewrittenChain(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	appendN(t, db, 3)
	anchor, _, err := db.AnchorAudit(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Someone rewrites the whole chain as if from before the key, with
	// consistent plain hashes: without an anchor nothing shows.
	var evs []store.AuditEvent
	if err := db.Select(&evs, `SELECT seq, request_id, actor_kind, actor_id, action, detail, created_at, key, prev_hash, hash, mac_key_id
		FROM audit_events ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	prev := make([]byte, sha256.Size)
	for _, ev := range evs {
		ev.PrevHash, ev.MACKeyID, ev.Detail = prev, nil, []byte(`{"i": 99}`)
		ev.Hash = store.LegacyAuditHash(ev)
		testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET prev_hash = $1, hash = $2, mac_key_id = NULL, detail = '{"i": 99}' WHERE seq = $3`,
			ev.PrevHash, ev.Hash, ev.Seq)
		prev = ev.Hash
	}
	if c, err := db.CheckAudit(ctx, nil); err != nil || c.Break != nil || c.Unkeyed != 3 {
		t.Fatalf("the rewritten chain without anchors: %+v %v", c, err)
	}
	c, err := db.CheckAudit(ctx, []store.AuditAnchor{anchor})
	wantBreak(t, c, err, 3, "differs from the one anchored")

	// An anchor made up from what the database holds does not pass: its MAC
	// needs the master key.
	made := store.AuditAnchor{Seq: 3, Hash: prev, At: time.Now().UTC().Truncate(time.Second), KeyID: "test-audit", MAC: anchor.MAC}
	c, err = db.CheckAudit(ctx, []store.AuditAnchor{made})
	wantBreak(t, c, err, 3, "does not carry a valid MAC")
	// Nor does an edited line.
	edited := strings.Replace(anchor.String(), "seq=3", "seq=2", 1)
	as, err := store.ParseAuditAnchors(strings.NewReader(edited))
	if err != nil {
		t.Fatal(err)
	}
	c, err = db.CheckAudit(ctx, as)
	wantBreak(t, c, err, 2, "does not carry a valid MAC")
	// A line that is not an anchor is an error, naming the line.
	if _, err := store.ParseAuditAnchors(strings.NewReader(anchor.String() + "\nnot an anchor\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a bad line: %v", err)
	}
}
