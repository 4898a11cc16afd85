package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Worker sizes the Temporal worker (the worker.* keys). A zero size means
// "derive it": Sized fills it from the memory budget and the database pool
// (docs/decisions.md, "The worker's sizes").
type Worker struct {
	// MemoryBudget is the resident memory the worker process is sized for.
	MemoryBudget Bytes `mapstructure:"memory_budget"`
	// StickyCacheSize is how many workflows the worker keeps in memory
	// between their tasks; one that is evicted replays its history at its
	// next task. The SDK holds one cache per process.
	StickyCacheSize int `mapstructure:"sticky_cache_size"`
	// MaxConcurrentActivities bounds the activities run at once.
	MaxConcurrentActivities int `mapstructure:"max_concurrent_activities"`
	// MaxConcurrentLocalActivities bounds the local activities (the
	// workflow's database writes) run at once.
	MaxConcurrentLocalActivities int `mapstructure:"max_concurrent_local_activities"`
	// MaxConcurrentWorkflowTasks bounds the workflow tasks processed at once.
	MaxConcurrentWorkflowTasks int `mapstructure:"max_concurrent_workflow_tasks"`
	// WorkflowPollers and ActivityPollers are the long polls kept open for
	// workflow tasks and for activity tasks.
	WorkflowPollers int `mapstructure:"workflow_pollers"`
	ActivityPollers int `mapstructure:"activity_pollers"`
	// StopTimeout is how long a stopping worker waits for its running
	// activities before it cancels them.
	StopTimeout time.Duration `mapstructure:"stop_timeout"`
}

// The figures the derivation rests on (docs/decisions.md, "The worker's
// sizes"). They are for the DSAR workflow as it is; measure again when its
// state or its goroutines grow.
const (
	// WorkerBaseBytes is the worker's resident memory with an empty cache
	// (about 53 MiB in make bench), with room for its activities.
	WorkerBaseBytes = 64 << 20
	// CachedWorkflowBytes is the resident memory one cached request
	// workflow costs: about 35 KB of live heap and a 17 KB goroutine stack
	// (go test ./worker -bench CachedWorkflowMemory), with room for what
	// the collector has not yet taken back. The budget is also Go's soft
	// memory limit, which keeps that room small once the cache is full.
	CachedWorkflowBytes = 64 << 10
	// minMemoryBudget leaves room for at least a few hundred cached
	// workflows above the base.
	minMemoryBudget = WorkerBaseBytes + 16<<20
	// defaultPollers is the long polls of each kind: the SDK's 2 bounded
	// a burst of timers (docs/performance.md, "Scale at 10,000").
	defaultPollers = 8
)

// Sized returns w with every zero size derived for a database pool of
// poolConns connections:
//
//   - the sticky cache holds what the memory budget leaves above the
//     worker's base, at CachedWorkflowBytes a workflow;
//   - activities and local activities each get one slot per pooled
//     connection, since each holds one while it runs: more would only
//     queue on the pool;
//   - workflow tasks get twice the local-activity slots (a task waits on
//     its local activities, and another can run meanwhile), never more
//     than the cache holds;
//   - pollers: 8 of each kind.
func (w Worker) Sized(poolConns int) Worker {
	if w.StickyCacheSize == 0 {
		w.StickyCacheSize = max(int((int64(w.MemoryBudget)-WorkerBaseBytes)/CachedWorkflowBytes), 2)
	}
	if w.MaxConcurrentActivities == 0 {
		w.MaxConcurrentActivities = poolConns
	}
	if w.MaxConcurrentLocalActivities == 0 {
		w.MaxConcurrentLocalActivities = poolConns
	}
	if w.MaxConcurrentWorkflowTasks == 0 {
		w.MaxConcurrentWorkflowTasks = max(min(2*w.MaxConcurrentLocalActivities, w.StickyCacheSize), 2)
	}
	if w.WorkflowPollers == 0 {
		w.WorkflowPollers = defaultPollers
	}
	if w.ActivityPollers == 0 {
		w.ActivityPollers = defaultPollers
	}
	return w
}

// WorkerSizes is the worker's sizes with every derived one filled in.
func (c *Config) WorkerSizes() Worker {
	return c.Worker.Sized(c.Database.MaxOpenConns)
}

func (w Worker) validate(bad func(key, format string, args ...any) error) error {
	if w.MemoryBudget < minMemoryBudget {
		return bad("worker.memory_budget", "must be at least %s (the worker's base of %s and room for a cache), not %s",
			Bytes(minMemoryBudget), Bytes(WorkerBaseBytes), w.MemoryBudget)
	}
	for _, s := range []struct {
		key string
		val int
	}{
		{"worker.sticky_cache_size", w.StickyCacheSize},
		{"worker.max_concurrent_activities", w.MaxConcurrentActivities},
		{"worker.max_concurrent_local_activities", w.MaxConcurrentLocalActivities},
		{"worker.max_concurrent_workflow_tasks", w.MaxConcurrentWorkflowTasks},
		{"worker.workflow_pollers", w.WorkflowPollers},
		{"worker.activity_pollers", w.ActivityPollers},
	} {
		if s.val < 0 {
			return bad(s.key, "must be 0 (derived) or a positive number, not %d", s.val)
		}
	}
	// The SDK's pollers alternate between the sticky and the normal queue,
	// and it panics on 1 of either.
	if w.WorkflowPollers == 1 {
		return bad("worker.workflow_pollers", "must be 0 (derived) or at least 2: the pollers alternate between two queues")
	}
	if w.MaxConcurrentWorkflowTasks == 1 {
		return bad("worker.max_concurrent_workflow_tasks", "must be 0 (derived) or at least 2: the pollers alternate between two queues")
	}
	if w.StopTimeout <= 0 {
		return bad("worker.stop_timeout", "must be a positive duration such as 25s (how long a stop waits for running activities)")
	}
	return nil
}

// Bytes is a size in bytes, written with a unit in config: "256MiB",
// "1GiB", "512MB", "65536" (bytes). Units are B, KB, MB, GB (powers of
// 1000) and KiB, MiB, GiB (powers of 1024), case-insensitive.
type Bytes int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	// Longest first, so that "MiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"b", 1},
}

// UnmarshalText reads a size with an optional unit.
func (b *Bytes) UnmarshalText(text []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(text)))
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return fmt.Errorf("%q is not a size such as 256MiB", text)
	}
	*b = Bytes(n * factor)
	return nil
}

// MarshalText writes the size in the largest binary unit that divides it.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String is the size in the largest binary unit that divides it.
func (b Bytes) String() string {
	for _, u := range []struct {
		unit   string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.factor == 0 {
			return strconv.FormatInt(int64(b)/u.factor, 10) + u.unit
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}
