// Package config loads the service's configuration: defaults for every key,
// an optional YAML file, then DSAR_* environment variables, in that order of
// precedence (lowest first). Load validates the result and names the bad key.
package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/holidays"
)

// Modes the service runs in.
const (
	ModeDev        = "dev"
	ModeProduction = "production"
)

// DevMasterKey is the master key dev mode uses when none is set. DEV ONLY:
// it is public, and Load refuses it outside dev mode.
const DevMasterKey = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE=" // "dev-only-master-key-do-not-use!!"

// Config is the whole configuration, one typed struct passed down explicitly.
type Config struct {
	Mode      string `mapstructure:"mode"`
	PublicURL string `mapstructure:"public_url"`

	HTTP struct {
		Addr           string   `mapstructure:"addr"`
		TLSCert        string   `mapstructure:"tls_cert"`
		TLSKey         string   `mapstructure:"tls_key"`
		TrustedProxies []string `mapstructure:"trusted_proxies"`
		FrameAncestors []string `mapstructure:"frame_ancestors"`
		// MetricsAddr, when set, is the listen address of /metrics alone
		// (an internal network); /metrics then leaves http.addr.
		MetricsAddr     string        `mapstructure:"metrics_addr"`
		ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	} `mapstructure:"http"`

	Database struct {
		URL          string `mapstructure:"url"`
		MaxOpenConns int    `mapstructure:"max_open_conns"`
	} `mapstructure:"database"`

	Temporal struct {
		Address    string `mapstructure:"address"`
		Namespace  string `mapstructure:"namespace"`
		TaskQueue  string `mapstructure:"task_queue"`
		TLS        bool   `mapstructure:"tls"`
		TLSCert    string `mapstructure:"tls_cert"`
		TLSKey     string `mapstructure:"tls_key"`
		TLSCA      string `mapstructure:"tls_ca"`
		ServerName string `mapstructure:"server_name"`
		APIKey     string `mapstructure:"api_key"`
		UIURL      string `mapstructure:"ui_url"`
		// Compression is the gRPC compression of calls to Temporal: "none"
		// or "gzip". Payloads are ciphertext, which gzip cannot shrink.
		Compression string `mapstructure:"compression"`
	} `mapstructure:"temporal"`

	Email struct {
		Provider string `mapstructure:"provider"`
		From     string `mapstructure:"from"`
		Resend   struct {
			APIKey  string `mapstructure:"api_key"`
			BaseURL string `mapstructure:"base_url"`
		} `mapstructure:"resend"`
	} `mapstructure:"email"`

	Crypto struct {
		MasterKey   string `mapstructure:"master_key"`
		MasterKeyID string `mapstructure:"master_key_id"`
		// PreviousKeys are retired master keys, "id:base64" each, kept to
		// unwrap data keys written before a rotation.
		PreviousKeys []string `mapstructure:"previous_keys"`
		// IndexKeyID names the master key the email blind index is derived
		// from. It stays put across rotations so lookups keep working.
		IndexKeyID string `mapstructure:"index_key_id"`
	} `mapstructure:"crypto"`

	Workflow struct {
		DefaultDeadline           time.Duration `mapstructure:"default_deadline"`
		DefaultExtension          time.Duration `mapstructure:"default_extension"`
		ReminderEvery             time.Duration `mapstructure:"reminder_every"`
		StallAfter                time.Duration `mapstructure:"stall_after"`
		DeadlineWarningBefore     time.Duration `mapstructure:"deadline_warning_before"`
		OverdueAlertEvery         time.Duration `mapstructure:"overdue_alert_every"`
		VerificationReminderAfter time.Duration `mapstructure:"verification_reminder_after"`
		VerificationExpiry        time.Duration `mapstructure:"verification_expiry"`
		AssignmentAlertEvery      time.Duration `mapstructure:"assignment_alert_every"`
		MailResendWindow          time.Duration `mapstructure:"mail_resend_window"`
	} `mapstructure:"workflow"`

	Jurisdictions dsar.Rules `mapstructure:"jurisdictions"`

	Alerts struct {
		Mode       string `mapstructure:"mode"`
		DigestTime string `mapstructure:"digest_time"`
		Timezone   string `mapstructure:"timezone"`
	} `mapstructure:"alerts"`

	// Reconcile is the cluster's reconciliation (workflow DSARReconcile on
	// the Temporal Schedule dsar-reconcile): how often it runs.
	Reconcile struct {
		Every time.Duration `mapstructure:"every"`
	} `mapstructure:"reconcile"`

	// Retention is how long what outlives a request's erasure is kept;
	// the retention sweep (workflow DSARRetention on the Temporal Schedule
	// dsar-retention, every Retention.Every) deletes it after. See
	// docs/retention.md for each default's reasoning.
	Retention Retention `mapstructure:"retention"`

	Company struct {
		Name          string `mapstructure:"name"`
		PrivacyURL    string `mapstructure:"privacy_url"`
		PrimaryColor  string `mapstructure:"primary_color"`
		AccentColor   string `mapstructure:"accent_color"`
		SupportEmail  string `mapstructure:"support_email"`
		AuthorityName string `mapstructure:"authority_name"`
		AuthorityURL  string `mapstructure:"authority_url"`
		// Texts is the company's own wording for requesters, by language
		// (en, de, fr, es): company.texts.<lang>.form_intro and so on.
		Texts map[string]CompanyTexts `mapstructure:"texts"`
		// Authority is the supervisory authority requesters may complain
		// to, by jurisdiction (a jurisdictions id, like gdpr) and language:
		// company.authority.<jurisdiction>.<lang>.name and .url.
		Authority map[string]map[string]Authority `mapstructure:"authority"`
	} `mapstructure:"company"`

	Intake struct {
		MaxUploadBytes  int64         `mapstructure:"max_upload_bytes"`
		CaptchaMaxNum   int64         `mapstructure:"captcha_max_number"`
		CaptchaExpiry   time.Duration `mapstructure:"captcha_expiry"`
		RatePerMinute   int           `mapstructure:"rate_per_minute"`
		TokenExpiry     time.Duration `mapstructure:"token_expiry"`
		CaptchaDisabled bool          `mapstructure:"captcha_disabled"`
		// VerifyPerMinute bounds email confirmations per client address, a
		// budget apart from RatePerMinute's submissions, so that people
		// behind one address do not block each other's confirmations.
		VerifyPerMinute int `mapstructure:"verify_rate_per_minute"`
		// UnverifiedPerEmail and UnverifiedPerNetwork cap the requests
		// waiting for their email to be confirmed, per email address and per
		// client network (IPv4 /24, IPv6 /48); UnverifiedBytes bounds the
		// identity documents all of them hold. Kept in Postgres.
		UnverifiedPerEmail   int   `mapstructure:"unverified_per_email"`
		UnverifiedPerNetwork int   `mapstructure:"unverified_per_network"`
		UnverifiedBytes      int64 `mapstructure:"unverified_bytes"`
		// The captcha's work doubles for every CaptchaBusyStep unconfirmed
		// submissions within CaptchaBusyWindow, up to CaptchaMaxNumCeiling.
		CaptchaBusyWindow    time.Duration `mapstructure:"captcha_busy_window"`
		CaptchaBusyStep      int           `mapstructure:"captcha_busy_step"`
		CaptchaMaxNumCeiling int64         `mapstructure:"captcha_max_number_ceiling"`
	} `mapstructure:"intake"`

	Auth struct {
		SessionIdle     time.Duration `mapstructure:"session_idle"`
		SessionAbsolute time.Duration `mapstructure:"session_absolute"`
		LoginPerMinute  int           `mapstructure:"login_per_minute"`
		// The login backoff (store.LoginBudget): failures of one account
		// from one network before waits begin, the first wait (doubled at
		// each further failure, up to the max), the failures of one
		// account from every network after which a solved captcha is
		// needed, and how long a failure is remembered.
		LoginFreeFailures  int           `mapstructure:"login_free_failures"`
		LoginBackoff       time.Duration `mapstructure:"login_backoff"`
		LoginBackoffMax    time.Duration `mapstructure:"login_backoff_max"`
		LoginCaptchaAfter  int           `mapstructure:"login_captcha_after"`
		LoginFailureWindow time.Duration `mapstructure:"login_failure_window"`
		// PasswordHashes caps the password hashes (argon2id, 19 MiB each)
		// one API process computes at once; a login waits up to
		// PasswordHashWait for a turn, then is answered 503.
		PasswordHashes   int           `mapstructure:"password_hashes"`
		PasswordHashWait time.Duration `mapstructure:"password_hash_wait"`
		// SessionCache is how long an API process may answer a staff
		// session check from memory; 0 checks Postgres on every call.
		SessionCache time.Duration `mapstructure:"session_cache"`
		// PasswordLogin allows staff to sign in with a password; off, only
		// single sign-on (auth.oidc) opens the console.
		PasswordLogin bool `mapstructure:"password_login"`
		// MFARequired requires a TOTP second factor of every staff user
		// signing in with a password; MFARequiredRoles of those roles only.
		// A user who must and has none sets one up before anything else.
		MFARequired      bool     `mapstructure:"mfa_required"`
		MFARequiredRoles []string `mapstructure:"mfa_required_roles"`
		OIDC             OIDC     `mapstructure:"oidc"`
	} `mapstructure:"auth"`

	// Portal is the requester's portal: the emailed sign-in links.
	Portal struct {
		// SignInLinkExpiry is how long an emailed sign-in link works.
		SignInLinkExpiry time.Duration `mapstructure:"sign_in_link_expiry"`
		// SignInLinksPerHour is how many sign-in links one address may be
		// sent in an hour (in bursts of as many); beyond, no mail goes out.
		SignInLinksPerHour int `mapstructure:"sign_in_links_per_hour"`
		// Quotas of a requester's messages over the last 24 hours, per
		// request and per portal account (all their requests): how many
		// messages, and how many bytes of attachments. Counted in Postgres.
		RequestMessagesPerDay     int   `mapstructure:"request_messages_per_day"`
		RequestMessageBytesPerDay int64 `mapstructure:"request_message_bytes_per_day"`
		AccountMessagesPerDay     int   `mapstructure:"account_messages_per_day"`
		AccountMessageBytesPerDay int64 `mapstructure:"account_message_bytes_per_day"`
	} `mapstructure:"portal"`

	// Fulfilment is the answer's delivery: task files and access packages.
	Fulfilment struct {
		// PackageTTL is how long the requester can download a published
		// access package; then it is erased.
		PackageTTL time.Duration `mapstructure:"package_ttl"`
		// MaxFileSize bounds one file attached to a task.
		MaxFileSize int64 `mapstructure:"max_file_size"`
		// WebhookTimeout bounds one delivery of a job to a webhook
		// source's endpoint: connecting, sending and reading the answer.
		WebhookTimeout time.Duration `mapstructure:"webhook_timeout"`
		// WebhookMaxCallback bounds the body of a webhook job's callback
		// (its files, in base64, included).
		WebhookMaxCallback int64 `mapstructure:"webhook_max_callback"`
	} `mapstructure:"fulfilment"`

	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`

	Worker Worker `mapstructure:"worker"`
}

// Retention holds the retention.* keys.
type Retention struct {
	Every           time.Duration `mapstructure:"every"`            // how often the sweep runs
	Records         time.Duration `mapstructure:"records"`          // compliance records, after the request closed
	Messages        time.Duration `mapstructure:"messages"`         // messages and attachments, after the request closed
	Packages        time.Duration `mapstructure:"packages"`         // expired access packages' rows, after the expiry
	Sessions        time.Duration `mapstructure:"sessions"`         // sessions, after they expired or were revoked
	Tokens          time.Duration `mapstructure:"tokens"`           // emailed tokens, after they expired or were used
	IdempotencyKeys time.Duration `mapstructure:"idempotency_keys"` // stored answers to Idempotency-Keys
	BlindIndex      time.Duration `mapstructure:"blind_index"`      // an erased request's email blind index, after the erasure
}

// OIDC is staff single sign-on through an OpenID Connect provider
// (authorization code with PKCE). It is on when Issuer is set.
type OIDC struct {
	Issuer       string `mapstructure:"issuer"`
	ClientID     string `mapstructure:"client_id"`
	ClientSecret string `mapstructure:"client_secret"`
	// RedirectURL is the callback registered with the provider; empty is
	// public_url + /auth/oidc/callback.
	RedirectURL string   `mapstructure:"redirect_url"`
	Scopes      []string `mapstructure:"scopes"`
	// GroupsClaim is the ID token claim that lists the user's groups.
	GroupsClaim string `mapstructure:"groups_claim"`
	// RoleGroups are, by role, the groups whose members get it. A user in
	// several gets the most privileged; in none, they are refused.
	RoleGroups struct {
		OrgOwner    []string `mapstructure:"org_owner"`
		Admin       []string `mapstructure:"admin"`
		Manager     []string `mapstructure:"manager"`
		SourceOwner []string `mapstructure:"source_owner"`
	} `mapstructure:"role_groups"`
}

// OIDCEnabled reports whether staff single sign-on is configured.
func (c *Config) OIDCEnabled() bool { return c.Auth.OIDC.Issuer != "" }

// OIDCRedirectURL is the callback URL registered with the provider.
func (c *Config) OIDCRedirectURL() string {
	if c.Auth.OIDC.RedirectURL != "" {
		return c.Auth.OIDC.RedirectURL
	}
	return strings.TrimRight(c.PublicURL, "/") + "/auth/oidc/callback"
}

// OIDCRole is the role single sign-on gives a member of groups: the most
// privileged of those the groups map to, or false when none does.
func (c *Config) OIDCRole(groups []string) (dsar.Role, bool) {
	g := c.Auth.OIDC.RoleGroups
	for _, rg := range []struct {
		role   dsar.Role
		groups []string
	}{
		{dsar.RoleOrgOwner, g.OrgOwner}, {dsar.RoleAdmin, g.Admin}, {dsar.RoleManager, g.Manager}, {dsar.RoleSourceOwner, g.SourceOwner},
	} {
		for _, want := range rg.groups {
			if slices.Contains(groups, want) {
				return rg.role, true
			}
		}
	}
	return "", false
}

// MFARequiredFor reports whether staff of role must use a second factor.
func (c *Config) MFARequiredFor(role dsar.Role) bool {
	return c.Auth.MFARequired || slices.Contains(c.Auth.MFARequiredRoles, string(role))
}

// defaults holds every key with its default. Every key must be here: viper
// only maps environment variables onto keys it knows.
func defaults() map[string]any {
	return map[string]any{
		"mode":       ModeProduction,
		"public_url": "http://localhost:8080",

		"http.addr":             ":8080",
		"http.tls_cert":         "",
		"http.tls_key":          "",
		"http.trusted_proxies":  []string{},
		"http.frame_ancestors":  []string{},
		"http.metrics_addr":     "",
		"http.shutdown_timeout": 15 * time.Second,

		"database.url":            "",
		"database.max_open_conns": 20,

		"temporal.address":     "127.0.0.1:7233",
		"temporal.namespace":   "default",
		"temporal.task_queue":  "dsar",
		"temporal.tls":         false,
		"temporal.tls_cert":    "",
		"temporal.tls_key":     "",
		"temporal.tls_ca":      "",
		"temporal.server_name": "",
		"temporal.api_key":     "",
		"temporal.ui_url":      "http://localhost:8233",
		"temporal.compression": "none",

		"email.provider":        "resend",
		"email.from":            "Privacy Team <privacy@example.com>",
		"email.resend.api_key":  "",
		"email.resend.base_url": "https://api.resend.com/",

		"crypto.master_key":    "",
		"crypto.master_key_id": "k1",
		"crypto.previous_keys": []string{},
		"crypto.index_key_id":  "",

		"fulfilment.package_ttl":          720 * time.Hour,
		"fulfilment.max_file_size":        int64(512 << 20),
		"fulfilment.webhook_timeout":      30 * time.Second,
		"fulfilment.webhook_max_callback": int64(64 << 20),

		"workflow.default_deadline":            720 * time.Hour,
		"workflow.default_extension":           720 * time.Hour,
		"workflow.reminder_every":              120 * time.Hour,
		"workflow.stall_after":                 120 * time.Hour,
		"workflow.deadline_warning_before":     120 * time.Hour,
		"workflow.overdue_alert_every":         24 * time.Hour,
		"workflow.verification_reminder_after": 24 * time.Hour,
		"workflow.verification_expiry":         168 * time.Hour,
		"workflow.assignment_alert_every":      24 * time.Hour,
		"workflow.mail_resend_window":          7 * 24 * time.Hour,

		"jurisdictions": dsar.DefaultRules,

		"alerts.mode":        "digest",
		"alerts.digest_time": "17:00",
		"alerts.timezone":    "UTC",

		"reconcile.every": 10 * time.Minute,

		"retention.every":            24 * time.Hour,
		"retention.records":          17520 * time.Hour,
		"retention.messages":         4320 * time.Hour,
		"retention.packages":         720 * time.Hour,
		"retention.sessions":         720 * time.Hour,
		"retention.tokens":           720 * time.Hour,
		"retention.idempotency_keys": 168 * time.Hour,
		"retention.blind_index":      8760 * time.Hour,

		"company.name":           "Example Company",
		"company.privacy_url":    "",
		"company.primary_color":  "#1f4e79",
		"company.accent_color":   "#0b7a4b",
		"company.support_email":  "",
		"company.authority_name": DefaultAuthorityName,
		"company.authority_url":  "",

		"intake.max_upload_bytes":           10 << 20,
		"intake.captcha_max_number":         100000,
		"intake.captcha_expiry":             10 * time.Minute,
		"intake.rate_per_minute":            10,
		"intake.token_expiry":               168 * time.Hour,
		"intake.captcha_disabled":           false,
		"intake.verify_rate_per_minute":     30,
		"intake.unverified_per_email":       3,
		"intake.unverified_per_network":     30,
		"intake.unverified_bytes":           int64(2 << 30),
		"intake.captcha_busy_window":        10 * time.Minute,
		"intake.captcha_busy_step":          50,
		"intake.captcha_max_number_ceiling": int64(3_200_000),

		"auth.session_idle":                  30 * time.Minute,
		"auth.session_absolute":              12 * time.Hour,
		"auth.login_per_minute":              5,
		"auth.session_cache":                 10 * time.Second,
		"auth.password_login":                true,
		"auth.mfa_required":                  false,
		"auth.mfa_required_roles":            []string{},
		"auth.oidc.issuer":                   "",
		"auth.oidc.client_id":                "",
		"auth.oidc.client_secret":            "",
		"auth.oidc.redirect_url":             "",
		"auth.oidc.scopes":                   []string{"openid", "email", "profile"},
		"auth.oidc.groups_claim":             "groups",
		"auth.oidc.role_groups.org_owner":    []string{},
		"auth.oidc.role_groups.admin":        []string{},
		"auth.oidc.role_groups.manager":      []string{},
		"auth.oidc.role_groups.source_owner": []string{},
		"auth.login_free_failures":           5,
		"auth.login_backoff":                 time.Minute,
		"auth.login_backoff_max":             time.Hour,
		"auth.login_captcha_after":           20,
		"auth.login_failure_window":          24 * time.Hour,
		"auth.password_hashes":               4,
		"auth.password_hash_wait":            2 * time.Second,

		"portal.sign_in_link_expiry":           30 * time.Minute,
		"portal.sign_in_links_per_hour":        3,
		"portal.request_messages_per_day":      20,
		"portal.request_message_bytes_per_day": int64(50 << 20),
		"portal.account_messages_per_day":      50,
		"portal.account_message_bytes_per_day": int64(200 << 20),

		"log.level":  "info",
		"log.format": "text",

		"worker.memory_budget":                   "256MiB",
		"worker.sticky_cache_size":               0,
		"worker.max_concurrent_activities":       0,
		"worker.max_concurrent_local_activities": 0,
		"worker.max_concurrent_workflow_tasks":   0,
		"worker.workflow_pollers":                0,
		"worker.activity_pollers":                0,
		"worker.stop_timeout":                    25 * time.Second,
	}
}

// devDefaults are applied in dev mode to keys the user left unset. DEV ONLY.
func devDefaults() map[string]any {
	return map[string]any{
		"crypto.master_key": DevMasterKey,
		"email.provider":    "outbox",
	}
}

// Load reads the configuration: defaults, then the YAML file at path (if
// path is not empty), then the environment. It returns an error naming the
// first bad key.
func Load(path string) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix("DSAR")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// DATABASE_URL is what every Postgres tool reads; honour it too.
	_ = v.BindEnv("database.url", "DSAR_DATABASE_URL", "DATABASE_URL")
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
	}
	return build(v)
}

// FromMap builds a configuration from the defaults and the given keys only,
// ignoring the environment: for tests and tools.
func FromMap(settings map[string]any) (*Config, error) {
	v := viper.New()
	for k, val := range settings {
		v.Set(k, val)
	}
	return build(v)
}

func build(v *viper.Viper) (*Config, error) {
	dev := v.GetString("mode") == ModeDev
	for k, val := range defaults() {
		v.SetDefault(k, val)
	}
	if dev {
		// Dev defaults replace the defaults only: a file or the environment
		// still wins.
		for k, val := range devDefaults() {
			v.SetDefault(k, val)
		}
	}
	var c Config
	hook := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
		mapstructure.TextUnmarshallerHookFunc(),
	))
	if err := v.Unmarshal(&c, hook); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Dev reports whether the service runs in dev mode.
func (c *Config) Dev() bool { return c.Mode == ModeDev }

// Validate checks every key and returns an error naming the first bad one.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config: %s (env DSAR_%s): %s", key, strings.ToUpper(strings.ReplaceAll(key, ".", "_")), fmt.Sprintf(format, args...))
	}
	if c.Mode != ModeDev && c.Mode != ModeProduction {
		return bad("mode", "must be %q or %q, not %q", ModeDev, ModeProduction, c.Mode)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("public_url", "must be an absolute http(s) URL, not %q", c.PublicURL)
	}
	if c.HTTP.Addr == "" {
		return bad("http.addr", "must not be empty")
	}
	if c.HTTP.MetricsAddr != "" && c.HTTP.MetricsAddr == c.HTTP.Addr {
		return bad("http.metrics_addr", "must differ from http.addr (leave it empty to serve /metrics there)")
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		return bad("http.tls_cert", "http.tls_cert and http.tls_key go together")
	}
	if c.Database.URL == "" {
		return bad("database.url", "must be set (DATABASE_URL works too)")
	}
	if c.Database.MaxOpenConns < 1 {
		return bad("database.max_open_conns", "must be at least 1")
	}
	if c.Temporal.Address == "" {
		return bad("temporal.address", "must not be empty")
	}
	if c.Temporal.Namespace == "" {
		return bad("temporal.namespace", "must not be empty")
	}
	if c.Temporal.TaskQueue == "" {
		return bad("temporal.task_queue", "must not be empty")
	}
	if c.Temporal.Compression != "none" && c.Temporal.Compression != "gzip" {
		return bad("temporal.compression", "must be none or gzip")
	}
	if (c.Temporal.TLSCert == "") != (c.Temporal.TLSKey == "") {
		return bad("temporal.tls_cert", "temporal.tls_cert and temporal.tls_key go together")
	}
	switch c.Email.Provider {
	case "outbox":
		if !c.Dev() {
			return bad("email.provider", "outbox keeps mail in the database and is for dev mode only; use resend")
		}
	case "resend":
		if c.Email.Resend.APIKey == "" && !c.Dev() {
			return bad("email.resend.api_key", "must be set when email.provider is resend")
		}
		if _, err := url.Parse(c.Email.Resend.BaseURL); err != nil || c.Email.Resend.BaseURL == "" {
			return bad("email.resend.base_url", "must be a URL")
		}
	default:
		return bad("email.provider", "must be resend or outbox, not %q", c.Email.Provider)
	}
	if c.Email.From == "" {
		return bad("email.from", "must not be empty")
	}
	if c.Crypto.MasterKey == "" {
		return bad("crypto.master_key", "must be set to 32 random bytes in base64 (openssl rand -base64 32)")
	}
	if c.Crypto.MasterKey == DevMasterKey && !c.Dev() {
		return bad("crypto.master_key", "is the public dev-only key; set a secret one outside dev mode")
	}
	if k, err := base64.StdEncoding.DecodeString(c.Crypto.MasterKey); err != nil || len(k) != 32 {
		return bad("crypto.master_key", "must be 32 bytes in base64")
	}
	if c.Crypto.MasterKeyID == "" || strings.Contains(c.Crypto.MasterKeyID, ":") {
		return bad("crypto.master_key_id", "must be a short name without ':'")
	}
	for _, pk := range c.Crypto.PreviousKeys {
		id, key, ok := strings.Cut(pk, ":")
		if k, err := base64.StdEncoding.DecodeString(key); !ok || id == "" || err != nil || len(k) != 32 {
			return bad("crypto.previous_keys", "each entry must be id:base64 of 32 bytes")
		}
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"workflow.default_deadline", c.Workflow.DefaultDeadline},
		{"workflow.reminder_every", c.Workflow.ReminderEvery},
		{"workflow.stall_after", c.Workflow.StallAfter},
		{"workflow.deadline_warning_before", c.Workflow.DeadlineWarningBefore},
		{"workflow.overdue_alert_every", c.Workflow.OverdueAlertEvery},
		{"workflow.verification_reminder_after", c.Workflow.VerificationReminderAfter},
		{"workflow.verification_expiry", c.Workflow.VerificationExpiry},
		{"workflow.assignment_alert_every", c.Workflow.AssignmentAlertEvery},
		{"workflow.mail_resend_window", c.Workflow.MailResendWindow},
		{"fulfilment.package_ttl", c.Fulfilment.PackageTTL},
		{"fulfilment.webhook_timeout", c.Fulfilment.WebhookTimeout},
		{"intake.captcha_expiry", c.Intake.CaptchaExpiry},
		{"intake.token_expiry", c.Intake.TokenExpiry},
		{"auth.session_idle", c.Auth.SessionIdle},
		{"auth.session_absolute", c.Auth.SessionAbsolute},
		{"auth.login_backoff", c.Auth.LoginBackoff},
		{"auth.login_failure_window", c.Auth.LoginFailureWindow},
	} {
		if d.val <= 0 {
			return bad(d.key, "must be a positive duration such as 120h")
		}
	}
	if c.Fulfilment.MaxFileSize <= 0 {
		return bad("fulfilment.max_file_size", "must be a positive number of bytes")
	}
	if c.Fulfilment.WebhookMaxCallback <= 0 {
		return bad("fulfilment.webhook_max_callback", "must be a positive number of bytes")
	}
	if c.Workflow.DefaultExtension < 0 {
		return bad("workflow.default_extension", "must not be negative")
	}
	if c.Workflow.VerificationReminderAfter >= c.Workflow.VerificationExpiry {
		return bad("workflow.verification_reminder_after", "must be shorter than workflow.verification_expiry")
	}
	for i, r := range c.Jurisdictions {
		if r.ID == "" || r.Period.IsZero() || len(r.Countries)+len(r.Regions) == 0 {
			return bad(fmt.Sprintf("jurisdictions[%d]", i), "each rule needs an id, a period and countries or regions")
		}
		if !holidays.Known(r.Calendar) {
			return bad(fmt.Sprintf("jurisdictions[%d].calendar", i), "unknown holiday calendar %q (known: us, us-ca, gb-eng)", r.Calendar)
		}
		if r.Timezone != "" {
			if _, err := dsar.LoadZone(r.Timezone); err != nil {
				return bad(fmt.Sprintf("jurisdictions[%d].timezone", i), "unknown time zone %q (want an IANA name such as America/Los_Angeles)", r.Timezone)
			}
		}
		if r.OptOut != nil && r.OptOut.Period.IsZero() {
			return bad(fmt.Sprintf("jurisdictions[%d].opt_out.period", i), "an opt-out track needs a period")
		}
		if a := r.Appeal; a != nil && (a.Window.IsZero() || a.Period.IsZero()) {
			return bad(fmt.Sprintf("jurisdictions[%d].appeal", i), "an appeal needs a window and a period")
		}
	}
	switch c.Alerts.Mode {
	case "digest", "immediate":
	default:
		return bad("alerts.mode", "must be digest or immediate, not %q", c.Alerts.Mode)
	}
	if _, err := time.Parse("15:04", c.Alerts.DigestTime); err != nil {
		return bad("alerts.digest_time", "must be HH:MM, not %q", c.Alerts.DigestTime)
	}
	if _, err := time.LoadLocation(c.Alerts.Timezone); err != nil {
		return bad("alerts.timezone", "unknown time zone %q", c.Alerts.Timezone)
	}
	if c.Reconcile.Every < time.Minute || c.Reconcile.Every > 24*time.Hour {
		return bad("reconcile.every", "must be a duration from 1m to 24h, not %s", c.Reconcile.Every)
	}
	if err := c.checkRetention(bad); err != nil {
		return err
	}
	if c.Company.Name == "" {
		return bad("company.name", "must not be empty")
	}
	if err := c.checkCompanyTexts(bad); err != nil {
		return err
	}
	if c.Intake.MaxUploadBytes < 1024 {
		return bad("intake.max_upload_bytes", "must be at least 1024")
	}
	if c.Intake.CaptchaMaxNum < 1 {
		return bad("intake.captcha_max_number", "must be positive")
	}
	if c.Intake.CaptchaDisabled && !c.Dev() {
		return bad("intake.captcha_disabled", "only dev mode may turn the captcha off")
	}
	if c.Intake.RatePerMinute < 1 {
		return bad("intake.rate_per_minute", "must be at least 1")
	}
	if c.Intake.VerifyPerMinute < 1 {
		return bad("intake.verify_rate_per_minute", "must be at least 1")
	}
	if c.Intake.UnverifiedPerEmail < 1 {
		return bad("intake.unverified_per_email", "must be at least 1")
	}
	if c.Intake.UnverifiedPerNetwork < c.Intake.UnverifiedPerEmail {
		return bad("intake.unverified_per_network", "must be at least intake.unverified_per_email (%d)", c.Intake.UnverifiedPerEmail)
	}
	if c.Intake.UnverifiedBytes < c.Intake.MaxUploadBytes {
		return bad("intake.unverified_bytes", "must be at least intake.max_upload_bytes (%d), or no document fits", c.Intake.MaxUploadBytes)
	}
	if c.Intake.CaptchaBusyWindow < time.Minute || c.Intake.CaptchaBusyWindow > 24*time.Hour {
		return bad("intake.captcha_busy_window", "must be a duration from 1m to 24h, not %s", c.Intake.CaptchaBusyWindow)
	}
	if c.Intake.CaptchaBusyStep < 1 {
		return bad("intake.captcha_busy_step", "must be at least 1")
	}
	if c.Intake.CaptchaMaxNumCeiling < c.Intake.CaptchaMaxNum {
		return bad("intake.captcha_max_number_ceiling", "must be at least intake.captcha_max_number (%d)", c.Intake.CaptchaMaxNum)
	}
	if c.Auth.LoginPerMinute < 1 {
		return bad("auth.login_per_minute", "must be at least 1")
	}
	if c.Auth.LoginFreeFailures < 1 {
		return bad("auth.login_free_failures", "must be at least 1")
	}
	if c.Auth.LoginBackoffMax < c.Auth.LoginBackoff {
		return bad("auth.login_backoff_max", "must be at least auth.login_backoff (%s)", c.Auth.LoginBackoff)
	}
	if c.Auth.LoginCaptchaAfter < c.Auth.LoginFreeFailures {
		return bad("auth.login_captcha_after", "must be at least auth.login_free_failures (%d)", c.Auth.LoginFreeFailures)
	}
	if c.Auth.PasswordHashes < 1 {
		return bad("auth.password_hashes", "must be at least 1")
	}
	if c.Auth.PasswordHashWait < 0 || c.Auth.PasswordHashWait > time.Minute {
		return bad("auth.password_hash_wait", "must be a duration from 0 to 1m, not %s", c.Auth.PasswordHashWait)
	}
	if c.Auth.SessionCache < 0 || c.Auth.SessionCache > time.Minute {
		return bad("auth.session_cache", "must be a duration from 0 (off) to 1m")
	}
	for _, r := range c.Auth.MFARequiredRoles {
		if !dsar.Role(r).Valid() {
			return bad("auth.mfa_required_roles", "%q is not a role: use org_owner, admin, manager or source_owner", r)
		}
	}
	if o := c.Auth.OIDC; o.Issuer != "" {
		iu, err := url.Parse(o.Issuer)
		if err != nil || iu.Host == "" || (iu.Scheme != "https" && (iu.Scheme != "http" || !c.Dev())) {
			return bad("auth.oidc.issuer", "must be an https URL (http only in dev mode), not %q", o.Issuer)
		}
		if o.ClientID == "" {
			return bad("auth.oidc.client_id", "must be set when auth.oidc.issuer is")
		}
		if ru, err := url.Parse(c.OIDCRedirectURL()); err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
			return bad("auth.oidc.redirect_url", "must be an absolute http(s) URL")
		}
		if !slices.Contains(o.Scopes, "openid") {
			return bad("auth.oidc.scopes", "must include openid")
		}
		if o.GroupsClaim == "" {
			return bad("auth.oidc.groups_claim", "must not be empty")
		}
		g := o.RoleGroups
		if len(g.OrgOwner)+len(g.Admin)+len(g.Manager)+len(g.SourceOwner) == 0 {
			return bad("auth.oidc.role_groups", "must map at least one group to a role (auth.oidc.role_groups.admin: [dsar-admins], ...)")
		}
	}
	if !c.Auth.PasswordLogin && !c.OIDCEnabled() {
		return bad("auth.password_login", "may be off only with single sign-on (auth.oidc.issuer) on")
	}
	if c.Portal.SignInLinkExpiry < time.Minute || c.Portal.SignInLinkExpiry > 24*time.Hour {
		return bad("portal.sign_in_link_expiry", "must be a duration from 1m to 24h, not %s", c.Portal.SignInLinkExpiry)
	}
	if c.Portal.SignInLinksPerHour < 1 {
		return bad("portal.sign_in_links_per_hour", "must be at least 1")
	}
	for _, q := range []struct {
		key string
		val int64
	}{
		{"portal.request_messages_per_day", int64(c.Portal.RequestMessagesPerDay)},
		{"portal.account_messages_per_day", int64(c.Portal.AccountMessagesPerDay)},
		{"portal.request_message_bytes_per_day", c.Portal.RequestMessageBytesPerDay},
		{"portal.account_message_bytes_per_day", c.Portal.AccountMessageBytesPerDay},
	} {
		if q.val < 1 {
			return bad(q.key, "must be at least 1")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "must be text or json")
	}
	return c.Worker.validate(bad)
}

// DigestLocation is the time zone of the daily alert digest.
func (c *Config) DigestLocation() *time.Location {
	loc, err := time.LoadLocation(c.Alerts.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// checkRetention validates the retention.* keys.
func (c *Config) checkRetention(bad func(key, format string, args ...any) error) error {
	r := c.Retention
	if r.Every < time.Minute || r.Every > 7*24*time.Hour {
		return bad("retention.every", "must be a duration from 1m to 168h, not %s", r.Every)
	}
	day := 24 * time.Hour
	for _, k := range []struct {
		key      string
		d, least time.Duration
		why      string
	}{
		// The default, two years, is what CCPA §7101 and Colorado Rule
		// 6.11 ask for; a company under neither may keep them shorter.
		{"retention.records", r.Records, 30 * day, "at least 720h (the default, 17520h, is the 24 months CCPA §7101 asks for)"},
		{"retention.messages", r.Messages, day, "at least a day"},
		{"retention.packages", r.Packages, day, "at least a day"},
		{"retention.sessions", r.Sessions, time.Hour, "at least an hour"},
		{"retention.tokens", r.Tokens, time.Hour, "at least an hour"},
		// A stored answer is replayed for a day: kept at least that long.
		{"retention.idempotency_keys", r.IdempotencyKeys, day, "at least 24h, the time an answer is replayed"},
		{"retention.blind_index", r.BlindIndex, day, "at least a day"},
	} {
		if k.d < k.least {
			return bad(k.key, "must be %s, not %s", k.why, k.d)
		}
	}
	return nil
}
