// Package webhook is the contract of a webhook data source
// (docs/webhooks.md): the job the service posts to the source's endpoint,
// the result the source's owner posts back to the job's callback URL, and
// the Standard Webhooks signature both carry, made with the source's
// secret. It has no dependency beyond the standard library, so a receiver
// written in Go may use it as the reference.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed message (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret: "whsec_" and the base64 (standard
// alphabet, padded) of the key's bytes.
const SecretPrefix = "whsec_"

// secretBytes is the size of the keys the service makes.
const secretBytes = 32

// Tolerance is how far a message's timestamp may be from the receiver's
// clock, either way: an older (or newer) message is refused as stale.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	// ErrUnsigned: a header is missing or malformed.
	ErrUnsigned = errors.New("webhook: the message is not signed (webhook-id, webhook-timestamp and webhook-signature are required)")
	// ErrSignature: no signature of the message matches the secret.
	ErrSignature = errors.New("webhook: no signature matches the message")
	// ErrStale: the signature matches, but its timestamp is outside Tolerance.
	ErrStale = errors.New("webhook: the message's timestamp is more than 5 minutes away")
)

// NewSecret returns a new random secret: SecretPrefix and the base64 of
// 32 random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("webhook: random source failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// key is the HMAC key of a secret: the bytes its base64 holds.
func key(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, errors.New("webhook: a secret is " + SecretPrefix + " and base64")
	}
	return k, nil
}

// ValidSecret reports whether s has a secret's shape.
func ValidSecret(s string) bool {
	_, err := key(s)
	return strings.HasPrefix(s, SecretPrefix) && err == nil
}

// Sign is the signature of a message: "v1," and the base64 of the
// HMAC-SHA256, keyed by the secret's bytes, of id "." timestamp (Unix
// seconds) "." body.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	k, err := key(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// SetHeaders signs a message for sending: its id, timestamp and
// signature go into h.
func SetHeaders(h http.Header, secret, id string, timestamp time.Time, body []byte) error {
	sig, err := Sign(secret, id, timestamp, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// maxIDLength bounds a message id.
const maxIDLength = 200

// Verify checks a received message's signature against the secret, and its
// timestamp against now: nil, ErrUnsigned, ErrSignature or ErrStale (only
// for a message whose signature matches). The header may carry several
// space-separated signatures (a sender rotating its secret); one matching
// "v1" signature is enough. It returns the message's id: a receiver
// refuses an id it has seen (a replay).
func Verify(secret string, h http.Header, body []byte, now time.Time) (string, error) {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || len(id) > maxIDLength || ts == "" || sigs == "" {
		return "", ErrUnsigned
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", ErrUnsigned
	}
	at := time.Unix(sec, 0)
	want, err := Sign(secret, id, at, body)
	if err != nil {
		return "", err
	}
	match := false
	for _, s := range strings.Fields(sigs) {
		if strings.HasPrefix(s, "v1,") && hmac.Equal([]byte(s), []byte(want)) {
			match = true
		}
	}
	switch {
	case !match:
		return "", ErrSignature
	case now.Sub(at) > Tolerance || at.Sub(now) > Tolerance:
		return id, ErrStale
	}
	return id, nil
}
