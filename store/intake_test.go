package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

func newRequest(t *testing.T, keys *crypto.Keyring, sig string) store.NewRequest {
	t.Helper()
	id := uuid.NewString()
	sealed, err := store.NewSealedRequest(keys, id, store.PII{FirstName: "Ada", Email: "ada@example.org"}, []byte("%PDF-1.4"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	r := store.NewRequest{
		ID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer, Country: "DE",
		SubmittedAt: now, Deadline: now.AddDate(0, 1, 0), DeadlineRule: "gdpr", DeadlineRuleName: "GDPR",
		MaxExtension: dsar.Period{Months: 2}, Sealed: sealed, DocumentType: "application/pdf", DocumentSize: 8,
	}
	if sig != "" {
		r.Captcha = &store.CaptchaRedemption{Signature: sig, ExpiresAt: now.Add(time.Minute)}
	}
	return r
}

func count(t *testing.T, db *store.DB, q string) int {
	t.Helper()
	var n int
	if err := db.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateAcceptDiscard(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)), nil, "")

	kept, gone := newRequest(t, keys, "sig-1"), newRequest(t, keys, "sig-2")
	for _, r := range []store.NewRequest{kept, gone} {
		if err := db.CreateRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM requests WHERE accepted`); n != 0 {
		t.Fatalf("%d requests accepted before their workflows started", n)
	}
	ids, err := db.UnacceptedRequests(ctx, time.Now().Add(time.Minute), 10)
	if err != nil || len(ids) != 2 {
		t.Fatalf("unaccepted: %v %v", ids, err)
	}
	if err := db.AcceptRequest(ctx, kept.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.AcceptRequest(ctx, uuid.NewString()); dsar.ErrorCode(err) != dsar.ENOTFOUND {
		t.Errorf("accepting an unknown request: %v", err)
	}
	for _, id := range []string{kept.ID, gone.ID, gone.ID} {
		if err := db.DiscardRequest(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM requests`); n != 1 {
		t.Errorf("%d requests after discarding, want the accepted one only", n)
	}
	if n := count(t, db, `SELECT count(*) FROM request_keys`) + count(t, db, `SELECT count(*) FROM identity_documents`); n != 2 {
		t.Errorf("%d key and document rows, want 2 (the accepted request's)", n)
	}
	if doc, err := db.RequestIdentityDocument(ctx, keys, kept.ID); err != nil || string(doc.Data) != "%PDF-1.4" {
		t.Errorf("document of the kept request: %v %q", err, doc.Data)
	}
}

func TestCaptchaRedeemedOnce(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)), nil, "")
	if err := db.CreateRequest(ctx, newRequest(t, keys, "sig-x")); err != nil {
		t.Fatal(err)
	}
	err := db.CreateRequest(ctx, newRequest(t, keys, "sig-x"))
	var de *dsar.Error
	if dsar.ErrorCode(err) != dsar.EINVALID || !errors.As(err, &de) || de.Fields["captcha"] == "" {
		t.Fatalf("second redemption: %v, want EINVALID naming captcha", err)
	}
	if n := count(t, db, `SELECT count(*) FROM requests`); n != 1 {
		t.Errorf("%d requests, want 1: the refused one must leave nothing", n)
	}
	if err := db.ReleaseCaptcha(ctx, "sig-x"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRequest(ctx, newRequest(t, keys, "sig-x")); err != nil {
		t.Errorf("a released captcha: %v", err)
	}
}

