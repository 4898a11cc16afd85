package mail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/resend/resend-go/v2"
)

// Resend sends mail through Resend's API with the official client.
type Resend struct {
	client *resend.Client
	from   string
}

// NewResend returns a Resend mailer. baseURL lets tests (and EU or proxy
// deployments) point the client at another server that speaks Resend's API.
func NewResend(apiKey, baseURL, from string) (*Resend, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("mail: resend base url: %w", err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: statusRecorder{http.DefaultTransport}}
	c := resend.NewCustomClient(hc, apiKey)
	c.BaseURL = u
	return &Resend{client: c, from: from}, nil
}

// Send posts the message with its idempotency key. 429 and 5xx answers and
// network errors are retryable; other 4xx answers are permanent.
func (r *Resend) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return permanent(err)
	}
	status := new(int)
	ctx = context.WithValue(ctx, statusKey{}, status)
	_, err := r.client.Emails.SendWithOptions(ctx, &resend.SendEmailRequest{
		From:    r.from,
		To:      []string{m.To},
		Subject: m.Subject,
		Html:    m.HTML,
		Text:    m.Text,
	}, &resend.SendEmailOptions{IdempotencyKey: m.IdempotencyKey})
	if err == nil {
		return nil
	}
	// The client turns every answer into a plain error and drops the status
	// code; statusRecorder kept it for us.
	switch {
	case errors.Is(err, resend.ErrRateLimit), *status == http.StatusTooManyRequests, *status >= 500, *status == 0:
		return fmt.Errorf("mail: resend (status %d, retryable): %w", *status, err)
	case *status == http.StatusConflict && concurrentRetry(err):
		// The same idempotency key is still being processed: try again. A
		// 409 for a key reused with another payload never succeeds and
		// falls through to permanent.
		return fmt.Errorf("mail: resend (status %d, retryable): %w", *status, err)
	default:
		return permanent(fmt.Errorf("resend (status %d): %w", *status, err))
	}
}

type statusKey struct{}

// statusRecorder remembers the HTTP status of a response in the *int the
// request's context carries under statusKey.
type statusRecorder struct{ next http.RoundTripper }

func (s statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if p, ok := req.Context().Value(statusKey{}).(*int); ok && resp != nil {
		*p = resp.StatusCode
	}
	return resp, err
}

// concurrentRetry reports whether a 409 from Resend says the first request
// with the same idempotency key is still in progress (worth retrying), as
// opposed to the key having been used with a different payload.
func concurrentRetry(err error) bool {
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "in progress") || strings.Contains(m, "concurrent")
}
