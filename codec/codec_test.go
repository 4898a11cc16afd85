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
