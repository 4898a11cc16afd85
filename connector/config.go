package connector

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/opendsar/dsar/codec"
)

// Config is a connector's configuration (connector.yaml): how it reaches
// Temporal and the service, and, per data source, the database and the
// statements of each step. It is the only place the database credentials
// live: the service never sees them.
type Config struct {
	Temporal Temporal `yaml:"temporal"`
	Service  Service  `yaml:"service"`
	Sources  []Source `yaml:"sources"`
}

// Temporal is how the connector reaches Temporal: the same keys as the
// service's temporal section, its task queue, and the payload key.
type Temporal struct {
	Address    string `yaml:"address"`
	Namespace  string `yaml:"namespace"`
	TaskQueue  string `yaml:"task_queue"`
	TLS        bool   `yaml:"tls"`
	TLSCert    string `yaml:"tls_cert"`
	TLSKey     string `yaml:"tls_key"`
	TLSCA      string `yaml:"tls_ca"`
	ServerName string `yaml:"server_name"`
	APIKey     string `yaml:"api_key"`
	// PayloadKey seals and opens the workflows' payloads: "id:base64", as
	// `dsar keys connector` prints it. PayloadKeyEnv names an environment
	// variable holding it instead.
	PayloadKey    string `yaml:"payload_key"`
	PayloadKeyEnv string `yaml:"payload_key_env"`
}

// Service is the DSAR service the connector fetches subjects from and
// uploads exports to.
type Service struct {
	URL string `yaml:"url"`
}

// Source is one data source the connector works for.
type Source struct {
	ID   string `yaml:"id"`   // the data source's id in the service
	Kind string `yaml:"kind"` // postgres or mysql
	// DSN is the database's connection string (DSNEnv: the name of an
	// environment variable holding it).
	DSN    string `yaml:"dsn"`
	DSNEnv string `yaml:"dsn_env"`
	// Token is the source's connector token (TokenEnv: a variable holding
	// it), from POST /api/v1/data-sources/{id}/connector-token.
	Token    string `yaml:"token"`
	TokenEnv string `yaml:"token_env"`
	// PageSize is the rows an export statement reads at once; BatchSize
	// the rows an erase statement touches at once; PartSize the bytes of
	// an upload's part.
	PageSize  int   `yaml:"page_size"`
	BatchSize int   `yaml:"batch_size"`
	PartSize  int64 `yaml:"part_size"`
	// FileName names the export's task file (.jsonl).
	FileName   string     `yaml:"file_name"`
	Statements Statements `yaml:"statements"`
}

// Statements are a source's parameterised statements, per step. The
// parameters are positional: $1, $2... on PostgreSQL, ? on MySQL, in the
// order given here; nothing of the data is ever written into a statement.
type Statements struct {
	// Identify finds the subject's keys: parameter the verified email;
	// one column, a row per key.
	Identify string `yaml:"identify"`
	// Export reads one page of a table's rows of one key: parameters the
	// key, the cursor (rows after it) and the page size; ordered by the
	// cursor column.
	Export []Export `yaml:"export"`
	// Count (dry run) counts the rows an erasure would touch: parameter
	// the key; one row, one number. Their sum is the match.
	Count []string `yaml:"count"`
	// Erase deletes or masks one batch of a key's rows: parameters the key
	// and the batch size. Each runs again until it touches no row, in
	// order: put the statement that removes what identify finds last.
	Erase []string `yaml:"erase"`
	// Verify counts what is left of a key: parameter the key; one row, one
	// number. Their sum must be 0.
	Verify []string `yaml:"verify"`
}

// Export is one export statement: the table's name in the export, the
// statement, and its cursor column.
type Export struct {
	Name   string `yaml:"name"`
	Query  string `yaml:"query"`
	Cursor string `yaml:"cursor"`
	// Start is a value below every cursor (default "0"; "" for text).
	Start *string `yaml:"start"`
}

