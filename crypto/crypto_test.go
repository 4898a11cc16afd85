package crypto_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/opendsar/dsar/crypto"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestSealOpenRefusesTampering(t *testing.T) {
	k := crypto.NewDataKey()
	sealed, err := crypto.Seal(k, []byte("Ada Lovelace"), []byte("request 1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Ada")) {
		t.Fatal("ciphertext holds the plaintext")
	}
	if pt, err := crypto.Open(k, sealed, []byte("request 1")); err != nil || string(pt) != "Ada Lovelace" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := crypto.Open(k, sealed, []byte("request 2")); !errors.Is(err, crypto.ErrDecrypt) {
		t.Errorf("moved to another request: want ErrDecrypt, got %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := crypto.Open(k, sealed, []byte("request 1")); !errors.Is(err, crypto.ErrDecrypt) {
		t.Errorf("tampered: want ErrDecrypt, got %v", err)
	}
}

func TestKeyRotationKeepsOldDataReadable(t *testing.T) {
	old, err := crypto.NewKeyring("k1", key(1), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	dk := crypto.NewDataKey()
	wrapped, id, err := old.Wrap(dk)
	if err != nil || id != "k1" {
		t.Fatalf("wrap: %v %q", err, id)
	}
	rotated, err := crypto.NewKeyring("k2", key(2), []string{"k1:" + key(1)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := rotated.Unwrap(wrapped, id)
	if err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("unwrap after rotation: %v", err)
	}
	if _, id2, _ := rotated.Wrap(dk); id2 != "k2" {
		t.Errorf("new data keys should be wrapped by the current key, got %s", id2)
	}
	if !bytes.Equal(old.BlindIndex("Ada@Example.com "), rotated.BlindIndex("ada@example.com")) {
		t.Error("the blind index must survive a rotation when index_key_id names the old key")
	}
	other, _ := crypto.NewKeyring("k9", key(9), nil, "")
	if bytes.Equal(other.BlindIndex("ada@example.com"), old.BlindIndex("ada@example.com")) {
		t.Error("the blind index must depend on the key")
	}
	if _, err := rotated.Unwrap(wrapped, "nope"); err == nil {
		t.Error("an unknown key id must fail")
	}
}

func TestPasswords(t *testing.T) {
	h := crypto.HashPassword("correct horse battery staple")
	if !bytes.HasPrefix([]byte(h), []byte("$argon2id$v=19$m=19456,t=2,p=1$")) {
		t.Errorf("not an OWASP-parameter argon2id PHC string: %s", h)
	}
	if err := crypto.CheckPassword(h, "correct horse battery staple"); err != nil {
		t.Errorf("right password refused: %v", err)
	}
	if err := crypto.CheckPassword(h, "Correct horse battery staple"); !errors.Is(err, crypto.ErrPasswordMismatch) {
		t.Errorf("wrong password: %v", err)
	}
	if crypto.HashPassword("same") == crypto.HashPassword("same") {
		t.Error("hashes must be salted")
	}
}

func TestTokens(t *testing.T) {
	a, b := crypto.NewToken(), crypto.NewToken()
	if a == b || !crypto.ValidToken(a) {
		t.Fatalf("tokens: %q %q", a, b)
	}
	for _, junk := range []string{"", "abc", a[:42], a + "x", "!" + a[1:]} {
		if crypto.ValidToken(junk) {
			t.Errorf("ValidToken(%q) = true", junk)
		}
	}
	if crypto.HashToken(a) == a || len(crypto.HashToken(a)) != 64 {
		t.Error("HashToken should be a hex SHA-256")
	}
}

func TestKeyedTokens(t *testing.T) {
	k1, _ := crypto.NewKeyring("k1", key(1), nil, "")
	rotated, _ := crypto.NewKeyring("k2", key(2), []string{"k1:" + key(1)}, "k1")
	other, _ := crypto.NewKeyring("k1", key(9), nil, "")
	tok := k1.KeyedToken("mail 1")
	switch {
	case !crypto.ValidToken(tok):
		t.Errorf("%q is not a token", tok)
	case k1.KeyedToken("mail 1") != tok || rotated.KeyedToken("mail 1") != tok:
		t.Error("the same key (and index key) gave another token")
	case k1.KeyedToken("mail 2") == tok || other.KeyedToken("mail 1") == tok:
		t.Error("another key or master key gave the same token")
	}
}
