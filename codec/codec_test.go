package codec_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/crypto"
)

func keyring(t *testing.T, id string, b byte, prev ...string) *crypto.Keyring {
	t.Helper()
	k, err := crypto.NewKeyring(id, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)), prev, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPayloadsAreSealedAndKeyed(t *testing.T) {
	dc := codec.DataConverter(keyring(t, "k1", 1))
	p, err := dc.ToPayload(map[string]string{"email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("ada@example.com")) {
		t.Fatal("the payload holds the plaintext")
	}
	if string(p.Metadata["encoding"]) != codec.EncodingEnvelope || string(p.Metadata[codec.MetadataKeyID]) != "k1" {
		t.Errorf("metadata: %q", p.Metadata)
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil || back["email"] != "ada@example.com" {
		t.Fatalf("round trip: %v %v", back, err)
	}
	// After a rotation, old payloads still decode.
	rotated := codec.DataConverter(keyring(t, "k2", 2, "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))))
	if err := rotated.FromPayload(p, &back); err != nil {
		t.Fatalf("decode with a previous key: %v", err)
	}
	// A stranger's key does not.
	if err := codec.DataConverter(keyring(t, "k1", 7)).FromPayload(p, &back); err == nil {
		t.Fatal("decoded with the wrong key")
	}
}

func TestFailureMessagesAreEncrypted(t *testing.T) {
	dc := codec.DataConverter(keyring(t, "k1", 1))
	fc := codec.FailureConverter(dc)
	f := fc.ErrorToFailure(temporal.NewApplicationError("mail to ada@example.com bounced", "Bounce"))
	if strings.Contains(f.GetMessage(), "ada@example.com") || strings.Contains(f.String(), "ada@example.com") {
		t.Fatalf("failure message in the clear: %v", f)
	}
	if err := fc.FailureToError(f); !strings.Contains(err.Error(), "ada@example.com") {
		t.Errorf("the failure should decode back: %v", err)
	}
}

func TestCodecServerDecodes(t *testing.T) {
	keys := keyring(t, "k1", 1)
	p, _ := codec.DataConverter(keys).ToPayload("status words")
	srv := httptest.NewServer(codec.Handler(keys))
	defer srv.Close()
	body, _ := json.Marshal(map[string]any{"payloads": []*commonpb.Payload{p}})
	resp, err := http.Post(srv.URL+"/decode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Payloads []*commonpb.Payload `json:"payloads"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Payloads) != 1 {
		t.Fatalf("decode answer: %v %+v", err, out)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s); err != nil || s != "status words" {
		t.Fatalf("decoded payload: %q %v", s, err)
	}
}

// TestPlaintextPayloadsAreRefused: a payload sent in the clear (by a client
// without the master key) does not decode; the codec server, which only
// shows payloads, passes it through as it is.
func TestPlaintextPayloadsAreRefused(t *testing.T) {
	keys := keyring(t, "k1", 1)
	plain, err := converter.GetDefaultDataConverter().ToPayload(map[string]any{"Verified": true, "By": "someone"})
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	err = codec.DataConverter(keys).FromPayload(plain, &v)
	if !errors.Is(err, codec.ErrNotSealed) {
		t.Fatalf("a plaintext payload decoded: %v %v", v, err)
	}
	if !strings.Contains(err.Error(), "not sealed") {
		t.Errorf("error says %q", err)
	}
	// One plaintext payload among sealed ones spoils the lot.
	sealed, _ := codec.DataConverter(keys).ToPayloads("ok")
	if _, err := codec.New(keys).Decode([]*commonpb.Payload{sealed.Payloads[0], plain}); !errors.Is(err, codec.ErrNotSealed) {
		t.Errorf("mixed payloads: %v", err)
	}

	srv := httptest.NewServer(codec.Handler(keys))
	defer srv.Close()
	body, _ := json.Marshal(map[string]any{"payloads": []*commonpb.Payload{plain}})
	resp, err := http.Post(srv.URL+"/decode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("codec server on a plaintext payload: %d", resp.StatusCode)
	}
}

// TestWordsForPeopleStayReadable: a string the SDK converts alone (a
// workflow's summary, a timer's summary) and the metadata query's answer
// (the current details) leave the codec as plain "json/plain" payloads,
// the only form the UI and the CLI show as text; the same string as an
// input, result or signal (ToPayloads) is sealed; and the worker's decoding
// still refuses every unsealed payload, the readable ones and any carrying
// the mark included.
func TestWordsForPeopleStayReadable(t *testing.T) {
	keys := keyring(t, "k1", 1)
	dc := codec.DataConverter(keys)
	summary, err := dc.ToPayload("Access request · DE · due 3 March 2027")
	if err != nil {
		t.Fatal(err)
	}
	if len(summary.Metadata) != 1 || string(summary.Metadata["encoding"]) != "json/plain" {
		t.Errorf("the summary's metadata: %q, want only json/plain", summary.Metadata)
	}
	var words string
	if err := converter.GetDefaultDataConverter().FromPayload(summary, &words); err != nil || words != "Access request · DE · due 3 March 2027" {
		t.Fatalf("the summary without the codec: %q %v", words, err)
	}
	if err := dc.FromPayload(summary, &words); !errors.Is(err, codec.ErrNotSealed) {
		t.Errorf("the worker's converter decodes an unsealed summary: %v", err)
	}

	// The same string as an argument is sealed.
	args, err := dc.ToPayloads("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if p := args.Payloads[0]; string(p.Metadata["encoding"]) != codec.EncodingEnvelope || bytes.Contains(p.Data, []byte("ada@")) {
		t.Errorf("a string argument is not sealed: %q", p.Metadata)
	}
	// So is any value that is not a string, converted alone.
	if p, _ := dc.ToPayload(map[string]string{"email": "ada@example.com"}); string(p.Metadata["encoding"]) != codec.EncodingEnvelope {
		t.Errorf("a map converted alone is not sealed: %q", p.Metadata)
	}

	// The metadata query's answer, as the SDK builds it.
	md, err := converter.GetDefaultDataConverter().ToPayload(&sdkpb.WorkflowMetadata{CurrentDetails: "Waiting for identity · due 2027-03-03"})
	if err != nil {
		t.Fatal(err)
	}
	mds, err := dc.ToPayloads(converter.NewRawValue(md))
	if err != nil {
		t.Fatal(err)
	}
	var back sdkpb.WorkflowMetadata
	if err := converter.GetDefaultDataConverter().FromPayloads(mds, &back); err != nil || back.CurrentDetails != "Waiting for identity · due 2027-03-03" {
		t.Fatalf("current details without the codec: %q %v", back.CurrentDetails, err)
	}
	if _, marked := mds.Payloads[0].Metadata[codec.MetadataReadable]; marked {
		t.Error("the mark left the codec")
	}
	// Another raw value is sealed.
	other, _ := converter.GetDefaultDataConverter().ToPayload(map[string]string{"email": "ada@example.com"})
	if ps, _ := dc.ToPayloads(converter.NewRawValue(other)); string(ps.Payloads[0].Metadata["encoding"]) != codec.EncodingEnvelope {
		t.Errorf("a raw value is not sealed: %q", ps.Payloads[0].Metadata)
	}

	// A forged signal carrying the mark is refused, as unsealed.
	forged := &commonpb.Payload{
		Metadata: map[string][]byte{"encoding": []byte("json/plain"), codec.MetadataReadable: []byte(codec.ReadableWords)},
		Data:     []byte(`"verified"`),
	}
	if err := dc.FromPayload(forged, &words); !errors.Is(err, codec.ErrNotSealed) {
		t.Fatalf("a forged readable payload decoded: %q %v", words, err)
	}
}
