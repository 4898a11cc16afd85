package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/crypto"
)

// TestKeysConnectorAndABadConnectorConfig: `dsar keys connector` prints the
// payload key of the configured master key (and not the master key), and
// `dsar connector` refuses a config that cannot work, naming the key to
// fix, before it connects to anything.
func TestKeysConnectorAndABadConnectorConfig(t *testing.T) {
	master := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	t.Setenv("DSAR_MODE", "dev")
	t.Setenv("DSAR_CONFIG", "")
	t.Setenv("DSAR_CRYPTO_MASTER_KEY", master)
	t.Setenv("DSAR_CRYPTO_MASTER_KEY_ID", "k7")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"keys", "connector"}, nil, &out, &errOut); err != nil {
		t.Fatalf("keys connector: %v (%s)", err, errOut.String())
	}
	keys, err := crypto.NewKeyring("k7", master, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	printed := strings.TrimSpace(out.String())
	if printed != codec.PayloadKey(keys) || strings.Contains(printed, master) {
		t.Fatalf("keys connector printed %q", printed)
	}
	if _, err := codec.NewFromPayloadKey(printed); err != nil {
		t.Fatalf("the printed key does not make a codec: %v", err)
	}

	cfg := filepath.Join(t.TempDir(), "connector.yaml")
	if err := os.WriteFile(cfg, []byte(`temporal:
  address: 127.0.0.1:7233
  task_queue: dsar-source-1
  payload_key: "`+printed+`"
service:
  url: https://dsar.example.com
sources:
  - id: 6f1c1f9e-1f43-4a8e-9a53-0d8a1f0a2b11
    kind: mysql
    dsn: connector:secret@tcp(db.internal:3306)/shop
    token: dsc_x
    statements:
      identify: SELECT id FROM customers WHERE email = ?
      export:
        - name: orders
          query: SELECT * FROM orders WHERE customer_id = ? AND id > ? ORDER BY id LIMIT ?
`), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"connector", "--config", cfg}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "sources[0].statements.export[0].cursor") {
		t.Fatalf("a config without a cursor: %v", err)
	}
}
