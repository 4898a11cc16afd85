package codec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/converter"

	"github.com/opendsar/dsar/crypto"
)

// A connector (dsar connector) runs next to a data owner's database and
// must read and seal the payloads of the workflows it works for, but must
// not hold the master key, which opens every request's personal data. It
// is given the payload key alone: the subkey of the current master key
// that this codec seals with, printed by PayloadKey as "id:base64".
//
// The limit: whoever holds the payload key can read and seal every payload
// of the namespace (not the database's sealed data, not the files). Lock
// each connector's Temporal access to its own task queue, and give it a
// new key after a master key rotation.

// PayloadKey is the payload key of the keyring's current master key, as
// "id:base64" for a connector's config.
func PayloadKey(keys *crypto.Keyring) string {
	return keys.CurrentID() + ":" + base64.StdEncoding.EncodeToString(keys.Derive(label))
}

// staticKey is one payload key with its master key's id.
type staticKey struct {
	id  string
	key []byte
}

func (s staticKey) current() (string, []byte) { return s.id, s.key }

func (s staticKey) byID(id string) ([]byte, bool) {
	if id != s.id {
		return nil, false
	}
	return s.key, true
}

// ParsePayloadKey reads a payload key as PayloadKey prints it.
func ParsePayloadKey(s string) (id string, key []byte, err error) {
	id, b64, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || id == "" {
		return "", nil, errors.New("a payload key is written id:base64 (dsar keys connector prints it)")
	}
	key, err = base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != crypto.KeySize {
		return "", nil, fmt.Errorf("the payload key of %s must be %d bytes of base64", id, crypto.KeySize)
	}
	return id, key, nil
}

// NewFromPayloadKey returns a codec that seals and opens with one payload
// key (see PayloadKey) and no master key. Its Decode refuses payloads it
// did not seal, and those sealed under another master key.
func NewFromPayloadKey(payloadKey string) (*Codec, error) {
	id, key, err := ParsePayloadKey(payloadKey)
	if err != nil {
		return nil, err
	}
	return &Codec{keys: staticKey{id: id, key: key}}, nil
}

// PayloadKeyDataConverter is DataConverter with the codec of one payload
// key (NewFromPayloadKey).
func PayloadKeyDataConverter(payloadKey string) (converter.DataConverter, error) {
	c, err := NewFromPayloadKey(payloadKey)
	if err != nil {
		return nil, err
	}
	return converter.NewCodecDataConverter(readableConverter{converter.GetDefaultDataConverter()}, c), nil
}
