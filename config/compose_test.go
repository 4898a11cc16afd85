package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/opendsar/dsar/config"
)

// compose is the part of docker-compose.yml these tests read.
type compose struct {
	Env      map[string]string `yaml:"x-dsar-env"`
	Services map[string]struct {
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// interpolation is compose's ${VAR:-default} and ${VAR:?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Z_]+)(?::([-?])([^}]*))?\}`)

// resolve interpolates value as docker compose would with the variables in
// given; it reports the error text of a required variable that is missing.
func resolve(value string, given map[string]string) (string, string) {
	var missing string
	out := interpolation.ReplaceAllStringFunc(value, func(m string) string {
		p := interpolation.FindStringSubmatch(m)
		if v := given[p[1]]; v != "" {
			return v
		}
		if p[2] == "?" {
			missing = p[3]
			return ""
		}
		return p[3]
	})
	return out, missing
}

// TestComposeStartsInProductionMode: `docker compose up` with nothing set
// refuses to start (compose asks for the master key; the service itself
// would refuse too), runs in production mode with real mail (so never
// serves the dev mailbox) once given a key, and publishes every port on
// loopback only. The Temporal UI is read-only.
func TestComposeStartsInProductionMode(t *testing.T) {
	c := readCompose(t)
	load := func(given map[string]string) (*config.Config, string, error) {
		t.Helper()
		var missing []string
		for k, v := range c.Env {
			val, miss := resolve(v, given)
			if miss != "" {
				missing = append(missing, k+": "+miss)
			}
			t.Setenv(k, val)
		}
		cfg, err := config.Load("")
		return cfg, strings.Join(missing, "; "), err
	}
	_, missing, err := load(map[string]string{"DSAR_EMAIL_RESEND_API_KEY": "re_test"})
	if !strings.Contains(missing, "DSAR_CRYPTO_MASTER_KEY") {
		t.Errorf("compose starts without a master key (missing: %q)", missing)
	}
	if err == nil || !strings.Contains(err.Error(), "crypto.master_key") {
		t.Errorf("without a master key the service starts: %v", err)
	}
	key := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=" // 32 bytes
	if _, _, err := load(map[string]string{"DSAR_CRYPTO_MASTER_KEY": key}); err == nil || !strings.Contains(err.Error(), "email.resend.api_key") {
		t.Errorf("without a mail key: %v", err)
	}
	cfg, missing, err := load(map[string]string{"DSAR_CRYPTO_MASTER_KEY": key, "DSAR_EMAIL_RESEND_API_KEY": "re_test"})
	if err != nil || missing != "" {
		t.Fatalf("with the keys set: %v (missing %q)", err, missing)
	}
	if cfg.Mode != config.ModeProduction || cfg.Email.Provider != "resend" {
		t.Errorf("compose runs in mode %q with mail %q", cfg.Mode, cfg.Email.Provider)
	}

	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q beyond loopback", name, p)
			}
		}
	}
	if ui := c.Services["temporal-ui"].Environment; ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] != "true" {
		t.Errorf("the Temporal UI allows write actions: %v", ui)
	}
}
