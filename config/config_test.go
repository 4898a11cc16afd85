package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/config"
)

func TestDevDefaultsAreComplete(t *testing.T) {
	cfg, err := config.FromMap(map[string]any{"mode": "dev", "database.url": "postgres://x"})
	if err != nil {
		t.Fatalf("dev defaults do not validate: %v", err)
	}
	if cfg.Email.Provider != "outbox" || cfg.Crypto.MasterKey != config.DevMasterKey {
		t.Errorf("dev mode should default to the outbox mailer and the dev key, got %q", cfg.Email.Provider)
	}
	if cfg.Workflow.DefaultDeadline != 720*time.Hour || cfg.Workflow.ReminderEvery != 120*time.Hour {
		t.Errorf("workflow periods: got deadline %v, reminder %v", cfg.Workflow.DefaultDeadline, cfg.Workflow.ReminderEvery)
	}
	if r, ok := cfg.Jurisdictions.Match("DE", ""); !ok || r.ID != "gdpr" {
		t.Errorf("shipped rules should cover Germany with GDPR, got %+v %v", r, ok)
	}
	if r, _ := cfg.Jurisdictions.Match("US", "US-CA"); r.OptOut == nil || !r.OptOut.NoIdentityDocument || r.Acknowledge.Days != 10 ||
		r.Timezone != "America/Los_Angeles" {
		t.Errorf("the shipped California rule should keep its opt-out track, acknowledgement and time zone, got %+v", r)
	}
	if r, _ := cfg.Jurisdictions.Match("US", "US-VA"); r.Appeal == nil || r.Appeal.Period.Days != 60 {
		t.Errorf("the shipped Virginia rule should keep its appeal, got %+v", r)
	}
}

func TestProductionRefusesDevAndMissingKeys(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]any
		wantKey  string
	}{
		{"no master key", map[string]any{"email.resend.api_key": "re_x"}, "crypto.master_key"},
		{"dev master key", map[string]any{"email.resend.api_key": "re_x", "crypto.master_key": config.DevMasterKey}, "crypto.master_key"},
		{"outbox mailer", map[string]any{"email.provider": "outbox", "crypto.master_key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}, "email.provider"},
		{"no resend key", map[string]any{"crypto.master_key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}, "email.resend.api_key"},
		{"captcha off", map[string]any{"email.resend.api_key": "re_x", "crypto.master_key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=", "intake.captcha_disabled": true}, "intake.captcha_disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := map[string]any{"mode": "production", "database.url": "postgres://x"}
			for k, v := range tc.settings {
				s[k] = v
			}
			_, err := config.FromMap(s)
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("want an error naming %s, got %v", tc.wantKey, err)
			}
		})
	}
	good := map[string]any{"mode": "production", "database.url": "postgres://x", "email.resend.api_key": "re_x",
		"crypto.master_key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="}
	if _, err := config.FromMap(good); err != nil {
		t.Fatalf("a complete production config is refused: %v", err)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	for key, val := range map[string]any{
		"alerts.mode":                          "weekly",
		"alerts.digest_time":                   "25:00",
		"alerts.timezone":                      "Mars/Olympus",
		"public_url":                           "not a url",
		"workflow.reminder_every":              "-5h",
		"workflow.verification_reminder_after": "200h",
		"log.level":                            "loud",
		"auth.session_cache":                   "2h",
		"auth.login_free_failures":             0,
		"auth.login_backoff_max":               "1s",
		"auth.login_captcha_after":             2,
		"auth.password_hashes":                 0,
		"auth.password_hash_wait":              "5m",
		"temporal.compression":                 "zstd",
		"reconcile.every":                      "30s",
		"retention.every":                      "30s",
		"retention.records":                    "24h",
		"retention.idempotency_keys":           "1h",
		"retention.messages":                   "-1h",
		"portal.sign_in_link_expiry":           "30s",
		"portal.sign_in_links_per_hour":        0,
	} {
		_, err := config.FromMap(map[string]any{"mode": "dev", "database.url": "postgres://x", key: val})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%v: want an error naming the key, got %v", key, val, err)
		}
	}
}

// TestStaffSignInSettings: MFA roles must be roles, password sign-in can be
// off only with single sign-on, and single sign-on needs a client, an
// https issuer outside dev mode and a group mapped to a role.
func TestStaffSignInSettings(t *testing.T) {
	oidc := map[string]any{"auth.oidc.issuer": "https://id.example.com", "auth.oidc.client_id": "dsar",
		"auth.oidc.role_groups.admin": []string{"DSAR Admins"}}
	for _, tc := range []struct {
		key      string
		settings map[string]any
	}{
		{"auth.mfa_required_roles", map[string]any{"auth.mfa_required_roles": []string{"admin", "root"}}},
		{"auth.password_login", map[string]any{"auth.password_login": false}},
		{"auth.oidc.client_id", map[string]any{"auth.oidc.issuer": "https://id.example.com"}},
		{"auth.oidc.role_groups", map[string]any{"auth.oidc.issuer": "https://id.example.com", "auth.oidc.client_id": "dsar"}},
		{"auth.oidc.issuer", map[string]any{"mode": "production", "auth.oidc.issuer": "http://id.example.com", "auth.oidc.client_id": "dsar",
			"auth.oidc.role_groups.admin": []string{"x"}}},
		{"auth.oidc.scopes", map[string]any{"auth.oidc.scopes": []string{"email"}}},
	} {
		settings := map[string]any{"mode": "dev", "database.url": "postgres://x"}
		if tc.key == "auth.oidc.scopes" {
			for k, v := range oidc {
				settings[k] = v
			}
		}
		for k, v := range tc.settings {
			settings[k] = v
		}
		if settings["mode"] == "production" {
			settings["crypto.master_key"] = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="
			settings["email.resend.api_key"] = "re_x"
		}
		_, err := config.FromMap(settings)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%v: want an error naming %s, got %v", tc.settings, tc.key, err)
		}
	}
	settings := map[string]any{"mode": "dev", "database.url": "postgres://x", "auth.password_login": false,
		"auth.oidc.role_groups.manager": []string{"DSAR Admins"}}
	for k, v := range oidc {
		settings[k] = v
	}
	c, err := config.FromMap(settings)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := c.OIDCRole([]string{"staff", "DSAR Admins"}); !ok || r != "admin" {
		t.Errorf("a member of groups mapped to admin and manager gets %q, want the more privileged admin", r)
	}
	if _, ok := c.OIDCRole([]string{"dsar admins"}); ok {
		t.Error("group names are matched ignoring case")
	}
	if got := c.OIDCRedirectURL(); got != "http://localhost:8080/auth/oidc/callback" {
		t.Errorf("the default redirect URL is %q", got)
	}
}

func TestEnvironmentOverridesFileOverridesDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dsar.yaml")
	yaml := `mode: dev
database:
  url: postgres://from-file
http:
  addr: ":9999"
workflow:
  reminder_every: 48h
alerts:
  mode: immediate
jurisdictions:
  - id: test_rule
    name: Test rule
    countries: [FR]
    period: P10D
    extension: P1M
    business_days: true
    calendar: us-ca
    timezone: America/Los_Angeles
    extension_notice_within: P20D
    acknowledge: P5D
    ack_business_days: true
    ack_mail: true
    pause: true
    source: Test Act s. 1
    opt_out:
      period: P7D
      business_days: true
      extension: P3D
      no_identity_document: true
    appeal:
      window: P30D
      period: P60D
      authority: Test Authority
      contact: https://authority.example/complaints
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DSAR_HTTP_ADDR", ":7777")
	t.Setenv("DATABASE_URL", "postgres://from-env")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != ":7777" {
		t.Errorf("env should win over the file: addr %q", cfg.HTTP.Addr)
	}
	if cfg.Database.URL != "postgres://from-env" {
		t.Errorf("DATABASE_URL should be honoured: %q", cfg.Database.URL)
	}
	if cfg.Workflow.ReminderEvery != 48*time.Hour || cfg.Alerts.Mode != "immediate" {
		t.Errorf("file values lost: %v %q", cfg.Workflow.ReminderEvery, cfg.Alerts.Mode)
	}
	r, ok := cfg.Jurisdictions.Match("FR", "")
	if !ok || r.ID != "test_rule" || r.Period.Days != 10 || r.Extension.Months != 1 {
		t.Errorf("jurisdictions from the file: %+v %v", r, ok)
	}
	if !r.BusinessDays || r.Calendar != "us-ca" || r.Timezone != "America/Los_Angeles" || r.ExtensionNoticeWithin.Days != 20 || r.Acknowledge.Days != 5 ||
		!r.AckBusinessDays || !r.AckMail || !r.Pause || r.Source != "Test Act s. 1" {
		t.Errorf("the rule's clocks from the file: %+v", r)
	}
	if o := r.OptOut; o == nil || o.Period.Days != 7 || !o.BusinessDays || o.Extension.Days != 3 || !o.NoIdentityDocument {
		t.Errorf("the opt-out track from the file: %+v", o)
	}
	if a := r.Appeal; a == nil || a.Window.Days != 30 || a.Period.Days != 60 || a.Authority != "Test Authority" ||
		a.Contact != "https://authority.example/complaints" {
		t.Errorf("the appeal from the file: %+v", a)
	}
}

// TestJurisdictionClocksValidated: a rule naming a holiday calendar the
// service cannot compute, a time zone it cannot load (or the machine's own,
// which differs between machines), or an appeal without its periods, is
// refused at start-up with the key named.
func TestJurisdictionClocksValidated(t *testing.T) {
	for _, tc := range []struct{ rule, wantKey string }{
		{"calendar: mars", "jurisdictions[0].calendar"},
		{"timezone: Mars/Olympus_Mons", "jurisdictions[0].timezone"},
		{"timezone: Local", "jurisdictions[0].timezone"},
		{"appeal: {authority: X}", "jurisdictions[0].appeal"},
		{"opt_out: {no_identity_document: true}", "jurisdictions[0].opt_out.period"},
	} {
		path := filepath.Join(t.TempDir(), "dsar.yaml")
		yaml := "mode: dev\ndatabase:\n  url: postgres://x\njurisdictions:\n  - id: r\n    countries: [FR]\n    period: P10D\n    " + tc.rule + "\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
			t.Errorf("%s: error %v, want one naming %s", tc.rule, err, tc.wantKey)
		}
	}
}
