package mail_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/mail/resendtest"
)

const testKey = "re_test_key"

func message(key string) mail.Message {
	return mail.Message{To: "ada@example.org", Subject: "Confirm your email", HTML: "<p>Hello</p>", Text: "Hello", IdempotencyKey: key}
}

func newResend(t *testing.T, srv *resendtest.Server, apiKey string) *mail.Resend {
	t.Helper()
	r, err := mail.NewResend(apiKey, srv.URL, "Privacy Team <privacy@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResendDeliversOncePerIdempotencyKey(t *testing.T) {
	srv := resendtest.New(t, testKey)
	r := newResend(t, srv, testKey)
	ctx := context.Background()
	for range 3 {
		if err := r.Send(ctx, message("verify-1")); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	if err := r.Send(ctx, message("verify-2")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := srv.Requests("verify-1"); got != 3 {
		t.Errorf("requests with key verify-1 = %d, want 3", got)
	}
	emails := srv.Emails()
	if len(emails) != 2 {
		t.Fatalf("delivered %d emails, want 2 (one per key)", len(emails))
	}
	e := emails[0]
	if e.IdempotencyKey != "verify-1" || e.From != "Privacy Team <privacy@example.com>" || len(e.To) != 1 ||
		e.To[0] != "ada@example.org" || e.Subject != "Confirm your email" || e.HTML != "<p>Hello</p>" || e.Text != "Hello" {
		t.Errorf("delivered %+v", e)
	}
}

func TestResendClassifiesFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		permanent bool
	}{
		{"rate limited", http.StatusTooManyRequests, false},
		{"server error", http.StatusInternalServerError, false},
		{"unavailable", http.StatusServiceUnavailable, false},
		{"invalid message", http.StatusUnprocessableEntity, true},
		{"bad request", http.StatusBadRequest, true},
		{"forbidden", http.StatusForbidden, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := resendtest.New(t, testKey)
			r := newResend(t, srv, testKey)
			srv.FailNext(tc.status)
			err := r.Send(context.Background(), message("k"))
			if err == nil {
				t.Fatalf("send succeeded, want the injected %d", tc.status)
			}
			if got := mail.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tc.permanent)
			}
			if srv.Deliveries("k") != 0 {
				t.Error("a failed send delivered mail")
			}
			// A retry after a retryable failure delivers exactly once.
			if !tc.permanent {
				if err := r.Send(context.Background(), message("k")); err != nil {
					t.Fatalf("retry: %v", err)
				}
				if srv.Deliveries("k") != 1 {
					t.Errorf("deliveries after retry = %d, want 1", srv.Deliveries("k"))
				}
			}
		})
	}
}

func TestResendRefusedKeyIsPermanent(t *testing.T) {
	srv := resendtest.New(t, testKey)
	r := newResend(t, srv, "re_wrong_key")
	err := r.Send(context.Background(), message("k"))
	if err == nil || !mail.IsPermanent(err) {
		t.Fatalf("send with a wrong API key: %v, want a permanent error", err)
	}
	if len(srv.Emails()) != 0 {
		t.Error("mail delivered with a wrong key")
	}
}

func TestResendUnreachableIsRetryable(t *testing.T) {
	srv := resendtest.New(t, testKey)
	r := newResend(t, srv, testKey)
	srv.Close()
	err := r.Send(context.Background(), message("k"))
	if err == nil || mail.IsPermanent(err) {
		t.Fatalf("send to a closed server: %v, want a retryable error", err)
	}
}

func TestResendRefusesIncompleteMessage(t *testing.T) {
	srv := resendtest.New(t, testKey)
	r := newResend(t, srv, testKey)
	m := message("")
	if err := r.Send(context.Background(), m); err == nil || !mail.IsPermanent(err) {
		t.Fatalf("send without an idempotency key: %v, want a permanent error", err)
	}
	if got := len(srv.Emails()); got != 0 {
		t.Errorf("delivered %d emails", got)
	}
}

func TestResendKeyReusedWithAnotherPayloadIsPermanent(t *testing.T) {
	srv := resendtest.New(t, "re_test")
	m, err := mail.NewResend("re_test", srv.URL, "Privacy <privacy@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	msg := mail.Message{To: "a@example.com", Subject: "One", HTML: "<p>one</p>", Text: "one", IdempotencyKey: "same-key"}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	msg.Subject = "Two"
	err = m.Send(context.Background(), msg)
	if err == nil || !mail.IsPermanent(err) {
		t.Fatalf("same key, other payload: want a permanent error, got %v", err)
	}
}
