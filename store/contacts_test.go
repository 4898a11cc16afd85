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

// TestContactOutlivesTheScrubThenIsShredded: a request closed with an
// appeal right loses its PII at close but for the requester's name and
// email, sealed under a key of their own; shredding them leaves nothing
// of the requester readable, not even with the ciphertext kept aside.
func TestContactOutlivesTheScrubThenIsShredded(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)), nil, "")
	pii := store.PII{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Description: "everything you hold"}
	id := insertRequest(t, db, keys, pii, []byte("PNG bytes of a passport"))
	until := time.Now().UTC().AddDate(0, 0, 60).Truncate(time.Second)

	if err := db.ScrubRequestKeepingContact(ctx, keys, id, until); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RequestPII(ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("PII after the scrub: want EGONE, got %v", err)
	}
	if _, err := db.RequestIdentityDocument(ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("document after the scrub: want EGONE, got %v", err)
	}
	c, err := db.RequestContact(ctx, keys, id)
	if err != nil || c != (store.Contact{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"}) {
		t.Fatalf("contact kept: %+v, %v", c, err)
	}
	var row struct {
		Sealed    []byte    `db:"sealed"`
		KeepUntil time.Time `db:"keep_until"`
	}
	if err := db.Get(&row, `SELECT sealed, keep_until FROM request_contacts WHERE request_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Ada", "Lovelace", "ada@example.com", "everything you hold"} {
		if bytes.Contains(row.Sealed, []byte(s)) {
			t.Errorf("%q stored in the clear", s)
		}
	}
	if !row.KeepUntil.Equal(until) {
		t.Errorf("kept until %s, want %s", row.KeepUntil, until)
	}
	// The erasure retried keeps the same contact.
	if err := db.ScrubRequestKeepingContact(ctx, keys, id, until); err != nil {
		t.Fatal(err)
	}
	if again, err := db.RequestContact(ctx, keys, id); err != nil || again != c {
		t.Fatalf("contact after a second scrub: %+v, %v", again, err)
	}

	if shredded, err := db.ShredContact(ctx, id); err != nil || !shredded {
		t.Fatalf("shred: %v, %v", shredded, err)
	}
	if _, err := db.RequestContact(ctx, keys, id); dsar.ErrorCode(err) != dsar.EGONE {
		t.Errorf("contact after shredding: want EGONE, got %v", err)
	}
	var left int
	if err := db.Get(&left, `SELECT (SELECT count(*) FROM request_contacts WHERE request_id = $1)
		+ (SELECT count(*) FROM request_keys WHERE request_id = $1)
		+ (SELECT count(*) FROM identity_documents WHERE request_id = $1)
		+ (SELECT count(*) FROM requests WHERE id = $1 AND pii IS NOT NULL)`, id); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d sealed rows or keys of the requester left after shredding", left)
	}
	// No key the database still holds opens the ciphertext kept aside.
	var wrapped []struct {
		KeyID      string `db:"key_id"`
		WrappedKey []byte `db:"wrapped_key"`
	}
	if err := db.Select(&wrapped, `SELECT key_id, wrapped_key FROM request_keys UNION ALL SELECT key_id, wrapped_key FROM request_contacts`); err != nil {
		t.Fatal(err)
	}
	for _, w := range wrapped {
		if k, err := keys.Unwrap(w.WrappedKey, w.KeyID); err == nil {
			if _, err := crypto.Open(k, row.Sealed, []byte("dsar contact "+id)); err == nil {
				t.Fatal("a key left in the database opens the shredded contact")
			}
		}
	}
	if shredded, err := db.ShredContact(ctx, id); err != nil || shredded {
		t.Errorf("shredding twice: %v, %v", shredded, err)
	}
}

// TestContactKeysAreRewrapped: rotating the master key wraps the contact
// keys again too, so the old master key can be retired while a requester
// may still appeal.
func TestContactKeysAreRewrapped(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	oldKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{6}, 32))
	keys, _ := crypto.NewKeyring("k1", oldKey, nil, "")
	id := insertRequest(t, db, keys, store.PII{FirstName: "Alan", LastName: "Turing", Email: "alan@example.com"}, nil)
	if err := db.ScrubRequestKeepingContact(ctx, keys, id, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	next, err := crypto.NewKeyring("k2", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), []string{"k1:" + oldKey}, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.RewrapDataKeys(ctx, next)
	if err != nil || n.ContactKeys != 1 {
		t.Fatalf("rewrapped %+v, %v", n, err)
	}
	only, _ := crypto.NewKeyring("k2", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), nil, "")
	if c, err := db.RequestContact(ctx, only, id); err != nil || c.Email != "alan@example.com" {
		t.Fatalf("contact under the new master key alone: %+v, %v", c, err)
	}
}
