package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// projected is a request's row as Project leaves it.
func projected(t *testing.T, db *store.DB, id string) (status string, seq int64, timeline string, tasks int) {
	t.Helper()
	row := db.QueryRow(`SELECT status, projection_seq, timeline::text, (SELECT count(*) FROM tasks WHERE request_id = $1)
		FROM requests WHERE id = $1`, id)
	if err := row.Scan(&status, &seq, &timeline, &tasks); err != nil {
		t.Fatal(err)
	}
	return status, seq, timeline, tasks
}

func TestProjectionNeverGoesBack(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@example.com"}, nil)
	owner, _ := staffSession(t, db, "o@example.com", dsar.RoleSourceOwner)
	ds, err := db.CreateDataSource(ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	p := func(seq int64, status dsar.Status, event string) store.Projection {
		return store.Projection{RequestID: id, Status: status, Deadline: at.AddDate(0, 1, 0), Seq: seq,
			Timeline: []store.TimelineEntry{{At: at, Event: event}}}
	}

	newer := p(3, dsar.StatusInProgress, "sources_assigned")
	newer.Tasks = []store.ProjectedTask{{DataSourceID: ds.ID, Status: "open", AssignedAt: at, LastActivityAt: at}}
	if err := db.Project(ctx, newer); err != nil {
		t.Fatal(err)
	}
	// A late retry of an older write changes nothing, and is no error.
	stale := p(2, dsar.StatusIdentityVerified, "identity_verified")
	stale.Tasks = []store.ProjectedTask{{DataSourceID: ds.ID, Status: "completed", AssignedAt: at, LastActivityAt: at, CompletedAt: &at}}
	if err := db.Project(ctx, stale); err != nil {
		t.Fatalf("stale write: %v", err)
	}
	if err := db.Project(ctx, p(3, dsar.StatusAwaitingIdentity, "same seq")); err != nil {
		t.Fatalf("write of the same seq: %v", err)
	}
	status, seq, timeline, _ := projected(t, db, id)
	if status != "in_progress" || seq != 3 || !bytes.Contains([]byte(timeline), []byte("sources_assigned")) {
		t.Fatalf("after stale writes: status %s seq %d timeline %s", status, seq, timeline)
	}
	ts, err := db.RequestTasks(ctx, id, "")
	if err != nil || len(ts) != 1 || ts[0].Status != "open" {
		t.Fatalf("a stale write changed the task: %+v %v", ts, err)
	}
	tl, err := db.RequestTimeline(ctx, id)
	if err != nil || len(tl) != 1 || tl[0].Event != "sources_assigned" || !tl[0].At.Equal(at) {
		t.Fatalf("timeline: %+v %v", tl, err)
	}

	// A newer write applies; a write without a sequence number (a workflow
	// from before them) always applies and keeps the stored timeline.
	if err := db.Project(ctx, p(4, dsar.StatusReadyToClose, "task_completed")); err != nil {
		t.Fatal(err)
	}
	if status, seq, _, _ := projected(t, db, id); status != "ready_to_close" || seq != 4 {
		t.Fatalf("newer write: status %s seq %d", status, seq)
	}
	if err := db.Project(ctx, store.Projection{RequestID: id, Status: dsar.StatusCompleted, Deadline: at}); err != nil {
		t.Fatal(err)
	}
	if status, seq, timeline, _ := projected(t, db, id); status != "completed" || seq != 4 || !bytes.Contains([]byte(timeline), []byte("task_completed")) {
		t.Fatalf("write without seq: status %s seq %d timeline %s", status, seq, timeline)
	}
	missing := p(1, dsar.StatusCompleted, "x")
	missing.RequestID = uuid.NewString()
	if err := db.Project(ctx, missing); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Fatalf("no such request: want ENOTFOUND, got %v", err)
	}
}

