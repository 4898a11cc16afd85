// Package temporalconn connects the service to Temporal: the client with the
// encrypting data and failure converters, TLS, mTLS or an API key, and the
// registration of the custom search attributes.
package temporalconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
)

// Options returns the client options for cfg: the codec converters over
// keys, TLS and credentials as configured, logs to log and metrics to mh
// (nil for none).
func Options(cfg *config.Config, keys *crypto.Keyring, log *slog.Logger, mh client.MetricsHandler) (client.Options, error) {
	return OptionsWith(cfg, codec.DataConverter(keys), log, mh)
}

// OptionsWith is Options with the data converter dc (a connector's, built
// from its payload key alone); the failure converter goes through dc too.
func OptionsWith(cfg *config.Config, dc converter.DataConverter, log *slog.Logger, mh client.MetricsHandler) (client.Options, error) {
	opts := client.Options{
		HostPort:         cfg.Temporal.Address,
		Namespace:        cfg.Temporal.Namespace,
		DataConverter:    dc,
		FailureConverter: codec.FailureConverter(dc),
		Logger:           tlog.NewStructuredLogger(log.With("component", "temporal")),
		MetricsHandler:   mh,
	}
	t := cfg.Temporal
	if t.Compression == "gzip" {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	} else {
		// The SDK's default is gzip; what we send is mostly ciphertext,
		// which does not compress, so gzip only costs CPU on both ends.
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if t.TLS || t.TLSCert != "" || t.TLSCA != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
		if t.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
			if err != nil {
				return opts, fmt.Errorf("temporal: client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if t.TLSCA != "" {
			pem, err := os.ReadFile(t.TLSCA)
			if err != nil {
				return opts, fmt.Errorf("temporal: CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return opts, fmt.Errorf("temporal: CA %s holds no certificate", t.TLSCA)
			}
			tc.RootCAs = pool
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		// TLS is switched on by the SDK when an API key is given.
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	return opts, nil
}

// Dial connects a client with Options. It does not wait for the server to
// answer (the SDK connects lazily), so a service can start while Temporal is
// still coming up; readiness checks report the connection.
func Dial(cfg *config.Config, keys *crypto.Keyring, log *slog.Logger, mh client.MetricsHandler) (client.Client, error) {
	opts, err := Options(cfg, keys, log, mh)
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal: client: %w", err)
	}
	return c, nil
}

// EnsureSearchAttributes registers each attribute of attrs (name → type)
// that the namespace lacks. Registering is idempotent; on Temporal Cloud,
// where the operator API is closed, missing attributes are reported.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enumspb.IndexedValueType) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("temporal: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range attrs {
		if _, ok := list.CustomAttributes[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("temporal: add search attributes %v: %w", keys(missing), err)
	}
	return nil
}

func keys(m map[string]enumspb.IndexedValueType) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
