package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

func TestMigrationsRunOnceWhenProcessesStartTogether(t *testing.T) {
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, url, 2)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	db, _ := store.Open(ctx, url, 2)
	defer db.Close()
	var applied int
	if err := db.Get(&applied, `SELECT count(*) FROM goose_db_version WHERE version_id = 1 AND is_applied`); err != nil || applied != 1 {
		t.Fatalf("migration 1 applied %d times (%v)", applied, err)
	}
}

func TestAuditChainFindsTampering(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	rid := uuid.NewString()
	for i, action := range []string{"request.submitted", "email.verified", "identity.verified", "request.completed"} {
		if _, err := db.AppendAudit(ctx, store.Audit{RequestID: rid, ActorKind: store.ActorSystem, Action: action,
			Detail: map[string]any{"step": i, "note": "ünïcode ok"}}); err != nil {
			t.Fatal(err)
		}
	}
	n, brk, err := db.VerifyAudit(ctx)
	if err != nil || brk != nil || n != 4 {
		t.Fatalf("intact chain: n=%d break=%+v err=%v", n, brk, err)
	}
	evs, err := db.RequestAudit(ctx, rid)
	if err != nil || len(evs) != 4 || evs[1].Action != "email.verified" {
		t.Fatalf("request audit: %+v %v", evs, err)
	}
	// Someone edits row 3 in the database.
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET action = 'identity.refused' WHERE seq = 3`)
	_, brk, err = db.VerifyAudit(ctx)
	if err != nil || brk == nil || brk.Seq != 3 {
		t.Fatalf("edited row: want a break at 3, got %+v %v", brk, err)
	}
	// Someone deletes row 2 instead.
	db2 := testenv.DB(t)
	for _, a := range []string{"a", "b", "c"} {
		if _, err := db2.AppendAudit(ctx, store.Audit{ActorKind: store.ActorSystem, Action: a}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.TamperAudit(t, db2.DB, `DELETE FROM audit_events WHERE seq = 2`)
	if _, brk, _ := db2.VerifyAudit(ctx); brk == nil || brk.Seq != 3 {
		t.Fatalf("deleted row: want a break at 3, got %+v", brk)
	}
}

func TestAuditAppendsConcurrently(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.AppendAudit(ctx, store.Audit{ActorKind: store.ActorSystem, Action: "x", Detail: map[string]any{"i": i}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, brk, err := db.VerifyAudit(ctx); n != 20 || brk != nil || err != nil {
		t.Fatalf("n=%d break=%+v err=%v", n, brk, err)
	}
}

func insertRequest(t *testing.T, db *store.DB, keys *crypto.Keyring, pii store.PII, doc []byte) string {
	t.Helper()
	id := uuid.NewString()
	s, err := store.NewSealedRequest(keys, id, pii, doc)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	_, err = db.Exec(`INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at,
		deadline, original_deadline, deadline_rule, deadline_rule_name, email_hash, pii)
		VALUES ($1, true, 'pending_email_verification', 'info', 'customer', 'DE', $2, $3, $3, 'gdpr', 'GDPR', $4, $5)`,
		id, now, now.AddDate(0, 1, 0), s.EmailHash, s.PII)
	if err == nil {
		_, err = db.Exec(`INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`, id, s.KeyID, s.WrappedKey)
	}
	if err == nil && doc != nil {
		_, err = db.Exec(`INSERT INTO identity_documents (request_id, content_type, size, sealed) VALUES ($1, 'image/png', $2, $3)`, id, len(doc), s.Document)
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSealedPIIAndScrubbing(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	pii := store.PII{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", Description: "all my data"}
	id := insertRequest(t, db, keys, pii, []byte("PNG bytes of a passport"))

	var raw []byte
	if err := db.Get(&raw, `SELECT pii FROM requests WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Grace", "Hopper", "grace@example.com", "all my data"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q stored in the clear", s)
		}
	}
	got, err := db.RequestPII(ctx, keys, id)
	if err != nil || got != pii {
		t.Fatalf("RequestPII: %+v %v", got, err)
	}
	doc, err := db.RequestIdentityDocument(ctx, keys, id)
	if err != nil || string(doc.Data) != "PNG bytes of a passport" {
		t.Fatalf("document: %v", err)
	}
	if err := db.ScrubRequest(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RequestPII(ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("PII after scrub: want EGONE, got %v", err)
	}
	if _, err := db.RequestIdentityDocument(ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("document after scrub: want EGONE, got %v", err)
	}
	var keysLeft int
	_ = db.Get(&keysLeft, `SELECT count(*) FROM request_keys WHERE request_id = $1`, id)
	if keysLeft != 0 {
		t.Error("the data key survived the scrub")
	}
	if err := db.ScrubRequest(ctx, id); err != nil {
		t.Errorf("scrubbing twice: %v", err)
	}
	if _, err := db.RequestPII(ctx, keys, uuid.NewString()); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("unknown request: want ENOTFOUND, got %v", err)
	}
}

func TestTokensAreSingleUseAndExpire(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	raw, err := db.CreateToken(ctx, store.TokenEmailVerification, "", []byte("hash"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	_ = db.Get(&stored, `SELECT count(*) FROM tokens WHERE token_hash = $1`, raw)
	if stored != 0 {
		t.Fatal("the raw token is stored")
	}
	if _, err := db.UseToken(ctx, raw, store.TokenPortalInvitation); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("wrong kind: want ENOTFOUND, got %v", err)
	}
	if _, err := db.UseToken(ctx, raw, store.TokenEmailVerification); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := db.UseToken(ctx, raw, store.TokenEmailVerification); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("second use: want EGONE, got %v", err)
	}
	old, _ := db.CreateToken(ctx, store.TokenEmailVerification, "", []byte("hash"), -time.Minute)
	if _, err := db.UseToken(ctx, old, store.TokenEmailVerification); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("expired: want EGONE, got %v", err)
	}
	if _, err := db.UseToken(ctx, "junk", store.TokenEmailVerification); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("junk: want ENOTFOUND, got %v", err)
	}
}

func TestUnreachableTellsOutagesFromQueryErrors(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()

	// A server that is not there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, err = store.Open(ctx, "postgres://postgres@"+closed+"/x?sslmode=disable", 1)
	if err == nil || !store.Unreachable(err) {
		t.Errorf("connecting to a closed port: Unreachable(%v) = false", err)
	}

	// A connection the server ends (as on shutdown or restart).
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(ctx, `SELECT 1`)
	if err == nil || !store.Unreachable(err) {
		t.Errorf("a connection the server terminated: Unreachable(%v) = false", err)
	}

	// Errors of the query itself are not outages.
	for _, q := range []string{`SELEC 1`, `SELECT 1/0`, `SELECT * FROM no_such_table`} {
		if _, err := db.ExecContext(ctx, q); err == nil || store.Unreachable(err) {
			t.Errorf("%s: Unreachable(%v) = true", q, err)
		}
	}
	if err := db.GetContext(ctx, new(int), `SELECT 1 WHERE false`); err == nil || store.Unreachable(err) {
		t.Errorf("no rows: Unreachable(%v) = true", err)
	}
	if store.Unreachable(dsar.Errorf(dsar.ENOTFOUND, "x")) || store.Unreachable(nil) {
		t.Error("Unreachable of a dsar error or nil")
	}
}
