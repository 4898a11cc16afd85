package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
)

// Contact is what a closed request keeps of its requester while they may
// appeal: what is needed to answer the appeal and mail the decision.
type Contact struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
}

// contactAAD binds a sealed contact to its request.
func contactAAD(requestID string) []byte { return []byte("dsar contact " + requestID) }

// ScrubRequestKeepingContact is ScrubRequest for a request whose requester
// may still appeal: in the same transaction, before the data key goes, the
// requester's name and email are sealed under a new key of their own
// (request_contacts), kept until keepUntil or until ShredContact. The rest
// of the PII is erased as at any close. Run again, it keeps the contact
// already kept (and moves its date); a request whose PII is already erased
// keeps nothing more.
func (db *DB) ScrubRequestKeepingContact(ctx context.Context, keys *crypto.Keyring, id string, keepUntil time.Time) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error {
		const qKept = `UPDATE request_contacts SET keep_until = $2 WHERE request_id = $1`
		res, err := tx.ExecContext(ctx, qKept, id, keepUntil)
		if err != nil {
			return fmt.Errorf("store: keep contact of %s: %w", id, Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if err := keepContact(ctx, tx, keys, id, keepUntil); err != nil {
				return err
			}
		}
		return scrubIn(ctx, tx, id)
	})
}

// keepContact seals the requester's name and email from the request's PII
// under a new contact key, in tx. Nothing to keep once the PII is erased.
func keepContact(ctx context.Context, tx *sqlx.Tx, keys *crypto.Keyring, id string, keepUntil time.Time) error {
	var row struct {
		PII        []byte `db:"pii"`
		KeyID      string `db:"key_id"`
		WrappedKey []byte `db:"wrapped_key"`
	}
	const q = `SELECT r.pii, k.key_id, k.wrapped_key FROM requests r JOIN request_keys k ON k.request_id = r.id
		WHERE r.id = $1 AND r.pii IS NOT NULL FOR UPDATE OF r`
	if err := tx.GetContext(ctx, &row, q, id); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return nil // erased already: nothing left to keep
		}
		return fmt.Errorf("store: contact of %s: %w", id, Translate(err))
	}
	dk, err := keys.Unwrap(row.WrappedKey, row.KeyID)
	if err != nil {
		return fmt.Errorf("store: data key of %s: %w", id, err)
	}
	raw, err := crypto.Open(dk, row.PII, piiAAD(id))
	if err != nil {
		return fmt.Errorf("store: open pii of %s: %w", id, err)
	}
	var p PII
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("store: pii of %s: %w", id, err)
	}
	contact, err := json.Marshal(Contact{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email})
	if err != nil {
		return err
	}
	ck := crypto.NewDataKey()
	wrapped, keyID, err := keys.Wrap(ck)
	if err != nil {
		return err
	}
	sealed, err := crypto.Seal(ck, contact, contactAAD(id))
	if err != nil {
		return err
	}
	const qIns = `INSERT INTO request_contacts (request_id, key_id, wrapped_key, sealed, keep_until) VALUES ($1, $2, $3, $4, $5)`
	if _, err := tx.ExecContext(ctx, qIns, id, keyID, wrapped, sealed, keepUntil); err != nil {
		return fmt.Errorf("store: keep contact of %s: %w", id, Translate(err))
	}
	return nil
}

// RequestContact opens the contact details a closed request keeps for its
// appeal. EGONE when there are none (never kept, or shredded).
func (db *DB) RequestContact(ctx context.Context, keys *crypto.Keyring, id string) (Contact, error) {
	var row struct {
		KeyID      string `db:"key_id"`
		WrappedKey []byte `db:"wrapped_key"`
		Sealed     []byte `db:"sealed"`
	}
	const q = `SELECT key_id, wrapped_key, sealed FROM request_contacts WHERE request_id = $1`
	if err := db.GetContext(ctx, &row, q, id); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return Contact{}, dsar.Errorf(dsar.EGONE, "the requester's contact details have been erased")
		}
		return Contact{}, fmt.Errorf("store: contact of %s: %w", id, err)
	}
	ck, err := keys.Unwrap(row.WrappedKey, row.KeyID)
	if err != nil {
		return Contact{}, fmt.Errorf("store: contact key of %s: %w", id, err)
	}
	raw, err := crypto.Open(ck, row.Sealed, contactAAD(id))
	if err != nil {
		return Contact{}, fmt.Errorf("store: open contact of %s: %w", id, err)
	}
	var c Contact
	return c, json.Unmarshal(raw, &c)
}

// ShredContact destroys the contact details a request kept for its appeal:
// the key and the ciphertext, in one statement. It reports whether there
// were any; shredding twice is fine.
func (db *DB) ShredContact(ctx context.Context, id string) (bool, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM request_contacts WHERE request_id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("store: shred contact of %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// NewDataKey gives a request whose data key was erased a new one (a
// request reopened after its appeal: its tasks attach files again). A
// request with a key keeps it.
func (db *DB) NewDataKey(ctx context.Context, keys *crypto.Keyring, id string) error {
	wrapped, keyID, err := keys.Wrap(crypto.NewDataKey())
	if err != nil {
		return err
	}
	const q = `INSERT INTO request_keys (request_id, key_id, wrapped_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	if _, err := db.ExecContext(ctx, q, id, keyID, wrapped); err != nil {
		return fmt.Errorf("store: new data key of %s: %w", id, Translate(err))
	}
	return nil
}

// OverdueContacts lists the requests whose contact details, kept for an
// appeal, were due to be shredded before before (none under a legal
// hold), at most limit, oldest first.
func (db *DB) OverdueContacts(ctx context.Context, before time.Time, limit int) ([]string, error) {
	const q = `SELECT c.request_id::text FROM request_contacts c JOIN requests r ON r.id = c.request_id
		WHERE c.keep_until < $1 AND NOT r.legal_hold_on ORDER BY c.keep_until LIMIT $2`
	ids := []string{}
	if err := db.SelectContext(ctx, &ids, q, before, limit); err != nil {
		return nil, fmt.Errorf("store: overdue contacts: %w", Translate(err))
	}
	return ids, nil
}
