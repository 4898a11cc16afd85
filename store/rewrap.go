package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/opendsar/dsar/crypto"
)

// Rewrapped counts the data keys RewrapDataKeys wrapped again, by table.
type Rewrapped struct {
	RequestKeys int // request_keys: each request's PII key
	MessageKeys int // message_keys: each request's message key
	Packages    int // packages: each access package's key
	TOTPSecrets int // staff_totp: each staff member's second factor, sealed again
	ContactKeys int // request_contacts: the contact details kept for an appeal
	// WebhookSecrets counts the webhook sources' secrets and the webhook
	// jobs' task tokens sealed again.
	WebhookSecrets int
}

// Total is the number of data keys wrapped (or secrets sealed) again.
func (r Rewrapped) Total() int {
	return r.RequestKeys + r.MessageKeys + r.Packages + r.TOTPSecrets + r.ContactKeys + r.WebhookSecrets
}

// TOTPKeyLabel derives, from a master key, the key that seals staff TOTP
// secrets; TOTPAAD binds a sealed secret to its user.
const TOTPKeyLabel = "staff-totp-secret"

// TOTPAAD is the associated data of a user's sealed TOTP secret.
func TOTPAAD(userID string) []byte { return []byte("staff-totp:" + userID) }

// resealTOTP seals again, under the current master key's derived key,
// every TOTP secret sealed under another.
func (db *DB) resealTOTP(ctx context.Context, keys *crypto.Keyring) (int, error) {
	var rows []struct {
		UserID string `db:"user_id"`
		KeyID  string `db:"key_id"`
		Sealed []byte `db:"secret_sealed"`
	}
	n := 0
	err := db.Tx(ctx, func(tx *sqlx.Tx) error {
		const q = `SELECT user_id::text AS user_id, key_id, secret_sealed FROM staff_totp WHERE key_id <> $1 FOR UPDATE`
		if err := tx.SelectContext(ctx, &rows, q, keys.CurrentID()); err != nil {
			return fmt.Errorf("store: TOTP secrets to seal again: %w", err)
		}
		for _, r := range rows {
			old, ok := keys.DeriveFrom(r.KeyID, TOTPKeyLabel)
			if !ok {
				return fmt.Errorf("store: the TOTP secret of %s is sealed by master key %q, not in crypto.previous_keys", r.UserID, r.KeyID)
			}
			secret, err := crypto.Open(old, r.Sealed, TOTPAAD(r.UserID))
			if err != nil {
				return fmt.Errorf("store: open the TOTP secret of %s: %w", r.UserID, err)
			}
			sealed, err := crypto.Seal(keys.Derive(TOTPKeyLabel), secret, TOTPAAD(r.UserID))
			if err != nil {
				return err
			}
			const qUpdate = `UPDATE staff_totp SET secret_sealed = $2, key_id = $3 WHERE user_id = $1`
			if _, err := tx.ExecContext(ctx, qUpdate, r.UserID, sealed, keys.CurrentID()); err != nil {
				return fmt.Errorf("store: seal the TOTP secret of %s again: %w", r.UserID, Translate(err))
			}
			n++
		}
		return nil
	})
	return n, err
}

// wrappedKeyTables are the tables holding wrapped data keys, with their
// primary key column.
var wrappedKeyTables = []struct{ table, id string }{
	{"request_keys", "request_id"},
	{"message_keys", "request_id"},
	{"packages", "id"},
	{"request_contacts", "request_id"},
}

// rewrapBatch is how many keys one transaction wraps again.
const rewrapBatch = 500

// RewrapDataKeys wraps every data key that another master key wrapped
// again under the keyring's current one, so that key can be retired from
// crypto.previous_keys. The data keys stay the same: nothing they sealed
// is read or written. It works in batches, each a transaction; a key
// changed or deleted meanwhile is left as it now is. Run again, it finds
// nothing to do. A key wrapped by a master key the keyring does not hold
// is an error naming its id.
func (db *DB) RewrapDataKeys(ctx context.Context, keys *crypto.Keyring) (Rewrapped, error) {
	var out Rewrapped
	counts := []*int{&out.RequestKeys, &out.MessageKeys, &out.Packages, &out.ContactKeys}
	for i, t := range wrappedKeyTables {
		qSelect := `SELECT ` + t.id + `::text AS id, key_id, wrapped_key FROM ` + t.table + `
			WHERE key_id IS NOT NULL AND key_id <> $1 ORDER BY ` + t.id + ` LIMIT $2 FOR UPDATE`
		qUpdate := `UPDATE ` + t.table + ` SET key_id = $1, wrapped_key = $2
			WHERE ` + t.id + ` = $3 AND key_id = $4 AND wrapped_key = $5`
		for {
			n := 0
			err := db.Tx(ctx, func(tx *sqlx.Tx) error {
				var rows []struct {
					ID         string `db:"id"`
					KeyID      string `db:"key_id"`
					WrappedKey []byte `db:"wrapped_key"`
				}
				if err := tx.SelectContext(ctx, &rows, qSelect, keys.CurrentID(), rewrapBatch); err != nil {
					return fmt.Errorf("store: %s to rewrap: %w", t.table, err)
				}
				for _, r := range rows {
					dk, err := keys.Unwrap(r.WrappedKey, r.KeyID)
					if err != nil {
						return fmt.Errorf("store: %s %s: %w (is master key %q in crypto.previous_keys?)", t.table, r.ID, err, r.KeyID)
					}
					wrapped, keyID, err := keys.Wrap(dk)
					if err != nil {
						return fmt.Errorf("store: %s %s: %w", t.table, r.ID, err)
					}
					if _, err := tx.ExecContext(ctx, qUpdate, keyID, wrapped, r.ID, r.KeyID, r.WrappedKey); err != nil {
						return fmt.Errorf("store: rewrap %s %s: %w", t.table, r.ID, Translate(err))
					}
					n++
				}
				return nil
			})
			if err != nil {
				return out, err
			}
			*counts[i] += n
			if n < rewrapBatch {
				break
			}
		}
	}
	var err error
	if out.TOTPSecrets, err = db.resealTOTP(ctx, keys); err != nil {
		return out, err
	}
	out.WebhookSecrets, err = db.resealWebhooks(ctx, keys)
	return out, err
}

// WrappedKeyIDs counts the data keys by the master key that wraps them,
// across every table that holds wrapped keys.
func (db *DB) WrappedKeyIDs(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	tables := []struct{ table, keyID string }{{"staff_totp", "key_id"}}
	for _, t := range wrappedKeyTables {
		tables = append(tables, struct{ table, keyID string }{t.table, "key_id"})
	}
	for _, c := range webhookSealed {
		tables = append(tables, struct{ table, keyID string }{c.table, c.keyID})
	}
	for _, t := range tables {
		var rows []struct {
			KeyID string `db:"key_id"`
			N     int    `db:"n"`
		}
		q := `SELECT ` + t.keyID + ` AS key_id, count(*) AS n FROM ` + t.table + ` WHERE ` + t.keyID + ` IS NOT NULL GROUP BY 1`
		if err := db.SelectContext(ctx, &rows, q); err != nil {
			return nil, fmt.Errorf("store: key ids of %s: %w", t.table, err)
		}
		for _, r := range rows {
			out[r.KeyID] += r.N
		}
	}
	return out, nil
}
