package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{4 * mib, 32 * mib, 800},      // a small heap: room to grow by 32 MiB
		{16 * mib, 32 * mib, 200},     // ...
		{32 * mib, 32 * mib, 100},     // from here on Go's default
		{300 * mib, 32 * mib, 100},    // uploads in flight: never below the default
		{1 * mib / 4, 32 * mib, 1000}, // bounded
		{0, 32 * mib, 100},
	} {
		if got := gcPercentFor(c.live, c.headroom); got != c.want {
			t.Errorf("gcPercentFor(%d MiB, %d MiB) = %d, want %d", c.live/mib, c.headroom/mib, got, c.want)
		}
	}
}

// gogc is the process's GOGC as the runtime reports it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC collects until the tuner has set GOGC to what ok accepts.
func waitGOGC(t *testing.T, what string, ok func(int) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		if ok(gogc()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GOGC is %d, want %s", gogc(), what)
}

// The tuner gives a small heap room to grow, and a large one Go's default.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	stop := tuneGC(func(string) string { return "" }, 64<<20)
	if stop == nil {
		t.Fatal("GOGC unset: no tuning")
	}
	defer stop()
	waitGOGC(t, "above 100 while the live heap is a few MiB", func(p int) bool { return p > 100 })

	big := make([]byte, 128<<20) // live, and larger than the room
	waitGOGC(t, "100 with 128 MiB live", func(p int) bool { return p == 100 })
	runtime.KeepAlive(big)
}

// An operator's GOGC rules.
func TestTuneGCLeavesTheOperatorsGOGC(t *testing.T) {
	if stop := tuneGC(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}, 64<<20); stop != nil {
		stop()
		t.Fatal("GOGC=100 set: tuned anyway")
	}
}

// The worker's budget becomes the memory limit, unless GOMEMLIMIT is set.
func TestLimitMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	limitMemory(func(string) string { return "" }, 256<<20)
	if got := debug.SetMemoryLimit(-1); got != 256<<20 {
		t.Errorf("limit %d, want the budget", got)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	limitMemory(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, 256<<20)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: limit changed to %d", got)
	}
}
