package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opendsar/dsar/codec"
)

// TestPayloadKeyAloneReadsAndSealsTheService's checks a connector's codec,
// built from the printed payload key without the master key: it opens what
// the service sealed and the service opens what it sealed; it refuses
// payloads of another master key and plaintext.
func TestPayloadKeyAloneReadsAndSealsTheServices(t *testing.T) {
	keys := keyring(t, "k1", 1)
	service := codec.DataConverter(keys)
	printed := codec.PayloadKey(keys)
	if strings.Contains(printed, "AQEBAQEB") { // the master key's base64
		t.Fatal("the payload key shows the master key")
	}
	conn, err := codec.PayloadKeyDataConverter(printed)
	if err != nil {
		t.Fatal(err)
	}
	type step struct{ RequestID, Step string }
	p, err := service.ToPayload(step{"r1", "export"})
	if err != nil {
		t.Fatal(err)
	}
	var got step
	if err := conn.FromPayload(p, &got); err != nil || got.Step != "export" {
		t.Fatalf("the connector reads %+v, %v", got, err)
	}
	p, err = conn.ToPayload(step{"r1", "erase"})
	if err != nil {
		t.Fatal(err)
	}
	if err := service.FromPayload(p, &got); err != nil || got.Step != "erase" {
		t.Fatalf("the service reads %+v, %v", got, err)
	}

	other, err := codec.DataConverter(keyring(t, "k2", 2)).ToPayload(step{"r2", "export"})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.FromPayload(other, &got); err == nil {
		t.Fatal("the connector opened a payload of another master key")
	}
	plain, _ := conn.ToPayload("words") // a readable string stays plaintext
	if err := conn.FromPayload(plain, &got); !errors.Is(err, codec.ErrNotSealed) {
		t.Fatalf("plaintext: %v, want ErrNotSealed", err)
	}
	for _, bad := range []string{"", "k1", "k1:not base64", "k1:AAAA", ":" + strings.SplitN(printed, ":", 2)[1]} {
		if _, err := codec.PayloadKeyDataConverter(bad); err == nil {
			t.Errorf("payload key %q accepted", bad)
		}
	}
}
