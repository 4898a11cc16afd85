package worker_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opendsar/dsar/activities"
	"github.com/opendsar/dsar/testenv"
)

// TestQueuePollersOnDevServer: the watch of a SQL source's task queue asks
// a real Temporal: a queue nobody polls answers "no poller"; once a worker
// (as a connector would) polls it, "poller seen"; a Temporal that cannot
// be reached answers "unknown" without failing the activity.
func TestQueuePollersOnDevServer(t *testing.T) {
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := &activities.Activities{Temporal: c}
	ctx := context.Background()
	queue := "dsar-source-watch-" + time.Now().Format("150405.000000000")
	in := activities.QueuePollersInput{TaskQueue: queue, Within: 5 * time.Minute}

	got, err := a.QueuePollers(ctx, in)
	if err != nil || !got.Known || got.Seen || !got.LastSeen.IsZero() {
		t.Fatalf("a queue nobody polls: %+v, %v", got, err)
	}

	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "SourceWatchProbe"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	eventually(t, "the worker's poll to show", func() bool {
		got, err = a.QueuePollers(ctx, in)
		return err == nil && got.Seen
	})
	if !got.Known || got.LastSeen.IsZero() {
		t.Errorf("a polled queue: %+v", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel() // Temporal cannot answer
	if got, err := a.QueuePollers(cctx, in); err != nil || got.Known || got.Seen {
		t.Errorf("with Temporal unreachable: %+v, %v", got, err)
	}
}
