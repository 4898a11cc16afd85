package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

func TestFailedLoginsCannotFloodTheAuditTrail(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	db.SetLoginClock(func() time.Time { return now })
	count := func(action string) int {
		t.Helper()
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = $1`, action); err != nil {
			t.Fatal(err)
		}
		return n
	}
	fail := func(f store.LoginFailure) {
		t.Helper()
		if err := db.AuditLoginFailure(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	alice := []byte("alice's blind index")

	// Fifty guesses at one account from one IPv4 /24 and one IPv6 /64: one
	// row each.
	for i := range 25 {
		fail(store.LoginFailure{UserID: "u-alice", Account: alice, Address: fmt.Sprintf("192.0.2.%d", i), Reason: "wrong_password"})
		fail(store.LoginFailure{UserID: "u-alice", Account: alice, Address: fmt.Sprintf("2001:db8::%x", i), Reason: "wrong_password"})
	}
	if n := count(dsar.AuditStaffLoginFailed); n != 2 {
		t.Fatalf("50 guesses at one account from two networks: %d rows, want 2", n)
	}
	// A flood of unknown emails from many networks: rows up to the cap.
	for i := range 200 {
		fail(store.LoginFailure{Account: fmt.Appendf(nil, "account %d", i), Address: fmt.Sprintf("198.%d.%d.1", i/250, i%250), Reason: "unknown_account"})
	}
	if n := count(dsar.AuditStaffLoginFailed); n != store.LoginFailureRowsPerWindow {
		t.Fatalf("a flood: %d rows of their own, want the cap %d", n, store.LoginFailureRowsPerWindow)
	}
	if n := count(dsar.AuditStaffLoginFailures); n != 0 {
		t.Fatalf("a summary before the window closed: %d", n)
	}

	// The window closes; the next anchor counts every failure in one row.
	now = now.Add(store.LoginFailureWindow)
	if _, c, err := db.AnchorAudit(ctx, nil); err != nil || c.Break != nil {
		t.Fatalf("anchor: %+v %v", c, err)
	}
	if n := count(dsar.AuditStaffLoginFailures); n != 1 {
		t.Fatalf("summaries after the window: %d, want 1", n)
	}
	var detail json.RawMessage
	if err := db.Get(&detail, `SELECT detail FROM audit_events WHERE action = $1`, dsar.AuditStaffLoginFailures); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Failures      int            `json:"failures"`
		WithoutOwnRow int            `json:"without_own_row"`
		Users         map[string]int `json:"users"`
		Reasons       map[string]int `json:"reasons"`
		Accounts      int            `json:"accounts"`
		Networks      int            `json:"networks"`
	}
	if err := json.Unmarshal(detail, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Failures != 250 || sum.WithoutOwnRow != 250-store.LoginFailureRowsPerWindow || sum.Users["u-alice"] != 50 ||
		sum.Reasons["unknown_account"] != 200 || sum.Accounts != 201 || sum.Networks != 202 {
		t.Fatalf("summary %s", detail)
	}
	var left int
	if err := db.Get(&left, `SELECT count(*) FROM audit_login_failures`); err != nil || left != 0 {
		t.Fatalf("counts of the closed window left: %d (%v)", left, err)
	}

	// A new window lists failures again; the next failure after it closes
	// writes its summary, and only if some failure had no row of its own.
	fail(store.LoginFailure{UserID: "u-alice", Account: alice, Address: "192.0.2.1", Reason: "wrong_password"})
	fail(store.LoginFailure{UserID: "u-alice", Account: alice, Address: "192.0.2.2", Reason: "wrong_password"})
	now = now.Add(store.LoginFailureWindow)
	fail(store.LoginFailure{Account: []byte("bob"), Address: "203.0.113.9", Reason: "unknown_account"})
	if n, s := count(dsar.AuditStaffLoginFailed), count(dsar.AuditStaffLoginFailures); n != store.LoginFailureRowsPerWindow+2 || s != 2 {
		t.Fatalf("next windows: %d rows, %d summaries; want %d and 2", n, s, store.LoginFailureRowsPerWindow+2)
	}
	if n, brk, err := db.VerifyAudit(ctx); brk != nil || err != nil {
		t.Fatalf("chain after %d rows: %+v %v", n, brk, err)
	}
}
