// Package mail sends the service's email. One Mailer interface has two
// implementations: Resend (resend-go/v2) for real delivery and an outbox
// that keeps mail in Postgres for development. Every message carries an
// idempotency key, so a retried send never delivers twice.
package mail

import (
	"context"
	"errors"
	"fmt"
)

// Message is one email, already rendered.
type Message struct {
	To             string
	Subject        string
	HTML           string
	Text           string
	IdempotencyKey string
}

// Validate checks that m can be sent.
func (m Message) Validate() error {
	switch {
	case m.To == "":
		return errors.New("mail: no recipient")
	case m.Subject == "":
		return errors.New("mail: no subject")
	case m.HTML == "" || m.Text == "":
		return errors.New("mail: both an HTML and a text part are needed")
	case m.IdempotencyKey == "":
		return errors.New("mail: no idempotency key")
	}
	return nil
}

// Mailer sends email. Send returns nil once the provider has accepted the
// message; sending the same IdempotencyKey again delivers nothing new. An
// error wrapping ErrPermanent will fail again if retried; any other error
// may succeed on retry.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrPermanent marks errors that retrying cannot fix (a bad address, a
// refused key, a malformed message).
var ErrPermanent = errors.New("mail: permanent failure")

// permanent wraps err so errors.Is(err, ErrPermanent) holds.
func permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// IsPermanent reports whether err is a failure that retrying cannot fix.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
