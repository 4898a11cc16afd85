package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// Message senders: the two sides of a request's conversation.
const (
	SenderStaff     = "staff"
	SenderRequester = "requester"
)

// Message is one message of a request's conversation, decrypted.
type Message struct {
	ID                string       `json:"id"`
	RequestID         string       `json:"request_id"`
	Sender            string       `json:"from"`
	StaffUserID       *string      `json:"staff_user_id,omitempty"`
	StaffName         string       `json:"staff_name,omitempty"`
	Body              string       `json:"body"`
	CreatedAt         time.Time    `json:"sent_at"`
	ReadByStaffAt     *time.Time   `json:"read_by_staff_at,omitempty"`
	ReadByRequesterAt *time.Time   `json:"read_by_requester_at,omitempty"`
	Attachments       []Attachment `json:"attachments"`
}

// Attachment describes a file attached to a message; Data is filled only by
// MessageAttachment.
type Attachment struct {
	ID          string `json:"id"`
	MessageID   string `json:"message_id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Data        []byte `json:"-"`
}

// NewAttachment is a file to attach to a new message. Its content type has
// been checked by the caller (sniffed, not taken from the client).
type NewAttachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// NewMessage is a message to store. StaffUserID is the author for staff
// messages; ActorID names the author in the audit trail (the staff user's
// or the portal account's id).
type NewMessage struct {
	RequestID   string
	Sender      string
	StaffUserID string
	ActorID     string
	Body        string
	Attachments []NewAttachment
	// Quota, when set, bounds a requester's messages (see MessageQuota);
	// AddMessage refuses one beyond it.
	Quota *MessageQuota
}

// MessageQuota bounds what a requester sends over the last 24 hours, on
// one request and on all the requests of their email (their portal
// account): how many messages, and how many bytes of attachments.
type MessageQuota struct {
	RequestCount int
	RequestBytes int64
	AccountCount int
	AccountBytes int64
}

// messageUse is what a requester sent over the last 24 hours.
type messageUse struct {
	RequestCount int   `db:"request_count"`
	RequestBytes int64 `db:"request_bytes"`
	AccountCount int   `db:"account_count"`
	AccountBytes int64 `db:"account_bytes"`
}

// refuse is the error for one more message of count messages (0 or 1)
// and bytes of attachments beyond q: ERATELIMITED naming the field body
// (too many messages) or attachments (too many bytes); nil if it fits.
func (u messageUse) refuse(q MessageQuota, count int, bytes int64) error {
	limited := func(field, why string) error {
		return &dsar.Error{Code: dsar.ERATELIMITED, Message: "you have sent as much as we take in a day; please try again tomorrow",
			Fields: map[string]string{field: why}}
	}
	switch {
	case u.RequestCount+count > q.RequestCount:
		return limited("body", fmt.Sprintf("at most %d messages a day on one request; please try again tomorrow", q.RequestCount))
	case u.AccountCount+count > q.AccountCount:
		return limited("body", fmt.Sprintf("at most %d messages a day on all your requests; please try again tomorrow", q.AccountCount))
	case u.RequestBytes+bytes > q.RequestBytes:
		return limited("attachments", fmt.Sprintf("at most %s of files a day on one request; please try again tomorrow", sizeText(q.RequestBytes)))
	case u.AccountBytes+bytes > q.AccountBytes:
		return limited("attachments", fmt.Sprintf("at most %s of files a day on all your requests; please try again tomorrow", sizeText(q.AccountBytes)))
	}
	return nil
}

// sizeText writes a number of bytes for people.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// messageUseOf counts what the requester of requestID (everyone writing
// from its email) sent since since, on it and on all their requests.
func messageUseOf(ctx context.Context, q sqlx.QueryerContext, requestID string, since time.Time) (messageUse, error) {
	const qUse = `SELECT count(*) FILTER (WHERE m.request_id = $1) AS request_count,
			coalesce(sum(a.bytes) FILTER (WHERE m.request_id = $1), 0)::bigint AS request_bytes,
			count(*) AS account_count, coalesce(sum(a.bytes), 0)::bigint AS account_bytes
		FROM requests mine
		JOIN requests r ON r.email_hash = mine.email_hash
		JOIN messages m ON m.request_id = r.id AND m.sender = 'requester' AND m.created_at > $2
		LEFT JOIN LATERAL (SELECT sum(size) AS bytes FROM message_attachments WHERE message_id = m.id) a ON true
		WHERE mine.id = $1`
	var u messageUse
	if err := sqlx.GetContext(ctx, q, &u, qUse, requestID, since); err != nil {
		return u, fmt.Errorf("store: messages sent on %s: %w", requestID, err)
	}
	return u, nil
}

// CheckMessageQuota reports whether the requester of requestID may send
// one more message under q, before the message is read: the error
// AddMessage would give for a message without attachments, or nil.
// AddMessage checks again, with the attachments, under a lock.
func (db *DB) CheckMessageQuota(ctx context.Context, requestID string, q MessageQuota) error {
	if _, err := uuid.Parse(requestID); err != nil {
		return dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	u, err := messageUseOf(ctx, db, requestID, now().Add(-messageQuotaPeriod))
	if err != nil {
		return err
	}
	return u.refuse(q, 1, 0)
}

// messageQuotaPeriod is the period of a MessageQuota.
const messageQuotaPeriod = 24 * time.Hour

// The associated data binding each sealed field to its row, so ciphertexts
// cannot be moved between messages or requests.
func messageAAD(requestID, id string) []byte { return []byte("dsar message " + requestID + " " + id) }
func attachmentAAD(requestID, id string) []byte {
	return []byte("dsar message attachment " + requestID + " " + id)
}
func attachmentNameAAD(requestID, id string) []byte {
	return []byte("dsar message attachment name " + requestID + " " + id)
}

// messageKey returns request id's message key, making and storing one when
// create is set and there is none yet. Without create, a request with no
// key yet is ENOTFOUND. The message key is separate from the PII data key:
// ScrubRequest leaves it, so the history stays readable after close.
func messageKey(ctx context.Context, q sqlx.ExtContext, keys *crypto.Keyring, id string, create bool) ([]byte, error) {
	var row struct {
		KeyID      string `db:"key_id"`
		WrappedKey []byte `db:"wrapped_key"`
	}
	const qGet = `SELECT key_id, wrapped_key FROM message_keys WHERE request_id = $1`
	err := sqlx.GetContext(ctx, q, &row, qGet, id)
	if errors.Is(err, sql.ErrNoRows) && create {
		wrapped, keyID, werr := keys.Wrap(crypto.NewDataKey())
		if werr != nil {
			return nil, fmt.Errorf("store: message key of %s: %w", id, werr)
		}
		const qPut = `INSERT INTO message_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3)
			ON CONFLICT (request_id) DO NOTHING`
		if _, err := q.ExecContext(ctx, qPut, id, keyID, wrapped); err != nil {
			return nil, fmt.Errorf("store: store message key of %s: %w", id, Translate(err))
		}
		err = sqlx.GetContext(ctx, q, &row, qGet, id)
	}
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, dsar.Errorf(dsar.ENOTFOUND, "the request has no messages")
		}
		return nil, fmt.Errorf("store: message key of %s: %w", id, err)
	}
	return keys.Unwrap(row.WrappedKey, row.KeyID)
}

// AddMessage stores a message and its attachments sealed under the
// request's message key (made on the first message), appends it to the
// audit trail (ids and counts only, never the text), and for a requester's
// reply records a requester_replied alert for those AlertRecipients names:
// the request's handler (or, while it has none, the org owners and admins)
// and the staff who wrote on the request. All of it commits together or not
// at all.
//
// ENOTFOUND for a request that does not exist or was never accepted;
// ECONFLICT while the requester's email is unverified (or the request
// expired unverified): nobody can read the other side yet.
func (db *DB) AddMessage(ctx context.Context, keys *crypto.Keyring, m NewMessage) (Message, error) {
	if m.Sender != SenderStaff && m.Sender != SenderRequester {
		return Message{}, fmt.Errorf("store: add message: unknown sender %q", m.Sender)
	}
	if _, err := uuid.Parse(m.RequestID); err != nil {
		return Message{}, dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	msg := Message{ID: uuid.NewString(), RequestID: m.RequestID, Sender: m.Sender, Body: m.Body, Attachments: []Attachment{}}
	if m.StaffUserID != "" {
		msg.StaffUserID = &m.StaffUserID
	}
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		var req struct {
			Status   dsar.Status `db:"status"`
			Accepted bool        `db:"accepted"`
		}
		const qReq = `SELECT status, accepted FROM requests WHERE id = $1 FOR SHARE`
		if err := tx.GetContext(ctx, &req, qReq, m.RequestID); err != nil || !req.Accepted {
			if err == nil || errors.Is(err, sql.ErrNoRows) {
				return dsar.Errorf(dsar.ENOTFOUND, "no such request")
			}
			return fmt.Errorf("store: add message to %s: %w", m.RequestID, err)
		}
		if req.Status == dsar.StatusPendingEmailVerification || req.Status == dsar.StatusExpired {
			return dsar.Errorf(dsar.ECONFLICT, "the request is %s: the requester's email is not verified, so there is nobody to talk to yet", req.Status)
		}
		if m.Quota != nil {
			// One requester's messages are counted one after another,
			// whichever process takes them: the lock is per email.
			const qLock = `SELECT pg_advisory_xact_lock(hashtextextended('dsar requester messages ' || encode(email_hash, 'hex'), 0))
				FROM requests WHERE id = $1`
			if _, err := tx.ExecContext(ctx, qLock, m.RequestID); err != nil {
				return fmt.Errorf("store: lock messages of %s: %w", m.RequestID, err)
			}
			u, err := messageUseOf(ctx, tx, m.RequestID, now().Add(-messageQuotaPeriod))
			if err != nil {
				return err
			}
			var bytes int64
			for _, a := range m.Attachments {
				bytes += int64(len(a.Data))
			}
			if err := u.refuse(*m.Quota, 1, bytes); err != nil {
				return err
			}
		}
		key, err := messageKey(ctx, tx, keys, m.RequestID, true)
		if err != nil {
			return err
		}
		body, err := crypto.Seal(key, []byte(m.Body), messageAAD(m.RequestID, msg.ID))
		if err != nil {
			return fmt.Errorf("store: seal message: %w", err)
		}
		const qMsg = `INSERT INTO messages (id, request_id, sender, staff_user_id, body, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`
		if err := tx.GetContext(ctx, &msg.CreatedAt, qMsg, msg.ID, m.RequestID, m.Sender, msg.StaffUserID, body, now()); err != nil {
			return fmt.Errorf("store: add message to %s: %w", m.RequestID, Translate(err))
		}
		for _, a := range m.Attachments {
			att := Attachment{ID: uuid.NewString(), MessageID: msg.ID, Filename: a.Filename, ContentType: a.ContentType, Size: len(a.Data)}
			name, err := crypto.Seal(key, []byte(a.Filename), attachmentNameAAD(m.RequestID, att.ID))
			if err != nil {
				return fmt.Errorf("store: seal attachment name: %w", err)
			}
			data, err := crypto.Seal(key, a.Data, attachmentAAD(m.RequestID, att.ID))
			if err != nil {
				return fmt.Errorf("store: seal attachment: %w", err)
			}
			const qAtt = `INSERT INTO message_attachments (id, message_id, filename, content_type, size, sealed)
				VALUES ($1, $2, $3, $4, $5, $6)`
			if _, err := tx.ExecContext(ctx, qAtt, att.ID, msg.ID, name, att.ContentType, att.Size, data); err != nil {
				return fmt.Errorf("store: add attachment: %w", Translate(err))
			}
			msg.Attachments = append(msg.Attachments, att)
		}
		actor := ActorStaff
		if m.Sender == SenderRequester {
			actor = ActorRequester
		}
		if _, err := db.AppendAuditTx(ctx, tx, Audit{
			RequestID: m.RequestID, ActorKind: actor, ActorID: m.ActorID, Action: dsar.AuditMessageSent,
			Detail: map[string]any{"message_id": msg.ID, "from": m.Sender, "attachments": len(m.Attachments)},
		}); err != nil {
			return err
		}
		if m.Sender == SenderRequester {
			to, err := alertRecipients(ctx, tx, AlertSubject{Kind: AlertRequesterReplied, RequestID: m.RequestID})
			if err != nil {
				return err
			}
			alerts := make([]NewAlert, len(to))
			for i, rc := range to {
				alerts[i] = NewAlert{DedupeKey: AlertRequesterReplied + ":" + msg.ID + ":" + rc.UserID, RecipientID: rc.UserID,
					RequestID: m.RequestID, Kind: AlertRequesterReplied, Detail: map[string]any{"message_id": msg.ID}}
			}
			if _, err := recordAlerts(ctx, tx, alerts); err != nil {
				return fmt.Errorf("store: alert staff of a reply on %s: %w", m.RequestID, err)
			}
		}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	return msg, nil
}

// Messages returns a request's messages, oldest first, decrypted, with their
// attachments (without data). They stay readable after the request's PII is
// scrubbed. A request without messages gives an empty list.
func (db *DB) Messages(ctx context.Context, keys *crypto.Keyring, requestID string) ([]Message, error) {
	out := []Message{}
	if _, err := uuid.Parse(requestID); err != nil {
		return out, nil
	}
	var rows []struct {
		ID                string     `db:"id"`
		Sender            string     `db:"sender"`
		StaffUserID       *string    `db:"staff_user_id"`
		StaffName         *string    `db:"staff_name"`
		Body              []byte     `db:"body"`
		CreatedAt         time.Time  `db:"created_at"`
		ReadByStaffAt     *time.Time `db:"read_by_staff_at"`
		ReadByRequesterAt *time.Time `db:"read_by_requester_at"`
	}
	const q = `SELECT m.id, m.sender, m.staff_user_id, u.name AS staff_name, m.body, m.created_at,
			m.read_by_staff_at, m.read_by_requester_at
		FROM messages m LEFT JOIN users u ON u.id = m.staff_user_id
		WHERE m.request_id = $1 ORDER BY m.created_at, m.id`
	if err := db.SelectContext(ctx, &rows, q, requestID); err != nil {
		return nil, fmt.Errorf("store: messages of %s: %w", requestID, err)
	}
	if len(rows) == 0 {
		return out, nil
	}
	key, err := messageKey(ctx, db, keys, requestID, false)
	if err != nil {
		return nil, err
	}
	var atts []struct {
		ID          string `db:"id"`
		MessageID   string `db:"message_id"`
		Filename    []byte `db:"filename"`
		ContentType string `db:"content_type"`
		Size        int    `db:"size"`
	}
	const qAtt = `SELECT a.id, a.message_id, a.filename, a.content_type, a.size
		FROM message_attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.request_id = $1 ORDER BY a.created_at, a.id`
	if err := db.SelectContext(ctx, &atts, qAtt, requestID); err != nil {
		return nil, fmt.Errorf("store: attachments of %s: %w", requestID, err)
	}
	byMessage := map[string][]Attachment{}
	for _, a := range atts {
		name, err := crypto.Open(key, a.Filename, attachmentNameAAD(requestID, a.ID))
		if err != nil {
			return nil, fmt.Errorf("store: open attachment name %s: %w", a.ID, err)
		}
		byMessage[a.MessageID] = append(byMessage[a.MessageID], Attachment{
			ID: a.ID, MessageID: a.MessageID, Filename: string(name), ContentType: a.ContentType, Size: a.Size})
	}
	for _, r := range rows {
		body, err := crypto.Open(key, r.Body, messageAAD(requestID, r.ID))
		if err != nil {
			return nil, fmt.Errorf("store: open message %s: %w", r.ID, err)
		}
		m := Message{ID: r.ID, RequestID: requestID, Sender: r.Sender, StaffUserID: r.StaffUserID, Body: string(body),
			CreatedAt: r.CreatedAt, ReadByStaffAt: r.ReadByStaffAt, ReadByRequesterAt: r.ReadByRequesterAt,
			Attachments: byMessage[r.ID]}
		if r.StaffName != nil {
			m.StaffName = *r.StaffName
		}
		if m.Attachments == nil {
			m.Attachments = []Attachment{}
		}
		out = append(out, m)
	}
	return out, nil
}

// MarkMessagesRead marks the other side's messages on a request as read by
// reader (SenderStaff or SenderRequester) and returns how many were unread.
func (db *DB) MarkMessagesRead(ctx context.Context, requestID, reader string) (int, error) {
	var q string
	switch reader {
	case SenderStaff:
		q = `UPDATE messages SET read_by_staff_at = now()
			WHERE request_id = $1 AND sender = 'requester' AND read_by_staff_at IS NULL`
	case SenderRequester:
		q = `UPDATE messages SET read_by_requester_at = now()
			WHERE request_id = $1 AND sender = 'staff' AND read_by_requester_at IS NULL`
	default:
		return 0, fmt.Errorf("store: mark messages read: unknown reader %q", reader)
	}
	if _, err := uuid.Parse(requestID); err != nil {
		return 0, nil
	}
	res, err := db.ExecContext(ctx, q, requestID)
	if err != nil {
		return 0, fmt.Errorf("store: mark messages of %s read: %w", requestID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// UnreadMessages counts, per request, the messages of the other side that
// reader (SenderStaff or SenderRequester) has not read. Requests with none
// are absent from the map. For the staff queue and the portal's list.
func (db *DB) UnreadMessages(ctx context.Context, reader string, requestIDs []string) (map[string]int, error) {
	var q string
	switch reader {
	case SenderStaff:
		q = `SELECT request_id, count(*) FROM messages
			WHERE request_id = ANY($1::uuid[]) AND sender = 'requester' AND read_by_staff_at IS NULL GROUP BY request_id`
	case SenderRequester:
		q = `SELECT request_id, count(*) FROM messages
			WHERE request_id = ANY($1::uuid[]) AND sender = 'staff' AND read_by_requester_at IS NULL GROUP BY request_id`
	default:
		return nil, fmt.Errorf("store: unread messages: unknown reader %q", reader)
	}
	out := map[string]int{}
	ids := make([]string, 0, len(requestIDs))
	for _, id := range requestIDs {
		if _, err := uuid.Parse(id); err == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.QueryContext(ctx, q, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("store: unread messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("store: unread messages: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// MessageAttachment returns an attachment of a message on request
// requestID, decrypted. ENOTFOUND when there is no such attachment on that
// request, whichever request it may belong to.
func (db *DB) MessageAttachment(ctx context.Context, keys *crypto.Keyring, requestID, attachmentID string) (Attachment, error) {
	notFound := dsar.Errorf(dsar.ENOTFOUND, "no such attachment")
	if _, err := uuid.Parse(requestID); err != nil {
		return Attachment{}, notFound
	}
	if _, err := uuid.Parse(attachmentID); err != nil {
		return Attachment{}, notFound
	}
	var row struct {
		MessageID   string `db:"message_id"`
		Filename    []byte `db:"filename"`
		ContentType string `db:"content_type"`
		Size        int    `db:"size"`
		Sealed      []byte `db:"sealed"`
	}
	const q = `SELECT a.message_id, a.filename, a.content_type, a.size, a.sealed
		FROM message_attachments a JOIN messages m ON m.id = a.message_id
		WHERE a.id = $1 AND m.request_id = $2`
	if err := db.GetContext(ctx, &row, q, attachmentID, requestID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Attachment{}, notFound
		}
		return Attachment{}, fmt.Errorf("store: attachment %s: %w", attachmentID, err)
	}
	key, err := messageKey(ctx, db, keys, requestID, false)
	if err != nil {
		return Attachment{}, err
	}
	name, err := crypto.Open(key, row.Filename, attachmentNameAAD(requestID, attachmentID))
	if err != nil {
		return Attachment{}, fmt.Errorf("store: open attachment name %s: %w", attachmentID, err)
	}
	data, err := crypto.Open(key, row.Sealed, attachmentAAD(requestID, attachmentID))
	if err != nil {
		return Attachment{}, fmt.Errorf("store: open attachment %s: %w", attachmentID, err)
	}
	return Attachment{ID: attachmentID, MessageID: row.MessageID, Filename: string(name), ContentType: row.ContentType,
		Size: row.Size, Data: data}, nil
}

// MessageThreadStatus returns the status of the accepted request whose
// conversation the caller opens. ENOTFOUND when there is no such accepted
// request.
func (db *DB) MessageThreadStatus(ctx context.Context, requestID string) (dsar.Status, error) {
	if _, err := uuid.Parse(requestID); err != nil {
		return "", dsar.Errorf(dsar.ENOTFOUND, "no such request")
	}
	const q = `SELECT status FROM requests WHERE id = $1 AND accepted`
	var st dsar.Status
	if err := db.GetContext(ctx, &st, q, requestID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", dsar.Errorf(dsar.ENOTFOUND, "no such request")
		}
		return "", fmt.Errorf("store: request %s: %w", requestID, err)
	}
	return st, nil
}
