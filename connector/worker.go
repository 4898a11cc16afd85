package connector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar/codec"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/temporalconn"
	"github.com/opendsar/dsar/workflows"
)

// heartbeatEvery is the longest a step's heartbeat waits to be sent.
const heartbeatEvery = 5 * time.Second

// Dial connects to Temporal as the config says, with the codec of its
// payload key alone: the connector never holds the master key.
func Dial(cfg *Config, log *slog.Logger) (client.Client, error) {
	dc, err := codec.PayloadKeyDataConverter(cfg.Temporal.PayloadKey)
	if err != nil {
		return nil, err
	}
	var sc config.Config
	t := cfg.Temporal
	sc.Temporal.Address, sc.Temporal.Namespace, sc.Temporal.TLS = t.Address, t.Namespace, t.TLS
	sc.Temporal.TLSCert, sc.Temporal.TLSKey, sc.Temporal.TLSCA = t.TLSCert, t.TLSKey, t.TLSCA
	sc.Temporal.ServerName, sc.Temporal.APIKey = t.ServerName, t.APIKey
	opts, err := temporalconn.OptionsWith(&sc, dc, log, nil)
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal: client: %w", err)
	}
	return c, nil
}

// Run runs the connector's worker on its task queue until ctx ends: the
// sources' child workflow and the step activity. Every connection is
// outbound: Temporal, the service, the databases.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	c, err := Dial(cfg, log)
	if err != nil {
		return err
	}
	defer c.Close()
	acts := New(cfg)
	defer acts.Close()
	// Heartbeats reach Temporal at least every few seconds, so a connector
	// killed mid-export resumes close to where it stopped.
	w := sdkworker.New(c, cfg.Temporal.TaskQueue, sdkworker.Options{MaxHeartbeatThrottleInterval: heartbeatEvery})
	workflows.RegisterSource(w)
	acts.Register(w)
	log.Info("connector started", "task_queue", cfg.Temporal.TaskQueue, "sources", len(cfg.Sources))
	if err := w.Start(); err != nil {
		return fmt.Errorf("connector: worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
