package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// TestEmailCorrectionBelongsToItsAction: two corrections staged one after
// the other; the first action's apply is refused (false) and changes
// nothing, the second's puts its address in place, and a retry of it is
// still true. Scrubbing erases what was staged.
func TestEmailCorrectionBelongsToItsAction(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), nil, "")
	id := insertRequest(t, db, keys, store.PII{FirstName: "Ada", Email: "ada@exmaple.org"}, nil)
	if _, err := db.Exec(`INSERT INTO intake_holds (request_id, email_key, network_key, bytes) VALUES ($1, $2, $3, 0)`,
		id, keys.BlindIndex("ada@exmaple.org"), []byte("net")); err != nil {
		t.Fatal(err)
	}

	if err := db.StageEmailCorrection(ctx, keys, id, "ada@example.org", "first"); err != nil {
		t.Fatal(err)
	}
	if err := db.StageEmailCorrection(ctx, keys, id, "ada@example.com", "second"); err != nil {
		t.Fatal(err)
	}
	email := func() string {
		p, err := db.RequestPII(ctx, keys, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Email
	}
	if ok, err := db.ApplyEmailCorrection(ctx, id, "first"); err != nil || ok {
		t.Fatalf("the replaced correction applied: %v %v", ok, err)
	}
	if got := email(); got != "ada@exmaple.org" {
		t.Fatalf("after the refused apply the address is %q", got)
	}
	for range 2 {
		if ok, err := db.ApplyEmailCorrection(ctx, id, "second"); err != nil || !ok {
			t.Fatalf("the staged correction: %v %v", ok, err)
		}
	}
	if got := email(); got != "ada@example.com" {
		t.Fatalf("the address is %q, want the second correction", got)
	}
	var hash []byte
	if err := db.Get(&hash, `SELECT email_hash FROM requests WHERE id = $1`, id); err != nil || !bytes.Equal(hash, keys.BlindIndex("ada@example.com")) {
		t.Fatalf("the blind index does not follow the address (%v)", err)
	}
	var held []byte
	if err := db.Get(&held, `SELECT email_key FROM intake_holds WHERE request_id = $1`, id); err != nil || !bytes.Equal(held, keys.BlindIndex("ada@example.com")) {
		t.Fatalf("the intake hold stays on the mistyped address (%v): it would keep a slot of its cap", err)
	}
	if err := db.StageEmailCorrection(ctx, keys, id, "ada@example.net", "third"); err != nil {
		t.Fatal(err)
	}
	if err := db.ScrubRequest(ctx, id); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.Get(&left, `SELECT count(*) FROM requests WHERE id = $1 AND (corrected_pii IS NOT NULL OR corrected_email_hash IS NOT NULL)`, id); err != nil || left != 0 {
		t.Fatalf("a staged address outlives the erasure (%d, %v)", left, err)
	}
}
