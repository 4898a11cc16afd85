package worker_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/app"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/testenv"
	"github.com/opendsar/dsar/worker"
	"github.com/opendsar/dsar/workflows"
)

// BenchmarkCachedWorkflowMemory measures what one open request costs the
// worker that keeps it in its sticky cache: live heap and goroutine stacks
// per workflow, after a collection, with every request waiting on its
// verification timer. config.CachedWorkflowBytes rests on it (with Go's
// collector doubling the live heap before it collects). Run it alone, once:
//
//	go test ./worker -run '^$' -bench CachedWorkflowMemory -benchtime 1x
//
// DSAR_BENCH_WORKFLOWS sets how many requests (default 2000);
// DSAR_BENCH_HEAPPROFILE=file writes a heap profile of them all open
// (go tool pprof -sample_index=inuse_space file).
func BenchmarkCachedWorkflowMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("DSAR_BENCH_WORKFLOWS")); err == nil && v > 0 {
		n = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := testenv.Config(b, testenv.DatabaseURL(b), testenv.TemporalAddress(b), map[string]any{
		"worker.sticky_cache_size": n + 100, "log.level": "error"})
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if err := a.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	w := worker.New(a.Temporal, cfg.Temporal.TaskQueue, a.Activities())
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	// Warm the worker (connections, first workflow) before the baseline.
	startRequests(ctx, b, a, 8)
	waitMails(ctx, b, a, 8)
	before := liveMemory()

	b.ResetTimer()
	for range b.N {
		startRequests(ctx, b, a, n)
		waitMails(ctx, b, a, 8+n)
	}
	b.StopTimer()
	time.Sleep(2 * time.Second) // the last tasks' replies
	after := liveMemory()
	if path := os.Getenv("DSAR_BENCH_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	per := func(x, y uint64) float64 { return (float64(x) - float64(y)) / float64(n) }
	b.ReportMetric(per(after.heap, before.heap), "heap-B/workflow")
	b.ReportMetric(per(after.stacks, before.stacks), "stack-B/workflow")
	b.ReportMetric(per(after.goroutines, before.goroutines), "goroutines/workflow")
	b.Logf("%d open requests: live heap %d → %d MiB, stacks %d → %d MiB, goroutines %d → %d", n,
		before.heap>>20, after.heap>>20, before.stacks>>20, after.stacks>>20, before.goroutines, after.goroutines)
}

type memory struct{ heap, stacks, goroutines uint64 }

// liveMemory collects and reads what is live.
func liveMemory() memory {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memory{heap: m.HeapAlloc, stacks: m.StackInuse, goroutines: uint64(runtime.NumGoroutine())}
}

// startRequests starts n requests as intake does, whose verification
// expires in a day.
func startRequests(ctx context.Context, b *testing.B, a *app.App, n int) {
	b.Helper()
	rule, _ := a.Config.Jurisdictions.Match("DE", "")
	periods := workflows.PeriodsOf(a.Config)
	periods.VerificationExpiry, periods.VerificationReminderAfter = 24*time.Hour, 23*time.Hour
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := uuid.NewString()
				now := time.Now().UTC()
				sealed, err := store.NewSealedRequest(a.Keys, id, store.PII{FirstName: "Memory", LastName: strconv.Itoa(i),
					Email: fmt.Sprintf("memory-%s@example.org", id[:8]), Description: "waiting on a timer"}, nil)
				if err == nil {
					err = a.DB.CreateRequest(ctx, store.NewRequest{ID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer,
						Country: "DE", SubmittedAt: now, Deadline: rule.Period.AddTo(now), DeadlineRule: rule.ID, DeadlineRuleName: rule.Name,
						MaxExtension: rule.Extension, Sealed: sealed})
				}
				if err == nil {
					_, err = a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(id), TaskQueue: a.Config.Temporal.TaskQueue},
						workflows.WorkflowName, workflows.Input{RequestID: id, RequestType: dsar.RequestInfo, RequestorType: dsar.RequestorCustomer,
							Country: "DE", SubmittedAt: now, Deadline: rule.Period.AddTo(now), DeadlineRule: rule.ID, MaxExtension: rule.Extension,
							Periods: periods})
				}
				if err == nil {
					err = a.DB.AcceptRequest(ctx, id)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// waitMails waits until the outbox holds n verification mails: every
// request has run its first task and waits on its timer.
func waitMails(ctx context.Context, b *testing.B, a *app.App, n int) {
	b.Helper()
	for {
		var got int
		if err := a.DB.GetContext(ctx, &got, `SELECT count(*) FROM outbox_mail`); err != nil {
			b.Fatal(err)
		}
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%d of %d verification mails: %v", got, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
