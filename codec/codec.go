// Package codec encrypts Temporal payloads: every workflow input, result,
// signal, query answer and failure leaves the service sealed with
// AES-256-GCM, so Temporal's history holds nothing readable. The key id
// travels in the payload's metadata so keys can rotate.
//
// Decoding refuses a payload the codec did not seal: whoever reaches
// Temporal's frontend can start or signal a workflow, but without the master
// key cannot make a payload the worker accepts. (Search attributes never
// pass through here: the SDK encodes them with its default converter.)
//
// One kind of payload stays readable, so operators read it in the Temporal
// UI and CLI without a codec: the words the service writes about a workflow
// for people (a workflow's static summary and details, timer and activity
// summaries, and the current details the workflow-metadata query answers).
// The SDK converts each of those alone (DataConverter.ToPayload of a
// string), never through ToPayloads, which every input, result, signal and
// query answer goes through. The data converter marks them
// (MetadataReadable), and Encode leaves a marked payload unsealed, without
// the mark: a plain "json/plain" payload, the only form the UI and the CLI
// show as text. Decode still refuses every unsealed payload, those too: the
// worker never reads them back, so nothing unsealed, marked or not, reaches
// a workflow.
package codec

import (
	"errors"
	"fmt"
	"net/http"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/opendsar/dsar/crypto"
)

// Metadata keys and values of an encrypted payload.
const (
	MetadataEncoding = converter.MetadataEncoding
	MetadataKeyID    = "encryption-key-id"
	EncodingEnvelope = "binary/encrypted"
	label            = "dsar temporal payload codec v1"

	// MetadataReadable marks, between the data converter and the codec, a
	// payload to leave readable: ReadableWords (a string the SDK converted
	// alone: a summary or details for people) or ReadableMetadata (the
	// answer to the workflow-metadata query: the current details and the
	// names of the handlers). Encode removes the mark.
	MetadataReadable = "dsar-readable"
	ReadableWords    = "words"
	ReadableMetadata = "workflow-metadata"
)

// workflowMetadataType is the message type of the metadata query's answer.
const workflowMetadataType = "temporal.api.sdk.v1.WorkflowMetadata"

// ErrNotSealed is the error of decoding a payload the codec did not seal:
// one sent to Temporal by someone without the master key.
var ErrNotSealed = errors.New("codec: payload refused: not sealed by this service's codec")

// Codec is a converter.PayloadCodec that seals payloads under a subkey of
// the keyring's current master key.
type Codec struct {
	keys payloadKeys
	// lenient passes payloads that are not sealed through on Decode: for
	// showing a history to people (the codec server), never for the
	// worker or clients that act on what they decode.
	lenient bool
}

// New returns a codec over the keyring. Its Decode refuses payloads it did
// not seal (ErrNotSealed).
func New(keys *crypto.Keyring) *Codec { return &Codec{keys: keyringKeys{keys}} }

// payloadKeys are the keys a codec seals and opens with: the current one
// with its id, and any by id.
type payloadKeys interface {
	current() (id string, key []byte)
	byID(id string) ([]byte, bool)
}

// keyringKeys derives the payload keys from the master keys.
type keyringKeys struct{ k *crypto.Keyring }

func (r keyringKeys) current() (string, []byte)     { return r.k.CurrentID(), r.k.Derive(label) }
func (r keyringKeys) byID(id string) ([]byte, bool) { return r.k.DeriveFrom(id, label) }

// Encode seals each payload whole (metadata and data) into a new payload,
// except one marked readable, which it returns without the mark.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	keyID, key := c.keys.current()
	for i, p := range payloads {
		if readable(p) != "" {
			plain := proto.Clone(p).(*commonpb.Payload)
			delete(plain.Metadata, MetadataReadable)
			out[i] = plain
			continue
		}
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
				MetadataKeyID:    []byte(keyID),
			},
			Data: sealed,
		}
	}
	return out, nil
}

// Decode opens payloads that Encode sealed. Any other payload is refused
// with ErrNotSealed, those Encode left readable included (passed through as
// they are by the codec server's lenient codec).
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
		key, ok := c.keys.byID(keyID)
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

// DataConverter is the default data converter, marking the words for
// people readable (see the package's comment), wrapped in the codec.
func DataConverter(keys *crypto.Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(readableConverter{converter.GetDefaultDataConverter()}, New(keys))
}

// readable returns the kind of a payload marked readable, or "".
func readable(p *commonpb.Payload) string {
	switch k := string(p.GetMetadata()[MetadataReadable]); k {
	case ReadableWords, ReadableMetadata:
		return k
	}
	return ""
}

// readableConverter is a data converter that marks the words for people
// readable (MetadataReadable): a string converted alone (ToPayload), and the
// answer of the workflow-metadata query (ToPayloads of one RawValue of that
// message type). It decodes as the converter it wraps.
type readableConverter struct {
	converter.DataConverter
}

// ToPayload marks a string readable; anything else is converted as usual.
func (c readableConverter) ToPayload(value any) (*commonpb.Payload, error) {
	p, err := c.DataConverter.ToPayload(value)
	if err != nil || p == nil {
		return p, err
	}
	if _, ok := value.(string); ok {
		p.Metadata[MetadataReadable] = []byte(ReadableWords)
	}
	return p, nil
}

// ToPayloads marks the workflow-metadata query's answer readable; anything
// else (inputs, results, signals, query answers) is converted as usual, to
// be sealed.
func (c readableConverter) ToPayloads(values ...any) (*commonpb.Payloads, error) {
	ps, err := c.DataConverter.ToPayloads(values...)
	if err != nil || ps == nil || len(values) != 1 {
		return ps, err
	}
	if raw, ok := values[0].(converter.RawValue); ok && len(ps.Payloads) == 1 &&
		string(raw.Payload().GetMetadata()["messageType"]) == workflowMetadataType {
		p := proto.Clone(ps.Payloads[0]).(*commonpb.Payload)
		p.Metadata[MetadataReadable] = []byte(ReadableMetadata)
		ps = &commonpb.Payloads{Payloads: []*commonpb.Payload{p}}
	}
	return ps, nil
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
	return converter.NewPayloadCodecHTTPHandler(&Codec{keys: keyringKeys{keys}, lenient: true})
}
