package miroir

import (
	"flag"
	"os"
	"runtime/debug"
	"testing"
)

// TestMain collects garbage less often than Go's default (GOGC=400) when
// only tests run and GOGC is not set: every test runs its nodes
// in-process, and under -race on two cores the default collector took
// about a sixth of the package's run time. Benchmarks keep the default,
// which is what an application runs with; tests that measure the heap set
// it back themselves (heapMeasured).
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("GOGC") == "" && flag.Lookup("test.bench").Value.String() == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(m.Run())
}

// heapMeasured restores Go's default collector pacing for the rest of a
// test that measures heap growth (HeapAlloc counts garbage not yet
// collected, which TestMain's setting lets grow).
func heapMeasured(t testing.TB) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
}
