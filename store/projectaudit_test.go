package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// TestProjectionCarriesItsAuditRows: the audit rows a projection write
// carries commit with it: a retry (the write done, its answer lost) or a
// row appended on its own before stores none twice, the chain verifies,
// and a write that fails, in its projection or in an audit row, stores
// neither.
func TestProjectionCarriesItsAuditRows(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@example.com"}, nil)
	at := time.Now().UTC().Truncate(time.Second)
	wid := "dsar-" + id
	ev := func(n, action string) store.Audit {
		return store.Audit{RequestID: id, ActorKind: store.ActorStaff, ActorID: "u1", Action: action,
			Detail: map[string]any{"n": n}, Key: wid + "#" + n}
	}
	write := func(seq int64, status dsar.Status, actionID string, audits ...store.Audit) store.Projection {
		return store.Projection{RequestID: id, Status: status, Deadline: at.AddDate(0, 1, 0), Seq: seq,
			Timeline: []store.TimelineEntry{{At: at, Event: string(status)}}, Audits: audits,
			Actions: []store.ActionOutcome{{ActionID: actionID, Signal: "s", Applied: true, Status: status, ActedAt: at}}}
	}
	trail := func() []string {
		t.Helper()
		evs, err := db.RequestAudit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range evs {
			keys = append(keys, *e.Key+" "+e.Action)
		}
		return keys
	}
	verify := func() {
		t.Helper()
		if _, brk, err := db.VerifyAudit(ctx); err != nil || brk != nil {
			t.Fatalf("chain: break %+v, err %v", brk, err)
		}
	}

	// Row 1 was appended on its own (a run's standalone write); the
	// projection carries it again with row 2: each is stored once.
	if _, err := db.AppendAudit(ctx, ev("1", dsar.AuditEmailVerified)); err != nil {
		t.Fatal(err)
	}
	p := write(1, dsar.StatusIdentityVerified, "decide", ev("1", dsar.AuditEmailVerified), ev("2", dsar.AuditIdentityVerified))
	for range 2 { // the second: a retry of a write that committed
		if err := db.Project(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{wid + "#1 " + dsar.AuditEmailVerified, wid + "#2 " + dsar.AuditIdentityVerified}
	equalStrings(t, "trail after a retried write", trail(), want)
	if o, ok, err := db.ActionOutcome(ctx, id, "decide"); !ok || err != nil || o.Status != dsar.StatusIdentityVerified {
		t.Fatalf("the outcome: %+v %v %v", o, ok, err)
	}
	verify()

	// A stale write (a newer projection is stored) still appends its rows.
	if err := db.Project(ctx, write(1, dsar.StatusAwaitingIdentity, "late", ev("3", dsar.AuditSignalIgnored))); err != nil {
		t.Fatal(err)
	}
	want = append(want, wid+"#3 "+dsar.AuditSignalIgnored)
	equalStrings(t, "trail after a stale write", trail(), want)

	// The projection fails (a task in no known status): no audit row, no
	// outcome, the request as it was.
	bad := write(2, dsar.StatusInProgress, "assign", ev("4", dsar.AuditSourcesAssigned))
	owner, _ := staffSession(t, db, "o@example.com", dsar.RoleSourceOwner)
	ds, err := db.CreateDataSource(ctx, "CRM", "", []string{owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	bad.Tasks = []store.ProjectedTask{{DataSourceID: ds.ID, Status: "lost", AssignedAt: at, LastActivityAt: at}}
	if err := db.Project(ctx, bad); err == nil {
		t.Fatal("a task in no known status was projected")
	}
	// An audit row fails (an actor kind the trail does not know), after
	// another it carries: neither row, nor the projection.
	broken := ev("5", dsar.AuditDeadlineExtended)
	broken.ActorKind = "robot"
	if err := db.Project(ctx, write(2, dsar.StatusInProgress, "extend", ev("4", dsar.AuditSourcesAssigned), broken)); err == nil {
		t.Fatal("an audit row of an unknown actor kind was appended")
	}
	equalStrings(t, "trail after failed writes", trail(), want)
	if status, seq, _, _ := projected(t, db, id); status != string(dsar.StatusIdentityVerified) || seq != 1 {
		t.Errorf("after failed writes the request is %s at seq %d; want identity_verified at 1", status, seq)
	}
	for _, a := range []string{"assign", "extend"} {
		if _, ok, _ := db.ActionOutcome(ctx, id, a); ok {
			t.Errorf("the outcome of %s was recorded by a write that failed", a)
		}
	}
	verify()

	// The request's row is gone: the rows are stored all the same (the
	// trail keeps what happened), and the write says so.
	if _, err := db.Exec(`DELETE FROM requests WHERE id = $1`, id); err != nil {
		t.Skipf("the request's row cannot be deleted here: %v", err)
	}
	if err := db.Project(ctx, write(3, dsar.StatusInProgress, "gone", ev("4", dsar.AuditSourcesAssigned))); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Fatalf("projecting a deleted request: %v, want ENOTFOUND", err)
	}
	equalStrings(t, "trail once the row is gone", trail(), append(want, wid+"#4 "+dsar.AuditSourcesAssigned))
	verify()
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
}
