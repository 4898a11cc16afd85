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

// A sign-in link finds the address's requests after they are erased,
// opens an account without a password the first time, works once and not
// after it expires.
func TestSignInLinkOpensTheAccountOnceAndExpires(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)), nil, "")
	hash := keys.BlindIndex("grace@example.com")

	if a, err := db.PortalSignInAddress(ctx, hash); err != nil || a.Known || a.LatestRequestID != "" {
		t.Fatalf("an address without requests: %+v %v, want unknown", a, err)
	}
	id := insertRequest(t, db, keys, store.PII{FirstName: "Grace", Email: "grace@example.com"}, nil)
	if err := db.ScrubRequest(ctx, id); err != nil {
		t.Fatal(err)
	}
	if a, err := db.PortalSignInAddress(ctx, keys.BlindIndex(" Grace@Example.com ")); err != nil || !a.Known || a.LatestRequestID != id {
		t.Fatalf("the address of an erased request: %+v %v, want known with request %s", a, err, id)
	}

	raw, err := db.CreateToken(ctx, store.TokenPortalSignIn, "", hash, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	acc, created, err := db.SignInWithLink(ctx, raw)
	if err != nil || !created || !bytes.Equal(acc.EmailHash, hash) || acc.PasswordHash != "" || acc.LastLoginAt == nil {
		t.Fatalf("first sign-in: %+v created=%v %v; want a new account without a password", acc, created, err)
	}
	if _, _, err := db.SignInWithLink(ctx, raw); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("the same link again: want EGONE, got %v", err)
	}

	again, _ := db.CreateToken(ctx, store.TokenPortalSignIn, "", hash, 30*time.Minute)
	acc2, created, err := db.SignInWithLink(ctx, again)
	if err != nil || created || acc2.ID != acc.ID {
		t.Fatalf("second link: %+v created=%v %v; want the same account", acc2, created, err)
	}
	expired, _ := db.CreateToken(ctx, store.TokenPortalSignIn, "", hash, -time.Second)
	if _, _, err := db.SignInWithLink(ctx, expired); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("an expired link: want EGONE, got %v", err)
	}
	for name, tok := range map[string]string{"junk": "junk", "unknown": crypto.NewToken()} {
		if _, _, err := db.SignInWithLink(ctx, tok); dsar.ErrorCode(err) != dsar.ENOTFOUND {
			t.Errorf("%s token: want ENOTFOUND, got %v", name, err)
		}
	}
	verification, _ := db.CreateToken(ctx, store.TokenEmailVerification, id, hash, time.Hour)
	if _, _, err := db.SignInWithLink(ctx, verification); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("a verification token is no sign-in link: want ENOTFOUND, got %v", err)
	}

	var actions []string
	if err := db.Select(&actions, `SELECT action FROM audit_events WHERE actor_id = $1 ORDER BY seq`, acc.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{dsar.AuditPortalAccountCreated, dsar.AuditPortalSignedInByLink, dsar.AuditPortalSignedInByLink}
	if len(actions) != len(want) || actions[0] != want[0] || actions[1] != want[1] || actions[2] != want[2] {
		t.Errorf("audit trail %v, want %v", actions, want)
	}
}

// Setting a password ends the account's other sessions, keeps the one that
// set it, and lets an invitation no longer overwrite it.
func TestSetPortalPasswordEndsOtherSessions(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	hash := []byte("blind index of ada")
	raw, _ := db.CreateToken(ctx, store.TokenPortalSignIn, "", hash, time.Minute)
	acc, _, err := db.SignInWithLink(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := db.CreateSession(ctx, store.SessionPortal, acc.ID, time.Hour, time.Hour)
	other, _ := db.CreateSession(ctx, store.SessionPortal, acc.ID, time.Hour, time.Hour)
	if err := db.SetPortalPassword(ctx, acc.ID, crypto.HashPassword("correct horse battery"), mine); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, store.SessionPortal, mine, time.Hour); err != nil {
		t.Errorf("the session that set the password ended: %v", err)
	}
	if _, err := db.Session(ctx, store.SessionPortal, other, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Errorf("another session of the account: want it ended, got %v", err)
	}
	got, _ := db.PortalAccount(ctx, acc.ID)
	if crypto.CheckPassword(got.PasswordHash, "correct horse battery") != nil {
		t.Error("the password was not stored")
	}
	if err := db.SetPortalPassword(ctx, acc.ID, crypto.HashPassword("another long one"), mine); err != nil {
		t.Fatal(err)
	}
	var changed []bool
	_ = db.Select(&changed, `SELECT (detail->>'changed')::bool FROM audit_events WHERE action = $1 ORDER BY seq`, dsar.AuditPortalPasswordSet)
	if len(changed) != 2 || changed[0] || !changed[1] {
		t.Errorf("audited password changes %v, want a first one then a change", changed)
	}
	if err := db.SetPortalPassword(ctx, "0b5f7a3e-0000-4000-8000-000000000000", "x", mine); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("no such account: want ENOTFOUND, got %v", err)
	}
}

// A budget over an hour outlives the sweep of idle buckets, which keeps a
// bucket until it is full again.
func TestTakeTokenPerHourSurvivesTheSweep(t *testing.T) {
	url := testenv.DatabaseURL(t)
	db := openMigrated(t, url)
	ctx := context.Background()
	key := []byte("blind index")
	takeHourly := func(db *store.DB) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := db.TakeTokenPer(ctx, "sign_in_link", key, 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for i := range 3 {
		if ok, _ := takeHourly(db); !ok {
			t.Fatalf("attempt %d of 3 refused", i+1)
		}
	}
	ok, wait := takeHourly(db)
	if ok || wait < 19*time.Minute || wait > 20*time.Minute {
		t.Fatalf("the fourth attempt in an hour: allowed %v, wait %v; want refused for about 20 minutes", ok, wait)
	}
	// Ten minutes idle: long past the two minutes that free a login bucket.
	if _, err := db.Exec(`UPDATE rate_limits SET at = at - interval '10 minutes', full_at = full_at - interval '10 minutes'`); err != nil {
		t.Fatal(err)
	}
	other := openMigrated(t, url) // another process: its first take sweeps
	if ok, _, err := other.TakeToken(ctx, "login", []byte("someone"), 5); err != nil || !ok {
		t.Fatalf("a login attempt: %v %v", ok, err)
	}
	if ok, _ := takeHourly(other); ok {
		t.Fatal("after ten minutes the hourly budget was back: the sweep forgot the bucket")
	}
	if _, err := db.Exec(`UPDATE rate_limits SET at = at - interval '11 minutes', full_at = full_at - interval '11 minutes'`); err != nil {
		t.Fatal(err)
	}
	if ok, _ := takeHourly(db); !ok {
		t.Fatal("after twenty minutes one attempt was not back")
	}
	if ok, _ := takeHourly(db); ok {
		t.Fatal("after twenty minutes two attempts were back")
	}
}
