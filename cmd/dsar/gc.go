package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// serveHeadroom is the least room dsar serve's heap gets to grow between
// two collections. An API process keeps only a few MiB live and allocates
// per call, so at Go's default (GOGC=100) it collected every few MiB: about
// every 50 pages of the queue, and the pages that met a collection made the
// p99 (docs/performance.md). With this room it collects a tenth as often.
// Once the live heap is larger than the room (uploads in flight), the
// collector runs at Go's default again, so the room is all it costs.
const serveHeadroom = 32 << 20

// maxGCPercent bounds the GOGC the tuner sets.
const maxGCPercent = 1000

// gcPercentFor is the GOGC that gives a live heap of live bytes headroom
// bytes to grow before the next collection, and never less than Go's
// default (grow by the live heap).
func gcPercentFor(live, headroom uint64) int {
	if live == 0 || live >= headroom {
		return 100
	}
	return int(min(headroom*100/live, maxGCPercent))
}

// tuneGC keeps at least headroom between the process's collections: after
// each one it sets GOGC from the live heap. It does nothing when the
// operator set GOGC (GOMEMLIMIT, when set, still bounds the heap). stop ends
// the tuning (nil when there is none).
func tuneGC(getenv func(string) string, headroom uint64) (stop func()) {
	if getenv("GOGC") != "" {
		return nil
	}
	var stopped atomic.Bool
	var arm func()
	arm = func() {
		// The sentinel is garbage at once: its cleanup runs after the
		// next collection, reads what that collection left live and arms
		// a new one.
		runtime.AddCleanup(&gcSentinel{}, func(struct{}) {
			if stopped.Load() {
				return
			}
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			metrics.Read(live)
			debug.SetGCPercent(gcPercentFor(live[0].Value.Uint64(), headroom))
			arm()
		}, struct{}{})
	}
	arm()
	return func() { stopped.Store(true) }
}

// gcSentinel is large enough to be an allocation of its own (the runtime
// may never collect a tiny one apart from its neighbours).
type gcSentinel struct{ _ [32]byte }

// limitMemory makes the worker's memory budget Go's soft memory limit, so
// that the collector works harder rather than let garbage take the process
// past the budget (the sticky cache is sized to keep the live heap well
// under it: docs/decisions.md). It does nothing when the operator set
// GOMEMLIMIT.
func limitMemory(getenv func(string) string, budget int64) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(budget)
}