func TestRequestWithoutCaptchaOrDocument(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)), nil, "")
	r := newRequest(t, keys, "")
	r.Sealed.Document, r.DocumentType, r.DocumentSize = nil, "", 0
	if err := db.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM requests`) + count(t, db, `SELECT count(*) FROM request_keys`); n != 2 {
		t.Errorf("%d request and key rows, want 2", n)
	}
	if n := count(t, db, `SELECT count(*) FROM identity_documents`) + count(t, db, `SELECT count(*) FROM captcha_redemptions`); n != 0 {
		t.Errorf("%d document and captcha rows, want none", n)
	}
	// The same id again is a conflict, and leaves nothing more behind.
	again := newRequest(t, keys, "sig-again")
	again.ID = r.ID
	if err := db.CreateRequest(ctx, again); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("the same id again: %v, want ECONFLICT", err)
	}
	if n := count(t, db, `SELECT count(*) FROM captcha_redemptions`); n != 0 {
		t.Errorf("%d captcha redemptions after the refused request, want none", n)
	}
}

func TestSweepCaptchasForgetsOnlyExpiredOnes(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	if _, err := db.Exec(`INSERT INTO captcha_redemptions (signature, expires_at)
		VALUES ('old', now() - interval '1 second'), ('live', now() + interval '1 minute')`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.SweepCaptchas(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("swept %d (%v), want 1", n, err)
	}
	var left []string
	if err := db.Select(&left, `SELECT signature FROM captcha_redemptions`); err != nil || len(left) != 1 || left[0] != "live" {
		t.Errorf("left %v (%v), want [live]", left, err)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	const scope = "test"
	prev, err := db.BeginIdempotent(ctx, scope, "k", "hash-a")
	if err != nil || prev != nil {
		t.Fatalf("first claim: %v %v", prev, err)
	}
	if _, err := db.BeginIdempotent(ctx, scope, "k", "hash-a"); dsar.ErrorCode(err) != dsar.ECONFLICT {
		t.Errorf("while in progress: %v, want ECONFLICT", err)
	}
	if _, err := db.BeginIdempotent(ctx, scope, "k", "hash-b"); dsar.ErrorCode(err) != dsar.EINVALID {
		t.Errorf("another body: %v, want EINVALID", err)
	}
	if err := db.FinishIdempotent(ctx, scope, "k", store.Idempotent{Status: 202, Body: []byte(`{"id":"1"}`)}); err != nil {
		t.Fatal(err)
	}
	prev, err = db.BeginIdempotent(ctx, scope, "k", "hash-a")
	if err != nil || prev == nil || prev.Status != 202 || string(prev.Body) != `{"id":"1"}` {
		t.Errorf("replay: %+v %v", prev, err)
	}
	// Released keys can be claimed again; answered ones are kept.
	if err := db.ReleaseIdempotent(ctx, scope, "k"); err != nil {
		t.Fatal(err)
	}
	if prev, _ := db.BeginIdempotent(ctx, scope, "k", "hash-a"); prev == nil {
		t.Error("releasing forgot an answered key")
	}
	if _, err := db.BeginIdempotent(ctx, scope, "k2", "h"); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseIdempotent(ctx, scope, "k2"); err != nil {
		t.Fatal(err)
	}
	if prev, err := db.BeginIdempotent(ctx, scope, "k2", "other"); err != nil || prev != nil {
		t.Errorf("claim after release: %v %v", prev, err)
	}
	if _, err := db.BeginIdempotent(ctx, "other scope", "k", "hash-z"); err != nil {
		t.Errorf("the same key in another scope: %v", err)
	}
}

// TestAcceptedOptOutHoldsCountUntilConfirmed: an opt-out accepted at
// submission (identity not required, past the email's step) counts toward
// its email's and network's caps while its address is unconfirmed, it is
// open and it was submitted within the window, as a request waiting for its
// email does; confirmed, closed, older or of another track, it counts no
// more, and the sweep forgets its hold.
func TestAcceptedOptOutHoldsCountUntilConfirmed(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	keys, _ := crypto.NewKeyring("k1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)), nil, "")
	const window = 7 * 24 * time.Hour
	limits := store.IntakeLimits{PerEmail: 2, PerNetwork: 100, Budget: 1 << 30, Window: window}
	network := keys.BlindIndex("intake network 192.0.2.0/24")
	first, second := newRequest(t, keys, ""), newRequest(t, keys, "")
	for _, r := range []store.NewRequest{first, second} {
		r.Hold = &store.IntakeHold{NetworkKey: network, Limits: limits}
		if err := db.CreateRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	email := first.Sealed.EmailHash
	if err := db.IntakeHoldRefusal(ctx, email, network, limits); dsar.ErrorCode(err) != dsar.ERATELIMITED {
		t.Fatalf("a third unconfirmed request for the email: %v, want ERATELIMITED", err)
	}
	// Both accepted at submission, their address unconfirmed.
	if _, err := db.Exec(`UPDATE requests SET status = 'identity_verified', identity_not_required = true`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, set string
		counts    bool
	}{
		{"accepted, unconfirmed", "email_verified_at = NULL", true},
		{"accepted, in progress", "status = 'in_progress'", true},
		{"accepted, confirmed", "email_verified_at = now()", false},
		{"accepted, closed", "status = 'completed'", false},
		{"accepted, submitted before the window", "submitted_at = now() - interval '8 days'", false},
		{"accepted, submitted within the window", "submitted_at = now() - interval '6 days'", true},
		{"on the usual track, past the email's step", "identity_not_required = false", false},
	} {
		const reset = `UPDATE requests SET status = 'identity_verified', identity_not_required = true, email_verified_at = NULL,
			submitted_at = now() WHERE id = $1`
		if _, err := db.Exec(reset, second.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE requests SET `+c.set+` WHERE id = $1`, second.ID); err != nil {
			t.Fatal(err)
		}
		err := db.IntakeHoldRefusal(ctx, email, network, limits)
		if refused := dsar.ErrorCode(err) == dsar.ERATELIMITED; refused != c.counts {
			t.Errorf("%s: a third request for the email: %v; want refused %v", c.what, err, c.counts)
		}
	}
	// Once its window has passed it counts no more: the sweep forgets its
	// hold and keeps the other's.
	if _, err := db.Exec(`UPDATE requests SET submitted_at = now() - interval '8 days' WHERE id = $1`, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SweepCaptchas(ctx, window); err != nil {
		t.Fatal(err)
	}
	var held []string
	if err := db.Select(&held, `SELECT request_id::text FROM intake_holds`); err != nil || len(held) != 1 || held[0] != first.ID {
		t.Errorf("holds after the sweep: %v (%v), want only the one still counting", held, err)
	}
}
