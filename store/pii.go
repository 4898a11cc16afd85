package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/locale"
)

// PII is what a request holds about its requester. It is stored only
// sealed (requests.pii) under the request's data key (request_keys).
type PII struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	Description string `json:"description"`
}

// SealedRequest is a request's PII and document sealed under a new data key,
// ready to store. NewSealedRequest makes it; the caller inserts it.
type SealedRequest struct {
	KeyID      string
	WrappedKey []byte
	PII        []byte
	EmailHash  []byte
	Document   []byte // nil when there is no document
	dataKey    []byte
}

// piiAAD and docAAD bind sealed fields to their request, so a ciphertext
// cannot be moved to another row.
func piiAAD(requestID string) []byte { return []byte("dsar pii " + requestID) }
func docAAD(requestID string) []byte { return []byte("dsar identity document " + requestID) }

// NewSealedRequest makes a data key for request id, seals pii and doc (may
// be nil) under it, and wraps the key with the keyring's current master key.
func NewSealedRequest(keys *crypto.Keyring, id string, pii PII, doc []byte) (SealedRequest, error) {
	dk := crypto.NewDataKey()
	wrapped, keyID, err := keys.Wrap(dk)
	if err != nil {
		return SealedRequest{}, err
	}
	raw, err := json.Marshal(pii)
	if err != nil {
		return SealedRequest{}, err
	}
	sealedPII, err := crypto.Seal(dk, raw, piiAAD(id))
	if err != nil {
		return SealedRequest{}, err
	}
	s := SealedRequest{KeyID: keyID, WrappedKey: wrapped, PII: sealedPII, EmailHash: keys.BlindIndex(pii.Email), dataKey: dk}
	if doc != nil {
		if s.Document, err = crypto.Seal(dk, doc, docAAD(id)); err != nil {
			return SealedRequest{}, err
		}
	}
	return s, nil
}

// dataKey loads and unwraps request id's data key. EGONE once scrubbed.
func (db *DB) dataKey(ctx context.Context, keys *crypto.Keyring, id string) ([]byte, error) {
	var row struct {
		KeyID      string `db:"key_id"`
		WrappedKey []byte `db:"wrapped_key"`
	}
	const q = `SELECT key_id, wrapped_key FROM request_keys WHERE request_id = $1`
	if err := db.GetContext(ctx, &row, q, id); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return nil, dsar.Errorf(dsar.EGONE, "the request's personal data has been erased")
		}
		return nil, fmt.Errorf("store: data key of %s: %w", id, err)
	}
	return keys.Unwrap(row.WrappedKey, row.KeyID)
}

// RequestPII decrypts a request's PII. ENOTFOUND for no such request,
// EGONE once its PII has been scrubbed.
func (db *DB) RequestPII(ctx context.Context, keys *crypto.Keyring, id string) (PII, error) {
	var sealed []byte
	if err := db.GetContext(ctx, &sealed, `SELECT pii FROM requests WHERE id = $1`, id); err != nil {
		return PII{}, Translate(err)
	}
	if sealed == nil {
		return PII{}, dsar.Errorf(dsar.EGONE, "the request's personal data has been erased")
	}
	dk, err := db.dataKey(ctx, keys, id)
	if err != nil {
		return PII{}, err
	}
	raw, err := crypto.Open(dk, sealed, piiAAD(id))
	if err != nil {
		return PII{}, fmt.Errorf("store: open pii of %s: %w", id, err)
	}
	var p PII
	return p, json.Unmarshal(raw, &p)
}

// IdentityDocument is the requester's proof of identity, decrypted.
type IdentityDocument struct {
	ContentType string
	Data        []byte
}

// RequestIdentityDocument decrypts a request's identity document. EGONE
// once it has been deleted (identity decided, or the request scrubbed).
func (db *DB) RequestIdentityDocument(ctx context.Context, keys *crypto.Keyring, id string) (IdentityDocument, error) {
	var row struct {
		ContentType string `db:"content_type"`
		Sealed      []byte `db:"sealed"`
	}
	const q = `SELECT content_type, sealed FROM identity_documents WHERE request_id = $1`
	if err := db.GetContext(ctx, &row, q, id); err != nil {
		if dsar.ErrorCode(Translate(err)) == dsar.ENOTFOUND {
			return IdentityDocument{}, dsar.Errorf(dsar.EGONE, "the identity document has been deleted")
		}
		return IdentityDocument{}, fmt.Errorf("store: identity document of %s: %w", id, err)
	}
	dk, err := db.dataKey(ctx, keys, id)
	if err != nil {
		return IdentityDocument{}, err
	}
	data, err := crypto.Open(dk, row.Sealed, docAAD(id))
	if err != nil {
		return IdentityDocument{}, fmt.Errorf("store: open identity document of %s: %w", id, err)
	}
	return IdentityDocument{ContentType: row.ContentType, Data: data}, nil
}

// DeleteIdentityDocument deletes a request's identity document (identity
// was decided: keep the outcome, not the copy). Deleting twice is fine.
func (db *DB) DeleteIdentityDocument(ctx context.Context, id string) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM identity_documents WHERE request_id = $1`, id); err != nil {
		return fmt.Errorf("store: delete identity document of %s: %w", id, err)
	}
	return nil
}

// ScrubRequest erases a closed request's PII: the data key (so nothing
// sealed under it can ever be opened), the sealed PII, the document and
// the task files (the access package, under its own key, lasts until it
// expires).
// The blind index stays so the requester still finds the request in the
// portal; messages stay under their own key. Scrubbing twice is fine.
func (db *DB) ScrubRequest(ctx context.Context, id string) error {
	return db.Tx(ctx, func(tx *sqlx.Tx) error { return scrubIn(ctx, tx, id) })
}

// scrubIn is ScrubRequest in tx.
func scrubIn(ctx context.Context, tx *sqlx.Tx, id string) error {
	for _, q := range []string{
		`DELETE FROM request_keys WHERE request_id = $1`,
		`DELETE FROM identity_documents WHERE request_id = $1`,
		`DELETE FROM task_files WHERE request_id = $1`,
		`DELETE FROM connector_uploads WHERE request_id = $1`,
		// A package never published is not sent: it goes with the data
		// (a published one lasts until it expires).
		`DELETE FROM packages WHERE request_id = $1 AND status IN ('failed', 'ready', 'approved')`,
		`UPDATE requests SET pii = NULL, corrected_pii = NULL, corrected_email_hash = NULL, corrected_action = NULL, scrubbed_at = coalesce(scrubbed_at, now()), updated_at = now() WHERE id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("store: scrub %s: %w", id, err)
		}
	}
	return nil
}

// now is the store's clock for rows it stamps itself.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// RequestLocale is what decides the words of a mail to a request's
// requester: their language and the request's jurisdiction (its deadline
// rule's id, "default" when none matched).
type RequestLocale struct {
	Language     locale.Lang `db:"language"`
	Jurisdiction string      `db:"deadline_rule"`
}

// RequestLocaleOf loads a request's RequestLocale; it is kept after the
// request's PII is erased. Errors: ENOTFOUND.
func (db *DB) RequestLocaleOf(ctx context.Context, id string) (RequestLocale, error) {
	const q = `SELECT language, deadline_rule FROM requests WHERE id = $1`
	var rl RequestLocale
	if err := db.GetContext(ctx, &rl, q, id); err != nil {
		return RequestLocale{}, fmt.Errorf("store: language of %s: %w", id, Translate(err))
	}
	return rl, nil
}
