package store_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
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
	u, raw := staffSession(t, db, "a@example.com", dsar.RoleAdmin)
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

func TestStaffSessionCarriesTheUserAsItIsNow(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	u, raw := staffSession(t, db, "m@example.com", dsar.RoleManager)
	s, got, err := db.StaffSession(ctx, raw, time.Hour)
	if err != nil || s.SubjectID != u.ID || got.ID != u.ID || got.Email != u.Email || got.Role != dsar.RoleManager {
		t.Fatalf("staff session = %+v, %+v, %v", s, got, err)
	}
	// A role change shows on the very next call: nothing is cached.
	admin := dsar.RoleAdmin
	if _, err := db.UpdateUser(ctx, u.ID, store.UserPatch{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	if _, got, err := db.StaffSession(ctx, raw, time.Hour); err != nil || got.Role != dsar.RoleAdmin {
		t.Fatalf("after the role change: %+v, %v", got, err)
	}
	// A portal session's token is no staff session.
	accountID := uuid.NewString()
	if _, err := db.Exec(`INSERT INTO portal_accounts (id, email_hash, password_hash) VALUES ($1, $2, 'x')`,
		accountID, []byte("a blind index")); err != nil {
		t.Fatal(err)
	}
	portal, err := db.CreateSession(ctx, store.SessionPortal, accountID, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.StaffSession(ctx, portal, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Errorf("portal token as staff: %v, want EUNAUTHORIZED", err)
	}
	for _, bad := range []string{"", "junk", crypto.NewToken()} {
		if _, _, err := db.StaffSession(ctx, bad, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
			t.Errorf("staff session %q: %v, want EUNAUTHORIZED", bad, err)
		}
	}
	disabled := true
	if _, err := db.UpdateUser(ctx, u.ID, store.UserPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.StaffSession(ctx, raw, time.Hour); dsar.ErrorCode(err) != dsar.EUNAUTHORIZED {
		t.Fatalf("disabled user's session: %v, want EUNAUTHORIZED", err)
	}
}

// staffSession creates a staff user of role and an 8-hour session for it,
// and returns the user and the session's token.
func staffSession(t *testing.T, db *store.DB, email string, role dsar.Role) (store.User, string) {
	t.Helper()
	ctx := context.Background()
	u, err := db.CreateUser(ctx, store.User{Email: email, Name: strings.ToUpper(email[:1]), Role: role, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := db.CreateSession(ctx, store.SessionStaff, u.ID, time.Hour, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return u, raw
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

func TestStaffSessionCacheSeesChangesFromOtherProcesses(t *testing.T) {
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db := openMigrated(t, url)
	// Another process: a handle of its own on the same database.
	other, err := store.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	if err := db.CacheStaffSessions(ctx, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	eventually("the cache listens", db.CachingStaffSessions)

	u, raw := staffSession(t, other, "c@example.com", dsar.RoleManager)
	role := func() dsar.Role {
		_, got, err := db.StaffSession(ctx, raw, time.Hour)
		if err != nil {
			return ""
		}
		return got.Role
	}
	if r := role(); r != dsar.RoleManager {
		t.Fatalf("role %q, want manager", r)
	}

	// The answer comes from memory: with the notifying trigger off, a
	// change made elsewhere goes unseen.
	if _, err := other.Exec(`ALTER TABLE sessions DISABLE TRIGGER sessions_staff_auth`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`UPDATE sessions SET revoked_at = now()`); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != dsar.RoleManager {
		t.Fatalf("role %q: the session was not answered from memory", r)
	}
	if _, err := other.Exec(`ALTER TABLE sessions ENABLE TRIGGER sessions_staff_auth`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`UPDATE sessions SET revoked_at = NULL`); err != nil {
		t.Fatal(err)
	}

	// With it on, every change made elsewhere is seen.
	admin := dsar.RoleAdmin
	if _, err := other.UpdateUser(ctx, u.ID, store.UserPatch{Role: &admin}); err != nil {
		t.Fatal(err)
	}
	eventually("the role change is seen", func() bool { return role() == dsar.RoleAdmin })
	if err := other.RevokeSession(ctx, raw); err != nil {
		t.Fatal(err)
	}
	eventually("the revoked session is refused", func() bool { return role() == "" })

	raw, err = other.CreateSession(ctx, store.SessionStaff, u.ID, time.Hour, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := role(); r != dsar.RoleAdmin {
		t.Fatalf("new session: role %q", r)
	}
	// The listening connection is cut: the cache stops answering, then
	// listens again, and still sees changes.
	var cut int
	if err := other.Get(&cut, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pg_terminate_backend(pid)`); err != nil || cut != 1 {
		t.Fatalf("cut %d listening connections (%v), want 1", cut, err)
	}
	eventually("the cache stops answering", func() bool { return !db.CachingStaffSessions() })
	eventually("the cache listens again", db.CachingStaffSessions)
	if r := role(); r != dsar.RoleAdmin {
		t.Fatalf("after reconnecting: role %q", r)
	}
	disabled := true
	if _, err := other.UpdateUser(ctx, u.ID, store.UserPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	eventually("the disabled user's session is refused", func() bool { return role() == "" })

	// This process's own changes are seen at once.
	enabled := false
	if _, err := db.UpdateUser(ctx, u.ID, store.UserPatch{Disabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != dsar.RoleAdmin {
		t.Fatalf("enabled again: role %q", r)
	}
	if err := db.RevokeSession(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != "" {
		t.Fatalf("revoked here, still answered: role %q", r)
	}
}

// openMigrated opens the database at url, migrated, for the test: a handle
// like testenv.DB's, for tests that also need the database's URL.
func openMigrated(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	db.KeyAudit(testenv.AuditKeys(t))
	return db
}
