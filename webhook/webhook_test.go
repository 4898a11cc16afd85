package webhook_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/webhook"
)

// TestStandardWebhooksVector: the reference test vector of the Standard
// Webhooks specification's libraries signs to the same value here, so any
// of its libraries can verify the service's jobs and sign callbacks.
func TestStandardWebhooksVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	at := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	got, err := webhook.Sign(secret, id, at, body)
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, "1614265330")
	h.Set(webhook.HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x "+want)
	if gotID, err := webhook.Verify(secret, h, body, at.Add(4*time.Minute)); err != nil || gotID != id {
		t.Fatalf("Verify of the vector (one of three signatures) = %q, %v", gotID, err)
	}
}

// TestDocumentedExample: the worked example of docs/webhooks.md holds: its
// secret is its key's base64, its signed content is id.timestamp.body and
// its signature is what Sign makes of it.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "<!-- worked-example")
	block, _, ok2 := strings.Cut(block, "<!-- /worked-example -->")
	if !ok || !ok2 {
		t.Fatal("docs/webhooks.md has no worked example between its markers")
	}
	v := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, "<!--") {
			v[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
	}
	for _, k := range []string{"secret", "key (text)", "webhook-id", "webhook-timestamp", "body", "signed content", "webhook-signature"} {
		if v[k] == "" {
			t.Fatalf("the worked example has no %q line: %v", k, v)
		}
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v["secret"], webhook.SecretPrefix))
	if err != nil || string(key) != v["key (text)"] {
		t.Errorf("the secret's key is %q (%v), the example says %q", key, err, v["key (text)"])
	}
	if want := v["webhook-id"] + "." + v["webhook-timestamp"] + "." + v["body"]; v["signed content"] != want {
		t.Errorf("signed content %q, want %q", v["signed content"], want)
	}
	sec, err := strconv.ParseInt(v["webhook-timestamp"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := webhook.Sign(v["secret"], v["webhook-id"], time.Unix(sec, 0), []byte(v["body"]))
	if err != nil || sig != v["webhook-signature"] {
		t.Errorf("the example's signature is %q, Sign makes %q (%v)", v["webhook-signature"], sig, err)
	}
}

// TestVerifyRefuses: a message without headers, with another secret's
// signature, a changed body or a timestamp more than 5 minutes away (either
// way) is refused, each with its own error; a stale one only once its
// signature matches.
func TestVerifyRefuses(t *testing.T) {
	secret, other := webhook.NewSecret(), webhook.NewSecret()
	now := time.Unix(1800000000, 0)
	body := []byte(`{"status":"done","outcome":"no_data","record_count":0}`)
	signed := func(secret string, at time.Time, body []byte) http.Header {
		h := http.Header{}
		if err := webhook.SetHeaders(h, secret, "msg_1", at, body); err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, c := range []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", signed(secret, now, body), body, nil},
		{"4m59s old", signed(secret, now.Add(-299*time.Second), body), body, nil},
		{"no headers", http.Header{}, body, webhook.ErrUnsigned},
		{"another secret", signed(other, now, body), body, webhook.ErrSignature},
		{"changed body", signed(secret, now, body), []byte(`{"status":"done","outcome":"no_data","record_count":1}`), webhook.ErrSignature},
		{"6 minutes old", signed(secret, now.Add(-6*time.Minute), body), body, webhook.ErrStale},
		{"6 minutes ahead", signed(secret, now.Add(6*time.Minute), body), body, webhook.ErrStale},
		{"stale and forged", signed(other, now.Add(-time.Hour), body), body, webhook.ErrSignature},
	} {
		if _, err := webhook.Verify(secret, c.h, c.body, now); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestNewSecret: whsec_ and the base64 of 32 bytes, different each time.
func TestNewSecret(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if !strings.HasPrefix(a, "whsec_") || err != nil || len(key) != 32 || a == b || !webhook.ValidSecret(a) {
		t.Fatalf("NewSecret = %q, %q (key %d bytes, %v)", a, b, len(key), err)
	}
}
