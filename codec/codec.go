// Package codec encrypts Temporal payloads: every workflow input, result,
// signal, query answer and failure leaves the service sealed with
// AES-256-GCM, so Temporal's history holds nothing readable. The key id
// travels in the payload's metadata so keys can rotate.
package codec

import (
	"fmt"
	"net/http"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar/crypto"
)

// Metadata keys and values of an encrypted payload.
const (
	MetadataEncoding = converter.MetadataEncoding
	MetadataKeyID    = "encryption-key-id"
	EncodingEnvelope = "binary/encrypted"
	label            = "dsar temporal payload codec v1"
)

// Codec is a converter.PayloadCodec that seals payloads under a subkey of
// the keyring's current master key.
type Codec struct {
	keys *crypto.Keyring
}

// New returns a codec over the keyring.
func New(keys *crypto.Keyring) *Codec { return &Codec{keys: keys} }

// Encode seals each payload whole (metadata and data) into a new payload.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	key := c.keys.Derive(label)
	for i, p := range payloads {
		raw, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		sealed, err := crypto.Seal(key, raw, nil)
		if err != nil {
			return nil, fmt.Errorf("codec: seal payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEnvelope),
				MetadataKeyID:    []byte(c.keys.CurrentID()),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode opens payloads that Encode sealed and passes others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.Metadata[MetadataEncoding]) != EncodingEnvelope {
			out[i] = p
			continue
		}
		keyID := string(p.Metadata[MetadataKeyID])
		key, ok := c.keys.DeriveFrom(keyID, label)
		if !ok {
			return nil, fmt.Errorf("codec: unknown key id %q", keyID)
		}
		raw, err := crypto.Open(key, p.Data, nil)
		if err != nil {
			return nil, fmt.Errorf("codec: open payload: %w", err)
		}
		var dec commonpb.Payload
		if err := dec.Unmarshal(raw); err != nil {
			return nil, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// DataConverter is the default data converter wrapped in the codec.
func DataConverter(keys *crypto.Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(keys))
}

// FailureConverter encodes failure messages and stack traces through dc, so
// an error's text (which may quote input) is encrypted too.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

// Handler serves the Temporal codec server protocol (POST /encode and
// /decode under its mount point) for the Temporal UI and CLI. The caller
// puts authentication in front of it.
func Handler(keys *crypto.Keyring) http.Handler {
	return converter.NewPayloadCodecHTTPHandler(New(keys))
}
