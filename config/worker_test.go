package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opendsar/dsar/config"
)

func devConfig(t *testing.T, settings map[string]any) (*config.Config, error) {
	t.Helper()
	s := map[string]any{"mode": "dev", "database.url": "postgres://x"}
	for k, v := range settings {
		s[k] = v
	}
	return config.FromMap(s)
}

// With nothing set, the worker is sized from the 256 MiB budget and the
// database pool.
func TestWorkerSizesAreDerivedFromTheBudgetAndThePool(t *testing.T) {
	cfg, err := devConfig(t, map[string]any{"database.max_open_conns": 12})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Worker.MemoryBudget != 256<<20 || cfg.Worker.StopTimeout != 25*time.Second {
		t.Errorf("defaults: budget %s, stop timeout %s", cfg.Worker.MemoryBudget, cfg.Worker.StopTimeout)
	}
	got := cfg.WorkerSizes()
	want := config.Worker{
		MemoryBudget:                 256 << 20,
		StickyCacheSize:              (256<<20 - config.WorkerBaseBytes) / config.CachedWorkflowBytes,
		MaxConcurrentActivities:      12,
		MaxConcurrentLocalActivities: 12,
		MaxConcurrentWorkflowTasks:   24,
		WorkflowPollers:              8,
		ActivityPollers:              8,
		StopTimeout:                  25 * time.Second,
	}
	if got != want {
		t.Errorf("derived sizes:\n got %+v\nwant %+v", got, want)
	}

	// A bigger budget holds more workflows; a set size is kept as it is.
	cfg, err = devConfig(t, map[string]any{"worker.memory_budget": "1GiB", "worker.max_concurrent_activities": 3,
		"worker.workflow_pollers": 4})
	if err != nil {
		t.Fatal(err)
	}
	got = cfg.WorkerSizes()
	if got.StickyCacheSize != (1<<30-config.WorkerBaseBytes)/config.CachedWorkflowBytes {
		t.Errorf("1GiB budget: cache %d", got.StickyCacheSize)
	}
	if got.MaxConcurrentActivities != 3 || got.WorkflowPollers != 4 || got.ActivityPollers != 8 {
		t.Errorf("set sizes changed: %+v", got)
	}

	// Workflow tasks never outnumber the workflows the cache holds.
	cfg, err = devConfig(t, map[string]any{"worker.sticky_cache_size": 5, "database.max_open_conns": 40})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WorkerSizes(); got.StickyCacheSize != 5 || got.MaxConcurrentWorkflowTasks != 5 {
		t.Errorf("cache of 5: %+v", got)
	}
}

func TestBadWorkerSizesNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		val any
	}{
		{"worker.memory_budget", "lots"},
		{"worker.memory_budget", "64MiB"},
		{"worker.memory_budget", "-1GiB"},
		{"worker.sticky_cache_size", -1},
		{"worker.max_concurrent_activities", -5},
		{"worker.max_concurrent_local_activities", -1},
		{"worker.max_concurrent_workflow_tasks", 1},
		{"worker.workflow_pollers", 1},
		{"worker.activity_pollers", -2},
		{"worker.stop_timeout", "0s"},
	} {
		_, err := devConfig(t, map[string]any{tc.key: tc.val})
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%v: want an error naming the key, got %v", tc.key, tc.val, err)
		}
	}
}

func TestBytes(t *testing.T) {
	for in, want := range map[string]config.Bytes{
		"256MiB": 256 << 20, "256mib": 256 << 20, "1 GiB": 1 << 30, "512MB": 512e6, "64KiB": 64 << 10,
		"2kb": 2000, "65536": 65536, "100B": 100,
	} {
		var b config.Bytes
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.5GiB", "-1MiB", "12 parsecs", "99999999999GiB"} {
		var b config.Bytes
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: want an error, got %d", in, b)
		}
	}
	for b, want := range map[config.Bytes]string{256 << 20: "256MiB", 1 << 30: "1GiB", 1000: "1000B", 3 << 10: "3KiB"} {
		if b.String() != want {
			t.Errorf("%d prints %q, want %q", b, b.String(), want)
		}
	}
}
