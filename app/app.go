// Package app ties the service together: it loads nothing itself but takes
// a config, opens the database (and migrates it), connects to Temporal, and
// runs the API, the worker, or both. The dsar command and end-to-end tests
// both use it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/metrics"
	"github.com/opendsar/dsar/server"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/temporalconn"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// App is the service's wired dependencies.
type App struct {
	Config    *config.Config
	Log       *slog.Logger
	DB        *store.DB
	Keys      *crypto.Keyring
	Temporal  client.Client
	Metrics   *metrics.Registry
	Mailer    mail.Mailer
	Templates *mail.Templates
	Outbox    *mail.Outbox
}

// NewLogger returns the slog logger that cfg asks for, on stderr.
func NewLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Open builds the app: keys, database (migrated), mailer and a lazy
// Temporal client. log may be nil for the config's own logger.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = NewLogger(cfg)
	}
	a := &App{Config: cfg, Log: log, Metrics: metrics.New()}
	var err error
	a.Keys, err = crypto.NewKeyring(cfg.Crypto.MasterKeyID, cfg.Crypto.MasterKey, cfg.Crypto.PreviousKeys, cfg.Crypto.IndexKeyID)
	if err != nil {
		return nil, err
	}
	if cfg.Dev() {
		log.Warn("DEV MODE: development defaults are in use (dev master key, dev outbox mailer); never run production like this")
	}
	a.DB, err = store.Open(ctx, cfg.Database.URL, cfg.Database.MaxOpenConns)
	if err != nil {
		return nil, err
	}
	a.DB.KeyAudit(a.Keys)
	if err := a.DB.Migrate(ctx, log); err != nil {
		a.DB.Close()
		return nil, err
	}
	a.Templates, err = mail.LoadTemplates()
	if err != nil {
		a.DB.Close()
		return nil, err
	}
	switch cfg.Email.Provider {
	case "outbox":
		a.Outbox = mail.NewOutbox(a.DB, cfg.Email.From)
		a.Mailer = a.Outbox
	default:
		a.Mailer, err = mail.NewResend(cfg.Email.Resend.APIKey, cfg.Email.Resend.BaseURL, cfg.Email.From)
		if err != nil {
			a.DB.Close()
			return nil, err
		}
	}
	a.Temporal, err = temporalconn.Dial(cfg, a.Keys, log, a.Metrics.Temporal())
	if err != nil {
		a.DB.Close()
		return nil, err
	}
	return a, nil
}

// Close releases the app's connections.
func (a *App) Close() {
	if a.Temporal != nil {
		a.Temporal.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}

// Server builds the HTTP server over the app.
func (a *App) Server() (*server.Server, error) {
	return server.New(server.Deps{
		Config: a.Config, DB: a.DB, Temporal: a.Temporal, Keys: a.Keys, Mailer: a.Mailer,
		Templates: a.Templates, Outbox: a.Outbox, Log: a.Log, Metrics: a.Metrics,
	})
}

// Activities builds the activities over the app.
func (a *App) Activities() *activities.Activities {
	return &activities.Activities{DB: a.DB, Mailer: a.Mailer, Templates: a.Templates, Keys: a.Keys, Config: a.Config, Temporal: a.Temporal, Log: a.Log}
}

// Prepare does the worker's start-up chores against Temporal: register the
// search attributes that are missing, and create (or update) the Schedules
// that run the daily alert digest, the reconciliation and the retention
// sweep. All are idempotent.
func (a *App) Prepare(ctx context.Context) error {
	if err := temporalconn.EnsureSearchAttributes(ctx, a.Temporal, a.Config.Temporal.Namespace, workflows.SearchAttributes); err != nil {
		return err
	}
	if err := worker.EnsureDigestSchedule(ctx, a.Temporal, worker.DigestSchedule{
		TaskQueue: a.Config.Temporal.TaskQueue, At: a.Config.Alerts.DigestTime, TimeZone: a.Config.Alerts.Timezone,
	}); err != nil {
		return err
	}
	if err := worker.EnsureReconcileSchedule(ctx, a.Temporal, a.Config.Temporal.TaskQueue, a.Config.Reconcile.Every); err != nil {
		return err
	}
	return worker.EnsureRetentionSchedule(ctx, a.Temporal, a.Config.Temporal.TaskQueue, a.Config.Retention.Every)
}

// RunWorker runs the Temporal worker until ctx ends.
func (a *App) RunWorker(ctx context.Context) error {
	if err := a.Prepare(ctx); err != nil {
		return err
	}
	w := worker.New(a.Temporal, a.Config.Temporal.TaskQueue, a.Activities())
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	sizes := a.Config.WorkerSizes()
	a.Log.Info("worker started", "task_queue", a.Config.Temporal.TaskQueue, "namespace", a.Config.Temporal.Namespace,
		"memory_budget", sizes.MemoryBudget, "sticky_cache_size", sizes.StickyCacheSize,
		"max_concurrent_activities", sizes.MaxConcurrentActivities, "max_concurrent_local_activities", sizes.MaxConcurrentLocalActivities,
		"max_concurrent_workflow_tasks", sizes.MaxConcurrentWorkflowTasks,
		"workflow_pollers", sizes.WorkflowPollers, "activity_pollers", sizes.ActivityPollers)
	<-ctx.Done()
	a.Log.Info("worker stopping: waiting for running activities", "stop_timeout", sizes.StopTimeout)
	w.Stop()
	a.Log.Info("worker stopped")
	return nil
}

// RunServer serves HTTP until ctx ends.
func (a *App) RunServer(ctx context.Context) error {
	srv, err := a.Server()
	if err != nil {
		return err
	}
	if err := a.DB.CacheStaffSessions(ctx, a.Config.Auth.SessionCache, a.Log); err != nil {
		return err
	}
	a.Log.Info("http server listening", "addr", a.Config.HTTP.Addr, "tls", a.Config.HTTP.TLSCert != "")
	return srv.ListenAndServe(ctx)
}

// RunAll runs the server and the worker in one process until ctx ends or
// either fails.
func (a *App) RunAll(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.RunWorker(ctx) })
	g.Go(func() error { return a.RunServer(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
