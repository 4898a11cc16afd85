package connector_test

import (
	"strings"
	"testing"

	"github.com/opendsar/dsar/connector"
)

const goodConfig = `temporal:
  address: 127.0.0.1:7233
  task_queue: dsar-source-1
  payload_key: "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
service:
  url: https://dsar.example.com/
sources:
  - id: 6f1c1f9e-1f43-4a8e-9a53-0d8a1f0a2b11
    kind: postgres
    dsn: postgres://connector@db.internal/crm
    token: dsc_x
    statements:
      identify: SELECT id FROM customers WHERE email = $1
      export:
        - name: orders
          query: SELECT * FROM orders WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3
          cursor: id
      count:
        - SELECT count(*) FROM orders WHERE customer_id = $1
      erase:
        - DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = $1 LIMIT $2)
      verify:
        - SELECT count(*) FROM orders WHERE customer_id = $1
`

// TestConfigErrorsNameTheKey checks that a config that cannot work is
// refused at start-up with the key to fix, and that a good one gets its
// defaults.
func TestConfigErrorsNameTheKey(t *testing.T) {
	cfg, err := connector.Parse([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sources[0]
	if s.PageSize != connector.DefaultPageSize || s.BatchSize != connector.DefaultBatchSize || *s.Statements.Export[0].Start != "0" ||
		cfg.Service.URL != "https://dsar.example.com" || cfg.Temporal.Namespace != "default" {
		t.Fatalf("defaults: %+v", cfg)
	}
	for _, tc := range []struct{ from, to, key string }{
		{"  address: 127.0.0.1:7233\n", "", "temporal.address"},
		{"  task_queue: dsar-source-1\n", "", "temporal.task_queue"},
		{`"k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="`, `"k1:short"`, "temporal.payload_key"},
		{"url: https://dsar.example.com/", "url: dsar.example.com", "service.url"},
		{"url: https://dsar.example.com/", "url: http://dsar.example.com/", "service.url"},
		{"kind: postgres", "kind: oracle", "sources[0].kind"},
		{"    token: dsc_x\n", "", "sources[0].token"},
		{"id: 6f1c1f9e-1f43-4a8e-9a53-0d8a1f0a2b11", "id: crm", "sources[0].id"},
		{"email = $1", "email = $2", "sources[0].statements.identify"},
		{"email = $1", "email = ?", "sources[0].statements.identify"},
		{"LIMIT $3", "LIMIT 10", "sources[0].statements.export[0].query"},
		{"          cursor: id\n", "", "sources[0].statements.export[0].cursor"},
		{"LIMIT $2)", "LIMIT 100)", "sources[0].statements.erase[0]"},
		{"      verify:\n        - SELECT count(*) FROM orders WHERE customer_id = $1\n", "", "sources[0].statements.verify"},
		{"    dsn:", "    page_size: -1\n    dsn:", "sources[0].page_size"},
		{"    dsn:", "    pagesize: 10\n    dsn:", "pagesize"},
	} {
		raw := strings.Replace(goodConfig, tc.from, tc.to, 1)
		if raw == goodConfig {
			t.Fatalf("%q is not in the config", tc.from)
		}
		_, err := connector.Parse([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q -> %q: %v, want an error naming %s", tc.from, tc.to, err, tc.key)
		}
	}
	if _, err := connector.Parse([]byte(strings.Replace(goodConfig, "https://dsar.example.com/", "http://127.0.0.1:8080/", 1))); err != nil {
		t.Errorf("http to this machine itself: %v", err)
	}
	mysql := strings.NewReplacer("kind: postgres", "kind: mysql", "$1", "?", "$2", "?", "$3", "?").Replace(goodConfig)
	if _, err := connector.Parse([]byte(mysql)); err != nil {
		t.Fatalf("the same statements for MySQL: %v", err)
	}
}
