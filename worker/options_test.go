package worker_test

import (
	"testing"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/worker"
)

// The worker runs with the sizes the config derives: slots from the
// database pool, 8 pollers of each kind, a stop that waits.
func TestWorkerOptionsComeFromTheDerivedSizes(t *testing.T) {
	cfg, err := config.FromMap(map[string]any{"mode": "dev", "database.url": "postgres://x", "database.max_open_conns": 10,
		"worker.activity_pollers": 3, "worker.stop_timeout": "40s"})
	if err != nil {
		t.Fatal(err)
	}
	got := worker.Options(cfg.WorkerSizes())
	want := sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      10,
		MaxConcurrentLocalActivityExecutionSize: 10,
		MaxConcurrentWorkflowTaskExecutionSize:  20,
		MaxConcurrentWorkflowTaskPollers:        8,
		MaxConcurrentActivityTaskPollers:        3,
		WorkerStopTimeout:                       40 * time.Second,
	}
	if got.MaxConcurrentActivityExecutionSize != want.MaxConcurrentActivityExecutionSize ||
		got.MaxConcurrentLocalActivityExecutionSize != want.MaxConcurrentLocalActivityExecutionSize ||
		got.MaxConcurrentWorkflowTaskExecutionSize != want.MaxConcurrentWorkflowTaskExecutionSize ||
		got.MaxConcurrentWorkflowTaskPollers != want.MaxConcurrentWorkflowTaskPollers ||
		got.MaxConcurrentActivityTaskPollers != want.MaxConcurrentActivityTaskPollers ||
		got.WorkerStopTimeout != want.WorkerStopTimeout {
		t.Errorf("worker options:\n got %+v\nwant %+v", got, want)
	}
}
