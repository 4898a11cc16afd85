package store

import "time"

// LegacyAuditHash is how a row was hashed before the chain was keyed, for
// tests that make such rows (or forge them).
func LegacyAuditHash(ev AuditEvent) []byte { return ev.legacyHash() }

// SetLoginClock sets the clock failed-login windows follow.
func (db *DB) SetLoginClock(now func() time.Time) { db.loginNow = now }
