package store

// LegacyAuditHash is how a row was hashed before the chain was keyed, for
// tests that make such rows (or forge them).
func LegacyAuditHash(ev AuditEvent) []byte { return ev.legacyHash() }
