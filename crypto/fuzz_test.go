package crypto_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/opendsar/dsar/crypto"
)

// FuzzValidToken fuzzes token parsing, the guard in front of every token
// and session lookup: what passes has exactly the shape NewToken makes, and
// its stored form is a SHA-256 in hex.
func FuzzValidToken(f *testing.F) {
	f.Add(crypto.NewToken())
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add(strings.Repeat("A", 44))
	f.Add(strings.Repeat("+", 43))
	f.Add(strings.Repeat("A", 42) + "=")
	f.Add("' OR '1'='1' --                           ")
	f.Add("")
	f.Add("\xff\xfe" + strings.Repeat("A", 41))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	f.Fuzz(func(t *testing.T, s string) {
		if !crypto.ValidToken(s) {
			return
		}
		if len(s) != 43 {
			t.Fatalf("a token of %d characters passes", len(s))
		}
		for _, r := range s {
			if !strings.ContainsRune(alphabet, r) {
				t.Fatalf("a token with %q passes", r)
			}
		}
		h := crypto.HashToken(s)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 || h != strings.ToLower(h) {
			t.Fatalf("stored form %q is not a hex SHA-256", h)
		}
		if crypto.HashToken(s) != h {
			t.Fatal("HashToken is not deterministic")
		}
	})
}

// FuzzSealOpen fuzzes the sealing of PII: every plaintext comes back under
// the same key and aad, and any change to the sealed bytes, the aad or the
// key is refused with ErrDecrypt, never a panic or a wrong plaintext.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("Ada Lovelace <ada@example.org>"), []byte("request 1"), uint16(0), byte(1))
	f.Add([]byte{}, []byte{}, uint16(5), byte(0x80))
	f.Add(bytes.Repeat([]byte{0}, 1000), []byte("document"), uint16(999), byte(0xff))
	key := crypto.NewDataKey()
	other := crypto.NewDataKey()
	f.Fuzz(func(t *testing.T, plaintext, aad []byte, at uint16, flip byte) {
		sealed, err := crypto.Seal(key, plaintext, aad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := crypto.Open(key, sealed, aad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("round trip: %v", err)
		}
		if flip != 0 {
			tampered := append([]byte(nil), sealed...)
			tampered[int(at)%len(tampered)] ^= flip
			if _, err := crypto.Open(key, tampered, aad); !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("tampered byte %d: %v", int(at)%len(tampered), err)
			}
			if _, err := crypto.Open(key, sealed[:int(at)%len(sealed)], aad); !errors.Is(err, crypto.ErrDecrypt) {
				t.Fatalf("truncated to %d bytes: %v", int(at)%len(sealed), err)
			}
		}
		if _, err := crypto.Open(other, sealed, aad); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("another key: %v", err)
		}
		if _, err := crypto.Open(key, sealed, append(append([]byte(nil), aad...), 'x')); !errors.Is(err, crypto.ErrDecrypt) {
			t.Fatalf("another aad: %v", err)
		}
	})
}
