package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
)

// TestKeysRotate: after a master key rotation, `dsar keys rotate` wraps
// every data key (a request's, its message key, its access package's)
// under the new key, so a keyring without the old key reads everything; a
// second run has nothing to do.
func TestKeysRotate(t *testing.T) {
	ctx := context.Background()
	old := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	next := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	dbURL := testenv.DatabaseURL(t)
	t.Setenv("DSAR_MODE", "dev")
	t.Setenv("DSAR_CONFIG", "")
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("DSAR_CRYPTO_MASTER_KEY", old)
	t.Setenv("DSAR_CRYPTO_MASTER_KEY_ID", "k1")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"migrate"}, nil, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v (%s)", err, errOut.String())
	}

	// A request, its message key and its access package, all under k1.
	k1, err := crypto.NewKeyring("k1", old, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := uuid.NewString()
	pii := store.PII{FirstName: "Rita", Email: "rita@example.net", Description: "all my data"}
	sealed, err := store.NewSealedRequest(k1, id, pii, nil)
	if err != nil {
		t.Fatal(err)
	}
	staff, err := db.CreateUser(ctx, store.User{Email: "tom@example.com", Name: "Tom", Role: dsar.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	totpSecret, err := crypto.Seal(k1.Derive(store.TOTPKeyLabel), []byte("JBSWY3DPEHPK3PXP"), store.TOTPAAD(staff.ID))
	if err != nil {
		t.Fatal(err)
	}
	messageKey, packageKey := crypto.NewDataKey(), crypto.NewDataKey()
	wrappedMessage, _, _ := k1.Wrap(messageKey)
	wrappedPackage, _, _ := k1.Wrap(packageKey)
	now := time.Now()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at, deadline,
			original_deadline, deadline_rule, deadline_rule_name, email_hash, pii)
			VALUES ($1, true, 'in_progress', 'info', 'customer', 'FR', $2, $3, $3, 'gdpr', 'GDPR', $4, $5)`,
			[]any{id, now, now.Add(time.Hour), sealed.EmailHash, sealed.PII}},
		{`INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)`, []any{id, sealed.KeyID, sealed.WrappedKey}},
		{`INSERT INTO message_keys (request_id, key_id, wrapped_key) VALUES ($1, 'k1', $2)`, []any{id, wrappedMessage}},
		{`INSERT INTO packages (id, request_id, status, key_id, wrapped_key) VALUES ($1, $2, 'ready', 'k1', $3)`,
			[]any{uuid.NewString(), id, wrappedPackage}},
		{`INSERT INTO staff_totp (user_id, secret_sealed, key_id, confirmed_at) VALUES ($1, $2, 'k1', now())`, []any{staff.ID, totpSecret}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}

	// A webhook source's secret and a webhook job's task token, under k1.
	ds, err := db.CreateDataSource(ctx, "Shop", "", []string{staff.ID})
	if err != nil {
		t.Fatal(err)
	}
	hook := "https://shop.example.com/dsar"
	if _, err := db.UpdateDataSource(ctx, ds.ID, store.DataSourcePatch{WebhookURL: &hook}); err != nil {
		t.Fatal(err)
	}
	webhookSecret, err := db.EnsureWebhookSecret(ctx, k1, ds.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutWebhookJob(ctx, k1, store.NewWebhookJob{ID: "job_1", Token: crypto.NewToken(), RequestID: id, DataSourceID: ds.ID,
		RequestType: dsar.RequestInfo, TaskToken: []byte("task token"), Attempt: 1, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// The rotation: k2 is the master key, k1 a previous one (and the
	// blind index's).
	t.Setenv("DSAR_CRYPTO_MASTER_KEY", next)
	t.Setenv("DSAR_CRYPTO_MASTER_KEY_ID", "k2")
	t.Setenv("DSAR_CRYPTO_PREVIOUS_KEYS", "k1:"+old)
	t.Setenv("DSAR_CRYPTO_INDEX_KEY_ID", "k1")
	out.Reset()
	if err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errOut); err != nil {
		t.Fatalf("keys rotate: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "wrapped 6 data keys again under master key k2") || !strings.Contains(out.String(), "1 TOTP secrets") ||
		!strings.Contains(out.String(), "2 webhook secrets and job tokens") ||
		!strings.Contains(out.String(), "keep k1") {
		t.Errorf("keys rotate said %q", out.String())
	}

	// Without k1, everything still opens.
	k2, err := crypto.NewKeyring("k2", next, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.RequestPII(ctx, k2, id)
	if err != nil || got.Email != pii.Email || got.Description != pii.Description {
		t.Errorf("the request's PII with k2 alone: %+v, %v", got, err)
	}
	for table, want := range map[string][]byte{"message_keys": messageKey, "packages": packageKey} {
		var row struct {
			KeyID      string `db:"key_id"`
			WrappedKey []byte `db:"wrapped_key"`
		}
		if err := db.Get(&row, `SELECT key_id, wrapped_key FROM `+table+` WHERE request_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		dk, err := k2.Unwrap(row.WrappedKey, row.KeyID)
		if err != nil || !bytes.Equal(dk, want) {
			t.Errorf("%s: key %s, unwrapped with k2: %v", table, row.KeyID, err)
		}
	}

	var totp struct {
		KeyID  string `db:"key_id"`
		Sealed []byte `db:"secret_sealed"`
	}
	if err := db.Get(&totp, `SELECT key_id, secret_sealed FROM staff_totp WHERE user_id = $1`, staff.ID); err != nil {
		t.Fatal(err)
	}
	if secret, err := crypto.Open(k2.Derive(store.TOTPKeyLabel), totp.Sealed, store.TOTPAAD(staff.ID)); err != nil ||
		totp.KeyID != "k2" || string(secret) != "JBSWY3DPEHPK3PXP" {
		t.Errorf("the TOTP secret after the rotation: key %s, %v", totp.KeyID, err)
	}

	if src, err := db.WebhookSource(ctx, k2, ds.ID); err != nil || src.Secret != webhookSecret {
		t.Errorf("the webhook secret with k2 alone: %v", err)
	}
	job, err := db.WebhookJobByID(ctx, "job_1")
	if err != nil {
		t.Fatal(err)
	}
	if tt, err := db.WebhookTaskToken(k2, job); err != nil || string(tt) != "task token" {
		t.Errorf("the webhook job's task token with k2 alone: %q, %v", tt, err)
	}

	out.Reset()
	if err := run(ctx, []string{"keys", "rotate"}, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), "wrapped 0 data keys") {
		t.Errorf("a second run: %v, said %q", err, out.String())
	}
}