// Defaults.
const (
	DefaultPageSize  = 1000
	DefaultBatchSize = 1000
	DefaultPartSize  = 4 << 20
	maxPartSize      = 16 << 20 // the service refuses larger parts
)

// Kinds of source a connector runs.
const (
	KindPostgres = "postgres"
	KindMySQL    = "mysql"
)

// ConfigError is a config that cannot work, naming its key.
type ConfigError struct {
	Key    string // e.g. sources[0].statements.export[1].cursor
	Reason string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Reason }

// Load reads and checks a connector config file: unknown keys, missing
// ones and statements with the wrong parameters are errors naming the key.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("connector config: %w", err)
	}
	cfg, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("connector config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads and checks a connector config (see Load).
func Parse(raw []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("not a valid connector config: %w", err)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Source returns the config of data source id.
func (c *Config) Source(id string) (Source, bool) {
	for _, s := range c.Sources {
		if s.ID == id {
			return s, true
		}
	}
	return Source{}, false
}

func fromEnv(value, env, key string) (string, error) {
	if value != "" || env == "" {
		return value, nil
	}
	v := os.Getenv(env)
	if v == "" {
		return "", &ConfigError{Key: key + "_env", Reason: "the environment variable " + env + " is empty"}
	}
	return v, nil
}

func (c *Config) check() error {
	var err error
	t := &c.Temporal
	if t.Address == "" {
		return &ConfigError{"temporal.address", "required (host:port of Temporal's frontend)"}
	}
	if t.Namespace == "" {
		t.Namespace = "default"
	}
	if t.TaskQueue == "" {
		return &ConfigError{"temporal.task_queue", "required: the data source's task queue, as the service shows it"}
	}
	if (t.TLSCert == "") != (t.TLSKey == "") {
		return &ConfigError{"temporal.tls_cert", "tls_cert and tls_key go together"}
	}
	if t.PayloadKey, err = fromEnv(t.PayloadKey, t.PayloadKeyEnv, "temporal.payload_key"); err != nil {
		return err
	}
	if t.PayloadKey == "" {
		return &ConfigError{"temporal.payload_key", "required: the payload key `dsar keys connector` prints"}
	}
	if _, _, err := codec.ParsePayloadKey(t.PayloadKey); err != nil {
		return &ConfigError{"temporal.payload_key", err.Error()}
	}
	u, perr := url.Parse(c.Service.URL)
	if c.Service.URL == "" || perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return &ConfigError{"service.url", "required: the service's base URL (https://...)"}
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		// The token and the subject's email would cross the network in
		// the clear.
		return &ConfigError{"service.url", "must be https (http only to this machine itself)"}
	}
	c.Service.URL = strings.TrimRight(c.Service.URL, "/")
	if len(c.Sources) == 0 {
		return &ConfigError{"sources", "list at least one data source"}
	}
	seen := map[string]bool{}
	for i := range c.Sources {
		if err := c.Sources[i].check(fmt.Sprintf("sources[%d]", i)); err != nil {
			return err
		}
		if seen[c.Sources[i].ID] {
			return &ConfigError{fmt.Sprintf("sources[%d].id", i), "this data source is listed twice"}
		}
		seen[c.Sources[i].ID] = true
	}
	return nil
}

func (s *Source) check(key string) error {
	var err error
	if _, perr := uuid.Parse(s.ID); perr != nil {
		return &ConfigError{key + ".id", "required: the data source's id in the service"}
	}
	if s.Kind != KindPostgres && s.Kind != KindMySQL {
		return &ConfigError{key + ".kind", "must be postgres or mysql"}
	}
	if s.DSN, err = fromEnv(s.DSN, s.DSNEnv, key+".dsn"); err != nil {
		return err
	}
	if s.DSN == "" {
		return &ConfigError{key + ".dsn", "required: the database's connection string"}
	}
	if s.Token, err = fromEnv(s.Token, s.TokenEnv, key+".token"); err != nil {
		return err
	}
	if s.Token == "" {
		return &ConfigError{key + ".token", "required: the source's connector token"}
	}
	switch {
	case s.PageSize == 0:
		s.PageSize = DefaultPageSize
	case s.PageSize < 0:
		return &ConfigError{key + ".page_size", "must be positive"}
	}
	switch {
	case s.BatchSize == 0:
		s.BatchSize = DefaultBatchSize
	case s.BatchSize < 0:
		return &ConfigError{key + ".batch_size", "must be positive"}
	}
	switch {
	case s.PartSize == 0:
		s.PartSize = DefaultPartSize
	case s.PartSize < 0 || s.PartSize > maxPartSize:
		return &ConfigError{key + ".part_size", fmt.Sprintf("must be between 1 and %d bytes", maxPartSize)}
	}
	if s.FileName == "" {
		s.FileName = "export.jsonl"
	}
	if !strings.HasSuffix(s.FileName, ".jsonl") || strings.ContainsAny(s.FileName, "/\\") {
		return &ConfigError{key + ".file_name", "must be a plain file name ending in .jsonl"}
	}
	return s.Statements.check(key+".statements", s.Kind)
}

func (st *Statements) check(key, kind string) error {
	if err := params(kind, key+".identify", st.Identify, 1); err != nil {
		return err
	}
	if len(st.Export) == 0 {
		return &ConfigError{key + ".export", "list at least one export statement"}
	}
	names := map[string]bool{}
	for i := range st.Export {
		e := &st.Export[i]
		k := fmt.Sprintf("%s.export[%d]", key, i)
		if e.Name == "" || names[e.Name] {
			return &ConfigError{k + ".name", "required, and unique: names the rows in the export"}
		}
		names[e.Name] = true
		if e.Cursor == "" {
			return &ConfigError{k + ".cursor", "required: the column the statement orders by and pages on"}
		}
		if e.Start == nil {
			zero := "0"
			e.Start = &zero
		}
		if err := params(kind, k+".query", e.Query, 3); err != nil {
			return err
		}
	}
	for _, list := range []struct {
		name string
		sql  []string
		n    int
	}{{"count", st.Count, 1}, {"erase", st.Erase, 2}, {"verify", st.Verify, 1}} {
		if len(list.sql) == 0 {
			return &ConfigError{key + "." + list.name, "list at least one statement"}
		}
		for i, q := range list.sql {
			if err := params(kind, fmt.Sprintf("%s.%s[%d]", key, list.name, i), q, list.n); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	pgParam     = regexp.MustCompile(`\$(\d+)`)
	quoted      = regexp.MustCompile(`'(?:[^']|'')*'|"(?:[^"]|"")*"|` + "`[^`]*`")
	errNoParams = errors.New("no statement")
)

// params checks that a statement takes exactly n parameters, in the
// kind's placeholder style (string literals aside).
func params(kind, key, q string, n int) error {
	if strings.TrimSpace(q) == "" {
		return &ConfigError{key, errNoParams.Error() + ": required"}
	}
	bare := quoted.ReplaceAllString(q, "''")
	want := map[string]string{
		KindPostgres: fmt.Sprintf("its parameters are $1 to $%d", n),
		KindMySQL:    fmt.Sprintf("it takes %d ? parameters", n),
	}[kind]
	got := 0
	if kind == KindPostgres {
		for _, m := range pgParam.FindAllStringSubmatch(bare, -1) {
			var v int
			fmt.Sscan(m[1], &v)
			got = max(got, v)
		}
		if strings.Contains(bare, "?") && got == 0 {
			return &ConfigError{key, "PostgreSQL statements use $1, $2..., not ?"}
		}
	} else {
		got = strings.Count(bare, "?")
		if pgParam.MatchString(bare) {
			return &ConfigError{key, "MySQL statements use ?, not $1"}
		}
	}
	if got != n {
		return &ConfigError{key, fmt.Sprintf("%s (found %d)", want, got)}
	}
	return nil
}

// loopback reports whether host is this machine itself.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
