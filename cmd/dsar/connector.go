package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/connector"
	"github.com/opendsar/dsar/crypto"
)

// runConnector is dsar connector: a data source's connector worker, run
// from its own config (not the service's), holding the database
// credentials and statements and the payload key, never the master key.
func runConnector(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("dsar connector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the connector's YAML config `file` (connector.yaml; see docs/connectors.md)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Run a data source's connector: a Temporal worker on the source's task queue that runs its steps\n"+
			"(identify, export, count, erase, verify) against the database next to it. Outbound connections only.\n\n"+
			"Usage: dsar connector --config connector.yaml\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		fs.Usage()
		return errors.New("connector: --config is required")
	}
	cfg, err := connector.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "connector")
	return connector.Run(ctx, cfg, log)
}

// keysConnector is dsar keys connector: the payload key of the current
// master key, for a connector's temporal.payload_key.
func keysConnector(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := flags("keys connector", "Print the payload key a connector seals and opens Temporal payloads with (its config's\n"+
		"temporal.payload_key), derived from the current master key. Whoever holds it can read and seal every\n"+
		"payload of the namespace (not the database's data): lock each connector's Temporal access to its task\n"+
		"queue, and give connectors the new key after a master key rotation.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *cfgPath
	if path == "" {
		path = os.Getenv("DSAR_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(devConfig); err == nil {
			path = devConfig
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	keys, err := crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, cfg.Crypto.PreviousKeys, cfg.Crypto.IndexKeyID)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, codec.PayloadKey(keys))
	return nil
}
