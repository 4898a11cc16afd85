// Package codec encrypts Temporal payloads: every workflow input, result,
// signal, query answer and failure leaves the service sealed with
// AES-256-GCM, so Temporal's history holds nothing readable. The key id
// travels in the payload's metadata so keys can rotate.
//
// Decoding refuses a payload the codec did not seal: whoever reaches
// Temporal's frontend can start or signal a workflow, but without the master
// key cannot make a payload the worker accepts. (Search attributes never
// pass through here: the SDK encodes them with its default converter.)
package codec

import (
	"errors"
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

// ErrNotSealed is the error of decoding a payload the codec did not seal:
// one sent to Temporal by someone without the master key.
var ErrNotSealed = errors.New("codec: payload refused: not sealed by this service's codec")

// Codec is a converter.PayloadCodec that seals payloads under a subkey of
// the keyring's current master key.
type Codec struct {
	keys *crypto.Keyring
	// lenient passes payloads that are not sealed through on Decode: for
	// showing a history to people (the codec server), never for the
	// worker or clients that act on what they decode.
	lenient bool
}

// New returns a codec over the keyring. Its Decode refuses payloads it did
// not seal (ErrNotSealed).
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

// Decode opens payloads that Encode sealed. Any other payload is refused
// with ErrNotSealed (passed through as it is by the codec server's lenient
// codec).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEnvelope {
			if !c.lenient {
				return nil, fmt.Errorf("%w (its encoding is %q, not %q)", ErrNotSealed, p.GetMetadata()[MetadataEncoding], EncodingEnvelope)
			}
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
// puts authentication in front of it. Its decode shows a payload that is
// not sealed (a search attribute, or one someone sent in the clear) as it
// is: it only shows, the worker still refuses such payloads.
func Handler(keys *crypto.Keyring) http.Handler {
	return converter.NewPayloadCodecHTTPHandler(&Codec{keys: keys, lenient: true})
}
