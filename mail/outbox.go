package mail

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/opendsar/dsar/store"
)

// Outbox keeps mail in Postgres instead of sending it: the dev-mode mailer,
// shown at /dev/mailbox. A second send with the same idempotency key keeps
// the first message and adds nothing.
type Outbox struct {
	db   *store.DB
	from string
}

// NewOutbox returns an outbox mailer over db.
func NewOutbox(db *store.DB, from string) *Outbox { return &Outbox{db: db, from: from} }

// Send stores the message.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return permanent(err)
	}
	const q = `INSERT INTO outbox_mail (id, idempotency_key, from_addr, to_addr, subject, html, text)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING`
	if _, err := o.db.ExecContext(ctx, q, uuid.New(), m.IdempotencyKey, o.from, m.To, m.Subject, m.HTML, m.Text); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	return nil
}

// OutboxMail is one stored message.
type OutboxMail struct {
	ID             string    `db:"id" json:"id"`
	IdempotencyKey string    `db:"idempotency_key" json:"idempotency_key"`
	From           string    `db:"from_addr" json:"from"`
	To             string    `db:"to_addr" json:"to"`
	Subject        string    `db:"subject" json:"subject"`
	HTML           string    `db:"html" json:"html"`
	Text           string    `db:"text" json:"text"`
	CreatedAt      time.Time `db:"created_at" json:"created_at"`
}

// List returns the newest stored mail first, at most limit, optionally only
// to one address.
func (o *Outbox) List(ctx context.Context, to string, limit int) ([]OutboxMail, error) {
	const q = `SELECT id, idempotency_key, from_addr, to_addr, subject, html, text, created_at
		FROM outbox_mail WHERE ($1 = '' OR lower(to_addr) = lower($1)) ORDER BY created_at DESC, id LIMIT $2`
	out := []OutboxMail{}
	if err := o.db.SelectContext(ctx, &out, q, to, limit); err != nil {
		return nil, fmt.Errorf("mail: outbox list: %w", err)
	}
	return out, nil
}
