package store

import (
	"testing"
	"time"
)

func TestSessionCacheKeepsOnlyWhatIsStillTrue(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := Session{Kind: SessionStaff, SubjectID: "u", LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	u := User{ID: "u", Role: "manager"}
	c := &sessionCache{ttl: 10 * time.Second, entries: map[string]cachedSession{}}

	// Not listening: nothing is kept.
	c.put("h", c.generation(), s, u, now)
	if _, _, ok := c.get("h", time.Hour, now); ok {
		t.Fatal("a session was kept while the cache was not listening")
	}

	c.listening()
	c.put("h", c.generation(), s, u, now)
	if got, gu, ok := c.get("h", time.Hour, now.Add(time.Second)); !ok || got.SubjectID != "u" || gu.Role != "manager" {
		t.Fatalf("kept session = %+v, %+v, %v", got, gu, ok)
	}
	if _, _, ok := c.get("h", time.Hour, now.Add(10*time.Second)); ok {
		t.Error("a session was answered from memory past the ttl")
	}

	// What was read before a change must not be kept after it.
	gen := c.generation()
	c.forget() // a notification arrives while the read is under way
	c.put("h", gen, s, u, now)
	if _, _, ok := c.get("h", time.Hour, now); ok {
		t.Error("a session read before a change was kept after it")
	}

	// The last use is due to be written: go to Postgres.
	c.put("h", c.generation(), s, u, now)
	if _, _, ok := c.get("h", time.Hour, now.Add(sessionTouchEvery)); ok {
		t.Error("a session whose last use is due was answered from memory")
	}
	// Idle shorter than the touch interval, and the absolute expiry.
	c.put("h", c.generation(), s, u, now)
	if _, _, ok := c.get("h", 2*time.Second, now.Add(3*time.Second)); ok {
		t.Error("an idle-expired session was answered from memory")
	}
	short := s
	short.ExpiresAt = now.Add(time.Second)
	c.put("h", c.generation(), short, u, now)
	if _, _, ok := c.get("h", time.Hour, now.Add(time.Second)); ok {
		t.Error("an expired session was answered from memory")
	}

	// Losing the connection forgets all and keeps nothing new.
	c.put("h", c.generation(), s, u, now)
	c.lost()
	c.put("h", c.generation(), s, u, now)
	if _, _, ok := c.get("h", time.Hour, now); ok {
		t.Error("a session was answered from memory while not listening")
	}
}
