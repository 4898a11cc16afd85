package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

func TestSessionsAreKeptHashedAndEndOnRevoke(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, store.User{Email: "a@example.com", Name: "A", Role: dsar.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := db.CreateSession(ctx, store.SessionStaff, u.ID, time.Hour, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.Get(&stored, `SELECT token_hash FROM sessions`); err != nil || stored != crypto.HashToken(raw) || stored == raw {
		t.Fatalf("stored %q (%v): want only the hash of the token", stored, err)
	}
	s, err := db.Session(ctx, store.SessionStaff, raw, time.Hour)
	if err != nil || s.SubjectID != u.ID || s.Kind != store.SessionStaff {
		t.Fatalf("session = %+v, %v", s, err)
	}
	if !s.ExpiresAt.After(time.Now().Add(7*time.Hour)) || s.ExpiresAt.After(time.Now().Add(8*time.Hour+time.Minute)) {
		t.Fatalf("absolute expiry %s, want 8h from now", s.ExpiresAt)
	}
	for _, bad := range []string{"", "junk", crypto.NewToken()} {
		if _, err := db.Session(ctx, store.SessionStaff, bad, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
			t.Errorf("session %q: %v, want EUNAUTHORIZED", bad, err)
		}
	}
	if err := db.RevokeSession(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, store.SessionStaff, raw, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Fatalf("revoked session: %v", err)
	}
	if err := db.RevokeSession(ctx, raw); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := db.CreateSession(ctx, "root", u.ID, time.Hour, time.Hour); err == nil {
		t.Fatal("a session of an unknown kind was made")
	}
}

func TestCursorsRoundTripAndRefuseJunk(t *testing.T) {
	c := store.Cursor{At: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ID: uuid.NewString(), Also: uuid.NewString()}
	got, err := store.DecodeCursor(c.Encode())
	if err != nil || !got.At.Equal(c.At) || got.ID != c.ID || got.Also != c.Also {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, junk := range []string{"", "abc", "!!!", store.Cursor{At: c.At, ID: "x"}.Encode()} {
		if _, err := store.DecodeCursor(junk); dsar.ErrorCode(err) != dsar.EINVALID {
			t.Errorf("cursor %q: %v, want EINVALID", junk, err)
		}
	}
}

func TestMissingDataSourcesNamesUnknownAndDeletedOnes(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, store.User{Email: "o@example.com", Name: "O", Role: dsar.RoleSourceOwner, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateDataSource(ctx, "A", "", []string{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.CreateDataSource(ctx, "B", "", []string{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteDataSource(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	ghost := uuid.NewString()
	missing, err := db.MissingDataSources(ctx, []string{a.ID, b.ID, ghost, "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 3 || missing[0] != b.ID || missing[1] != ghost || missing[2] != "nope" {
		t.Fatalf("missing = %v, want [%s %s nope]", missing, b.ID, ghost)
	}
	if ok, err := db.OwnsDataSource(ctx, u.ID, a.ID); err != nil || !ok {
		t.Fatalf("owns: %v %v", ok, err)
	}
}
