package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

func testKeys(t *testing.T) *crypto.Keyring {
	t.Helper()
	keys, err := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestComplianceRecordFollowsTheProjection: each projection write upserts
// the request's compliance record; an older write (a late retry) never
// overwrites a newer one; the record survives the PII scrub; and it holds
// what the reports need, with no personal data.
func TestComplianceRecordFollowsTheProjection(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	pii := store.PII{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Description: "everything you hold"}
	id := insertRequest(t, db, testKeys(t), pii, nil)
	src := uuid.NewString()
	if _, err := db.Exec(`INSERT INTO data_sources (id, name) VALUES ($1, 'CRM')`, src); err != nil {
		t.Fatal(err)
	}
	var row store.Request
	row, err := db.Request(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	assigned := row.SubmittedAt.Add(time.Hour)
	open := store.Projection{RequestID: id, Status: dsar.StatusInProgress, Deadline: row.Deadline, Seq: 1,
		Tasks:  []store.ProjectedTask{{DataSourceID: src, Status: "open", AssignedAt: assigned, LastActivityAt: assigned}},
		Record: store.RecordFacts{RetainFor: 100 * time.Hour}}
	if err := db.Project(ctx, open); err != nil {
		t.Fatal(err)
	}
	rec, err := db.RecordOf(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != "" || rec.RespondedAt != nil || rec.RetainUntil != nil || rec.Reference != dsar.Reference(id) ||
		rec.RequestType != dsar.RequestInfo || rec.Rule != "gdpr" || rec.Channel != dsar.ChannelForm ||
		!rec.ReceivedAt.Equal(row.SubmittedAt) || !rec.DueAt.Equal(row.OriginalDeadline) || rec.ExtendedTo != nil {
		t.Fatalf("open request's record: %+v", rec)
	}

	closed := row.SubmittedAt.Add(72 * time.Hour)
	count := int64(12)
	extended := row.Deadline.AddDate(0, 0, 30)
	done := store.Projection{RequestID: id, Status: dsar.StatusCompleted, Deadline: extended, ExtendedAt: &closed,
		ExtensionDays: 30, ClosedAt: &closed, Seq: 3,
		Tasks: []store.ProjectedTask{{DataSourceID: src, Status: "completed", AssignedAt: assigned, LastActivityAt: closed,
			CompletedAt: &closed, Outcome: string(dsar.TaskNotApplicable), RecordCount: &count}},
		Record: store.RecordFacts{RetainFor: 100 * time.Hour}}
	if err := db.Project(ctx, done); err != nil {
		t.Fatal(err)
	}
	// A late retry of an older write changes nothing.
	open.Seq = 2
	if err := db.Project(ctx, open); err != nil {
		t.Fatal(err)
	}
	if err := db.ScrubRequest(ctx, id); err != nil {
		t.Fatal(err)
	}
	rec, err = db.RecordOf(ctx, id)
	if err != nil {
		t.Fatalf("the record after the scrub: %v", err)
	}
	if rec.Outcome != dsar.RecordCompletedPart || rec.RespondedAt == nil || !rec.RespondedAt.Equal(closed) ||
		rec.RetainUntil == nil || !rec.RetainUntil.Equal(closed.Add(100*time.Hour)) ||
		rec.ExtendedTo == nil || !rec.ExtendedTo.Equal(extended) {
		t.Fatalf("completed request's record (seq 2 after seq 3, then scrubbed): %+v", rec)
	}
	if len(rec.Sources) != 1 || rec.Sources[0].Name != "CRM" || rec.Sources[0].Outcome != dsar.TaskNotApplicable ||
		rec.Sources[0].RecordCount == nil || *rec.Sources[0].RecordCount != 12 {
		t.Fatalf("sources: %+v", rec.Sources)
	}
	var raw string
	if err := db.Get(&raw, `SELECT row_to_json(c)::text FROM compliance_records c WHERE request_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Ada", "Lovelace", "ada@example.com", "everything you hold"} {
		if bytes.Contains([]byte(raw), []byte(s)) {
			t.Errorf("the record holds %q", s)
		}
	}

	// A rejection's record names its basis.
	rid := insertRequest(t, db, testKeys(t), pii, nil)
	if err := db.Project(ctx, store.Projection{RequestID: rid, Status: dsar.StatusRejected, Deadline: row.Deadline, ClosedAt: &closed,
		CloseReasons: []string{"excessive", "duplicate"}, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if rec, err := db.RecordOf(ctx, rid); err != nil || rec.Outcome != dsar.RecordDenied ||
		len(rec.DenialBasis) != 2 || rec.DenialBasis[0] != "excessive" || rec.RetainUntil != nil {
		t.Fatalf("rejected request's record: %+v %v", rec, err)
	}
}

// TestRetentionSweepLeavesWhatItsPeriodsAllow seeds rows on both sides of
// each period, some under a legal hold, and checks the sweep deletes
// exactly those past their period and not held, records the counts in the
// audit trail, and deletes no audit event.
func TestRetentionSweepLeavesWhatItsPeriodsAllow(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	p := store.RetentionPeriods{Records: 730 * day, Messages: 180 * day, Packages: 30 * day, Sessions: 30 * day,
		Tokens: 30 * day, IdempotencyKeys: 7 * day, BlindIndex: 365 * day}
	keys := testKeys(t)
	pii := store.PII{FirstName: "A", LastName: "B", Email: "ab@example.com"}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Three closed requests: old, old and held, recent.
	oldReq, heldReq, recentReq := insertRequest(t, db, keys, pii, nil), insertRequest(t, db, keys, pii, nil), insertRequest(t, db, keys, pii, nil)
	for _, r := range []struct {
		id     string
		closed time.Time
		held   bool
	}{{oldReq, ago(400 * day), false}, {heldReq, ago(400 * day), true}, {recentReq, ago(10 * day), false}} {
		exec(`UPDATE requests SET status = 'completed', closed_at = $2, scrubbed_at = $2, pii = NULL, legal_hold_on = $3 WHERE id = $1`,
			r.id, r.closed, r.held)
		for i := range 2 {
			mid := uuid.NewString()
			exec(`INSERT INTO messages (id, request_id, sender, body, created_at) VALUES ($1, $2, 'requester', '\x00', $3)`, mid, r.id, r.closed)
			if i == 0 {
				exec(`INSERT INTO message_attachments (id, message_id, filename, content_type, size, sealed)
					VALUES ($1, $2, '\x00', 'text/plain', 1, '\x00')`, uuid.NewString(), mid)
			}
		}
		expired := r.closed.Add(5 * day)
		if r.id == recentReq {
			expired = ago(5 * day)
		}
		exec(`INSERT INTO packages (id, request_id, status, expires_at, expired_at) VALUES ($1, $2, 'expired', $3, $3)`,
			uuid.NewString(), r.id, expired)
		exec(`INSERT INTO tokens (token_hash, kind, request_id, email_hash, expires_at) VALUES ($1, 'portal_invitation', $2, '\x01', $3)`,
			uuid.NewString(), r.id, ago(40*day))
	}
	// Compliance records: past retain_until; held; no retain_until (the
	// configured period counts from the close) on either side; open.
	put := func(responded *time.Time, retain *time.Time, held bool) string {
		id := uuid.NewString()
		if err := db.PutRecord(ctx, store.Record{RequestID: id, Reference: dsar.Reference(id), RequestType: dsar.RequestInfo,
			RequestorType: dsar.RequestorCustomer, Rule: "us_ccpa", Channel: dsar.ChannelForm, ReceivedAt: ago(800 * day),
			DueAt: ago(755 * day), RespondedAt: responded, Outcome: dsar.RecordCompletedWhole, RetainUntil: retain, LegalHold: held}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	gone1 := put(new(ago(760*day)), new(ago(day)), false)
	keptHeld := put(new(ago(760*day)), new(ago(day)), true)
	keptFuture := put(new(ago(760*day)), new(now.Add(day)), false)
	gone2 := put(new(ago(731*day)), nil, false)
	keptYoung := put(new(ago(729*day)), nil, false)
	keptOpen := put(nil, nil, false)
	// Sessions, tokens and idempotency keys on both sides.
	uid := uuid.NewString()
	exec(`INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, 'o@example.com', 'O', 'org_owner', 'x')`, uid)
	exec(`INSERT INTO sessions (token_hash, kind, user_id, expires_at) VALUES ('s-old', 'staff', $1, $2)`, uid, ago(31*day))
	exec(`INSERT INTO sessions (token_hash, kind, user_id, expires_at, revoked_at) VALUES ('s-revoked', 'staff', $1, $2, $3)`, uid, now.Add(day), ago(31*day))
	exec(`INSERT INTO sessions (token_hash, kind, user_id, expires_at) VALUES ('s-live', 'staff', $1, $2)`, uid, now.Add(day))
	exec(`INSERT INTO sessions (token_hash, kind, user_id, expires_at) VALUES ('s-young', 'staff', $1, $2)`, uid, ago(29*day))
	exec(`INSERT INTO tokens (token_hash, kind, email_hash, expires_at, used_at) VALUES ('t-used', 'email_verification', '\x01', $1, $2)`, now.Add(day), ago(31*day))
	exec(`INSERT INTO tokens (token_hash, kind, email_hash, expires_at) VALUES ('t-live', 'email_verification', '\x01', $1)`, now.Add(day))
	exec(`INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', 'old', 'h', $1)`, ago(8*day))
	exec(`INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ('s', 'new', 'h', $1)`, ago(6*day))
	if _, err := db.AppendAudit(ctx, store.Audit{RequestID: oldReq, ActorKind: store.ActorSystem, Action: dsar.AuditCompleted}); err != nil {
		t.Fatal(err)
	}

	c, err := db.SweepRetention(ctx, now, p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := store.SweepCounts{Records: 2, Messages: 2, Attachments: 1, Packages: 1, Sessions: 2, Tokens: 3, IdempotencyKeys: 1, BlindIndex: 1}
	if c != want {
		t.Errorf("counts: got %+v, want %+v", c, want)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.Get(&n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range []string{gone1, gone2} {
		if _, err := db.RecordOf(ctx, id); dsar.ErrorCode(err) != dsar.ENOTFOUND {
			t.Errorf("record %s past its time: %v", id, err)
		}
	}
	for _, id := range []string{keptHeld, keptFuture, keptYoung, keptOpen} {
		if _, err := db.RecordOf(ctx, id); err != nil {
			t.Errorf("record %s kept: %v", id, err)
		}
	}
	for _, r := range []struct {
		id                                string
		messages, attachments, pkgs, toks int
		hashed                            bool
	}{{oldReq, 0, 0, 0, 0, false}, {heldReq, 2, 1, 1, 1, true}, {recentReq, 2, 1, 1, 0, true}} {
		got := []int{
			count(`SELECT count(*) FROM messages WHERE request_id = $1`, r.id),
			count(`SELECT count(*) FROM message_attachments a JOIN messages m ON m.id = a.message_id WHERE m.request_id = $1`, r.id),
			count(`SELECT count(*) FROM packages WHERE request_id = $1`, r.id),
			count(`SELECT count(*) FROM tokens WHERE request_id = $1`, r.id),
			count(`SELECT count(*) FROM requests WHERE id = $1 AND email_hash IS NOT NULL`, r.id),
		}
		hashed := 0
		if r.hashed {
			hashed = 1
		}
		if w := []int{r.messages, r.attachments, r.pkgs, r.toks, hashed}; got[0] != w[0] || got[1] != w[1] || got[2] != w[2] || got[3] != w[3] || got[4] != w[4] {
			t.Errorf("request %s: messages, attachments, packages, tokens, blind index: got %v, want %v", r.id, got, w)
		}
	}
	if n := count(`SELECT count(*) FROM sessions WHERE token_hash IN ('s-live', 's-young')`); n != 2 || count(`SELECT count(*) FROM sessions`) != 2 {
		t.Errorf("sessions left: %d of the two in their period", n)
	}
	if count(`SELECT count(*) FROM tokens WHERE token_hash = 't-live'`) != 1 || count(`SELECT count(*) FROM tokens WHERE token_hash = 't-used'`) != 0 {
		t.Error("tokens: the used one past its period must go, the live one stay")
	}
	if count(`SELECT count(*) FROM idempotency_keys WHERE key = 'new'`) != 1 || count(`SELECT count(*) FROM idempotency_keys`) != 1 {
		t.Error("idempotency keys: only the young one stays")
	}
	// The audit trail lost nothing and gained the sweep's counts.
	evs, err := db.RequestAudit(ctx, oldReq)
	if err != nil || len(evs) != 1 {
		t.Fatalf("the request's audit events after the sweep: %d %v", len(evs), err)
	}
	var detail string
	if err := db.Get(&detail, `SELECT detail::text FROM audit_events WHERE action = $1`, dsar.AuditRetentionSwept); err != nil {
		t.Fatalf("no retention.swept event: %v", err)
	}
	if !bytes.Contains([]byte(detail), []byte(`"records": 2`)) || !bytes.Contains([]byte(detail), []byte(`"messages": 2`)) {
		t.Errorf("retention.swept detail: %s", detail)
	}
	if n, brk, err := db.VerifyAudit(ctx); err != nil || brk != nil || n != 2 {
		t.Errorf("audit chain after the sweep: %d rows, break %+v, %v", n, brk, err)
	}
	// A second sweep finds nothing more.
	if c, err := db.SweepRetention(ctx, now, p, 1000); err != nil || c.Total() != 0 {
		t.Errorf("second sweep: %+v %v", c, err)
	}
}

// TestRetentionSweepKeepsAppealRecords: a record whose request was
// appealed is kept retention.records from the appeal's decision, not only
// from the close (Colorado Rule 6.11 asks records of appeals to be kept 24
// months), and kept while the appeal is undecided.
func TestRetentionSweepKeepsAppealRecords(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	ago := func(d time.Duration) *time.Time { return new(now.Add(-d)) }
	p := store.RetentionPeriods{Records: 730 * day, Messages: 180 * day, Packages: 30 * day, Sessions: 30 * day,
		Tokens: 30 * day, IdempotencyKeys: 7 * day, BlindIndex: 365 * day}
	put := func(filed, decided *time.Time) string {
		id := uuid.NewString()
		outcome := ""
		if decided != nil {
			outcome = "upheld"
		}
		if err := db.PutRecord(ctx, store.Record{RequestID: id, Reference: dsar.Reference(id), RequestType: dsar.RequestInfo,
			RequestorType: dsar.RequestorCustomer, Rule: "us_cpa", Channel: dsar.ChannelForm, ReceivedAt: *ago(900 * day),
			DueAt: *ago(855 * day), RespondedAt: ago(800 * day), Outcome: dsar.RecordDenied, RetainUntil: ago(70 * day),
			AppealFiledAt: filed, AppealOutcome: outcome, AppealDecidedAt: decided}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	gone := put(ago(790*day), ago(740*day))        // decided more than the period ago
	keptDecided := put(ago(790*day), ago(700*day)) // decided within the period
	keptOpen := put(ago(790*day), nil)             // never decided
	c, err := db.SweepRetention(ctx, now, p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.Records != 1 {
		t.Errorf("records swept: %d, want 1", c.Records)
	}
	if _, err := db.RecordOf(ctx, gone); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("the record of an appeal decided long ago is kept: %v", err)
	}
	for _, id := range []string{keptDecided, keptOpen} {
		if _, err := db.RecordOf(ctx, id); err != nil {
			t.Errorf("the record of a recent or open appeal %s went: %v", id, err)
		}
	}
}

// TestReconciliationLeavesHeldRequestsUnerased: the reconciliation's
// lists of closed requests to erase and of expired packages to erase skip
// a request under a legal hold.
func TestReconciliationLeavesHeldRequestsUnerased(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	pii := store.PII{FirstName: "A", LastName: "B", Email: "ab@example.com"}
	free, held := insertRequest(t, db, testKeys(t), pii, nil), insertRequest(t, db, testKeys(t), pii, nil)
	closed := time.Now().Add(-time.Hour)
	for _, id := range []string{free, held} {
		if _, err := db.Exec(`UPDATE requests SET status = 'completed', closed_at = $2, legal_hold_on = $3 WHERE id = $1`, id, closed, id == held); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO packages (id, request_id, status, expires_at) VALUES ($1, $2, 'published', $3)`, uuid.NewString(), id, closed); err != nil {
			t.Fatal(err)
		}
	}
	unerased, err := db.UnerasedRequests(ctx, time.Now(), 10)
	if err != nil || len(unerased) != 1 || unerased[0] != free {
		t.Errorf("unerased: %v %v, want only %s", unerased, err, free)
	}
	overdue, err := db.OverduePackages(ctx, time.Now(), 10)
	if err != nil || len(overdue) != 1 || overdue[0] != free {
		t.Errorf("overdue packages: %v %v, want only %s", overdue, err, free)
	}
}

// TestMigrationBackfillsRecordsOfEarlierRequests: the migration that makes
// the compliance records gives every request accepted before it a record
// from its row: a completion with a source not applicable is one in part,
// a rejection names its basis, an open request has no outcome yet.
func TestMigrationBackfillsRecordsOfEarlierRequests(t *testing.T) {
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	db, err := store.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB.DB, os.DirFS("migrations"))
	if err != nil {
		t.Fatal(err)
	}
	const records = 122 // the migration that makes compliance_records
	if _, err := p.UpTo(ctx, records-1); err != nil {
		t.Fatal(err)
	}
	pii := store.PII{FirstName: "A", LastName: "B", Email: "ab@example.com"}
	done, refused, open := insertRequest(t, db, testKeys(t), pii, nil), insertRequest(t, db, testKeys(t), pii, nil), insertRequest(t, db, testKeys(t), pii, nil)
	src := uuid.NewString()
	closed := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO data_sources (id, name) VALUES ($1, 'Billing')`, []any{src}},
		{`UPDATE requests SET status = 'completed', closed_at = $2 WHERE id = $1`, []any{done, closed}},
		{`INSERT INTO tasks (request_id, data_source_id, status, assigned_at, last_activity_at, outcome, record_count)
			VALUES ($1, $2, 'completed', $3, $3, 'not_applicable', 0)`, []any{done, src, closed}},
		{`UPDATE requests SET status = 'rejected', closed_at = $2, close_reasons = '{excessive}' WHERE id = $1`, []any{refused, closed}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if _, err := p.UpTo(ctx, records); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]dsar.RecordOutcome{done: dsar.RecordCompletedPart, refused: dsar.RecordDenied, open: ""} {
		rec, err := db.RecordOf(ctx, id)
		if err != nil || rec.Outcome != want || rec.Reference != dsar.Reference(id) || rec.Rule != "gdpr" || rec.RetainUntil != nil {
			t.Errorf("record of %s: %+v %v, want outcome %q", id, rec, err, want)
		}
	}
	if rec, _ := db.RecordOf(ctx, done); len(rec.Sources) != 1 || rec.Sources[0].Name != "Billing" || rec.RespondedAt == nil || !rec.RespondedAt.Equal(closed) {
		t.Errorf("completed request's record: %+v", rec)
	}
	if rec, _ := db.RecordOf(ctx, refused); len(rec.DenialBasis) != 1 || rec.DenialBasis[0] != "excessive" {
		t.Errorf("rejected request's basis: %v", rec.DenialBasis)
	}
}
