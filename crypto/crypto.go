// Package crypto holds the service's envelope encryption: master keys (with
// ids, so they rotate) wrap per-request data keys, data keys seal PII with
// AES-256-GCM, and keyed hashes make blind indexes for lookups. It also makes
// and hashes the random tokens the service hands out, and hashes passwords.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of every key here: AES-256.
const KeySize = 32

// ErrDecrypt is returned when a ciphertext does not open: wrong key, wrong
// associated data, or tampered bytes.
var ErrDecrypt = errors.New("crypto: message authentication failed")

// Keyring holds the master keys by id. The current key wraps new data keys;
// the others only unwrap old ones.
type Keyring struct {
	currentID string
	keys      map[string][]byte
	indexID   string
	indexKey  []byte
	tokenKey  []byte
}

// NewKeyring builds a keyring from the current key (base64) with its id,
// previous keys as "id:base64", and the id of the key the blind index is
// derived from (empty: the current one).
func NewKeyring(currentID, current string, previous []string, indexKeyID string) (*Keyring, error) {
	k := &Keyring{currentID: currentID, keys: map[string][]byte{}}
	key, err := base64.StdEncoding.DecodeString(current)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("crypto: master key %s: want %d bytes of base64", currentID, KeySize)
	}
	k.keys[currentID] = key
	for _, p := range previous {
		id, b64, _ := strings.Cut(p, ":")
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != KeySize || id == "" {
			return nil, fmt.Errorf("crypto: previous key %q: want id:base64 of %d bytes", id, KeySize)
		}
		k.keys[id] = key
	}
	if indexKeyID == "" {
		indexKeyID = currentID
	}
	ik, ok := k.keys[indexKeyID]
	if !ok {
		return nil, fmt.Errorf("crypto: index key id %q is not among the master keys", indexKeyID)
	}
	k.indexID = indexKeyID
	k.indexKey = derive(ik, "dsar blind index v1")
	k.tokenKey = derive(ik, "dsar keyed token v1")
	return k, nil
}

// CurrentID is the id of the key that wraps new data keys.
func (k *Keyring) CurrentID() string { return k.currentID }

// IndexKeyID is the id of the master key the blind index is derived from
// (crypto.index_key_id, else the current key). It stays put across
// rotations, so what is keyed from it (lookups, the audit chain) keeps
// working after one.
func (k *Keyring) IndexKeyID() string { return k.indexID }

// Derive returns a subkey of the current master key for one purpose (the
// Temporal payload codec, captcha signatures, ...). Labels keep the subkeys
// apart; the master key itself never leaves the keyring.
func (k *Keyring) Derive(label string) []byte { return derive(k.keys[k.currentID], label) }

// DeriveFrom is Derive for a named master key, for reading what an older key
// protected. It reports false for an unknown id.
func (k *Keyring) DeriveFrom(id, label string) ([]byte, bool) {
	key, ok := k.keys[id]
	if !ok {
		return nil, false
	}
	return derive(key, label), true
}

func derive(key []byte, label string) []byte {
	out, err := hkdf.Key(sha256.New, key, nil, label, KeySize)
	if err != nil {
		panic(err) // only for impossible lengths
	}
	return out
}

// NewDataKey returns a fresh random data key.
func NewDataKey() []byte {
	return RandomBytes(KeySize)
}

// Wrap seals a data key under the current master key and returns the wrapped
// key and the id of the master key that wrapped it.
func (k *Keyring) Wrap(dataKey []byte) ([]byte, string, error) {
	ct, err := Seal(k.keys[k.currentID], dataKey, []byte("dsar data key"))
	return ct, k.currentID, err
}

// Unwrap opens a data key wrapped by the master key keyID.
func (k *Keyring) Unwrap(wrapped []byte, keyID string) ([]byte, error) {
	key, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("crypto: unknown master key id %q", keyID)
	}
	return Open(key, wrapped, []byte("dsar data key"))
}

// BlindIndex is the keyed hash of an email address for lookups: the same
// address (case and surrounding space aside) always gives the same value, and
// nobody without the key can test a guess against it.
func (k *Keyring) BlindIndex(email string) []byte {
	m := hmac.New(sha256.New, k.indexKey)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return m.Sum(nil)
}

// KeyedToken is a token of NewToken's shape made from key, for a link that
// must be the same however often it is made (a mail sent again by a retried
// step): the same key always gives the same token, and nobody without the
// master key can compute one. Like the blind index it is derived from the
// index key, so a key rotation does not change it. Keys must be unique to
// one token and never shown to anyone.
func (k *Keyring) KeyedToken(key string) string {
	m := hmac.New(sha256.New, k.tokenKey)
	m.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Seal encrypts plaintext with AES-256-GCM under key, binding aad (which is
// not stored). The result is nonce || ciphertext || tag.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := RandomBytes(gcm.NonceSize())
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced with the same key and aad. It returns
// ErrDecrypt when the bytes were tampered with or the key is wrong.
func Open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypto: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// RandomBytes returns n bytes from the system's secure random source.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto: random source failed: %v", err))
	}
	return b
}

// NewToken returns a random token of 32 bytes, URL-safe base64 without
// padding: the form handed out in links and as session tokens.
func NewToken() string {
	return base64.RawURLEncoding.EncodeToString(RandomBytes(32))
}

// HashToken is the stored form of a token: its SHA-256, hex. Tokens carry 256
// bits of randomness, so a fast hash is enough; only the hash is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidToken reports whether s has the shape of a token from NewToken, so
// junk is refused before any lookup.
func ValidToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}