func TestActionOutcomesAreRecordedOnceAndAnnounced(t *testing.T) {
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	db := openMigrated(t, url)
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@example.com"}, nil)

	l := pq.NewListener(url, 10*time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(store.ActionsChannel); err != nil {
		t.Fatal(err)
	}
	// A wait that starts before the outcome is recorded ends when it is.
	waited := make(chan store.ActionOutcome, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		o, ok, err := db.AwaitAction(wctx, id, "a1")
		if err != nil || !ok {
			t.Errorf("await: ok=%v err=%v", ok, err)
		}
		waited <- o
	}()
	time.Sleep(100 * time.Millisecond)

	at := time.Now().UTC().Truncate(time.Microsecond)
	deadline := at.AddDate(0, 2, 0)
	first := store.ActionOutcome{ActionID: "a1", Signal: "deadline-extended", Applied: true, Status: dsar.StatusInProgress,
		Deadline: &deadline, ActedAt: at}
	if err := db.Project(ctx, store.Projection{RequestID: id, Status: dsar.StatusInProgress, Deadline: deadline, Seq: 1,
		Actions: []store.ActionOutcome{first}}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-l.Notify:
		if n.Extra != id+":a1" {
			t.Errorf("notification %q, want %q", n.Extra, id+":a1")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	select {
	case o := <-waited:
		if !o.Applied || o.Status != dsar.StatusInProgress || o.Deadline == nil || !o.Deadline.Equal(deadline) {
			t.Errorf("awaited outcome %+v", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end")
	}

	// A second outcome of the same action, even in a stale write, changes
	// nothing: the first is kept.
	second := store.ActionOutcome{ActionID: "a1", Signal: "deadline-extended", Code: dsar.ECONFLICT, Reason: "again",
		Status: dsar.StatusCompleted, ActedAt: at}
	if err := db.Project(ctx, store.Projection{RequestID: id, Status: dsar.StatusInProgress, Deadline: deadline, Seq: 1,
		Actions: []store.ActionOutcome{second}}); err != nil {
		t.Fatal(err)
	}
	o, ok, err := db.ActionOutcome(ctx, id, "a1")
	if err != nil || !ok || !o.Applied || o.Reason != "" || !o.ActedAt.Equal(at) {
		t.Fatalf("outcome after a repeat: %+v %v %v", o, ok, err)
	}
	var rows int
	_ = db.Get(&rows, `SELECT count(*) FROM request_actions WHERE request_id = $1`, id)
	if rows != 1 {
		t.Fatalf("%d rows for one action", rows)
	}

	// Recorded already: the wait ends at once. Never recorded: it ends with ctx.
	if _, ok, err := db.AwaitAction(ctx, id, "a1"); !ok || err != nil {
		t.Fatalf("await a recorded action: %v %v", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, ok, err := db.AwaitAction(wctx, id, "never"); ok || err != nil {
		t.Fatalf("await an action never recorded: %v %v", ok, err)
	}
	if err := db.ActionsHeard(); err != nil {
		t.Fatalf("the waiter is not listening: %v", err)
	}
}

func TestAuditKeyAppendsOnce(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	rid := uuid.NewString()
	if _, err := db.AppendAudit(ctx, store.Audit{RequestID: rid, ActorKind: store.ActorSystem, Action: "request.submitted"}); err != nil {
		t.Fatal(err)
	}
	a := store.Audit{RequestID: rid, ActorKind: store.ActorSystem, Action: "mail.sent", Detail: map[string]any{"kind": "x"},
		Key: "dsar-" + rid + "/mail.sent/1"}
	first, err := db.AppendAudit(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.AppendAudit(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != first.Seq || !bytes.Equal(again.Hash, first.Hash) {
		t.Errorf("the repeat appended seq %d, the first was %d", again.Seq, first.Seq)
	}
	if _, err := db.AppendAudit(ctx, store.Audit{RequestID: rid, ActorKind: store.ActorSystem, Action: "request.completed"}); err != nil {
		t.Fatal(err)
	}
	n, brk, err := db.VerifyAudit(ctx)
	if err != nil || brk != nil || n != 3 {
		t.Fatalf("chain: n=%d break=%+v err=%v", n, brk, err)
	}
	// The key is part of what the hash protects.
	testenv.TamperAudit(t, db.DB, `UPDATE audit_events SET key = 'other' WHERE seq = $1`, first.Seq)
	if _, brk, _ := db.VerifyAudit(ctx); brk == nil || brk.Seq != first.Seq {
		t.Fatalf("changed key: want a break at %d, got %+v", first.Seq, brk)
	}
}

func TestActionWaitSurvivesALostListener(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@example.com"}, nil)

	waited := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, ok, err := db.AwaitAction(wctx, id, "a1"); !ok || err != nil {
			t.Errorf("await: ok=%v err=%v", ok, err)
		}
		waited <- time.Since(start)
	}()
	listening := func() bool {
		var n int
		_ = db.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)
		return n > 0 && db.ActionsHeard() == nil
	}
	for !listening() {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the waiter does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The listening connection dies; the outcome is recorded meanwhile.
	if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	if err := db.Project(ctx, store.Projection{RequestID: id, Status: dsar.StatusPendingEmailVerification, Deadline: time.Now(), Seq: 1,
		Actions: []store.ActionOutcome{{ActionID: "a1", Signal: "request-closed", Applied: true, Status: dsar.StatusRejected, ActedAt: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case took := <-waited:
		if took > 15*time.Second {
			t.Errorf("the wait ended only with its deadline (%v): a reconnection did not look again", took)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the wait did not end")
	}
}
