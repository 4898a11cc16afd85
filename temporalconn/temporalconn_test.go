package temporalconn_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/temporalconn"
)

func TestClientOptionsFollowConfig(t *testing.T) {
	keys, _ := crypto.NewKeyring("k1", config.DevMasterKey, nil, "")
	base := map[string]any{"mode": "dev", "database.url": "postgres://x", "temporal.address": "temporal.example:7233",
		"temporal.namespace": "privacy"}
	cfg, err := config.FromMap(base)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := temporalconn.Options(cfg, keys, slog.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "temporal.example:7233" || opts.Namespace != "privacy" || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Errorf("plain options: %+v", opts)
	}
	if opts.DataConverter == nil || opts.FailureConverter == nil {
		t.Error("the codec converters must always be set")
	}
	if _, ok := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone); !ok {
		t.Errorf("compression by default = %T, want none (the SDK's own default is gzip)", opts.ConnectionOptions.GrpcCompression)
	}
	gz := map[string]any{"temporal.compression": "gzip"}
	for k, v := range base {
		gz[k] = v
	}
	cfg, _ = config.FromMap(gz)
	if opts, _ := temporalconn.Options(cfg, keys, slog.Default(), nil); !isGzip(opts.ConnectionOptions.GrpcCompression) {
		t.Errorf("temporal.compression=gzip gives %T", opts.ConnectionOptions.GrpcCompression)
	}

	base["temporal.api_key"] = "cloud-key"
	base["temporal.tls"] = true
	base["temporal.server_name"] = "ns.tmprl.cloud"
	cfg, _ = config.FromMap(base)
	opts, err = temporalconn.Options(cfg, keys, slog.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil || opts.ConnectionOptions.TLS == nil || opts.ConnectionOptions.TLS.ServerName != "ns.tmprl.cloud" {
		t.Errorf("API key + TLS: %+v", opts.ConnectionOptions.TLS)
	}

	// A CA file that holds no certificate is refused with a clear error.
	bad := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	base["temporal.tls_ca"] = bad
	cfg, _ = config.FromMap(base)
	if _, err := temporalconn.Options(cfg, keys, slog.Default(), nil); err == nil {
		t.Error("a bad CA file must be refused")
	}
}

func isGzip(c client.GrpcCompression) bool {
	_, ok := c.(*client.GrpcCompressionGzip)
	return ok
}
