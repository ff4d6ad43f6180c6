package exporttest

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchEvents is the size of the format benchmarks' generated day: CHATVAULT_BENCH_EVENTS,
// or 100,000 lines.
func BenchEvents(tb testing.TB) int {
	s := os.Getenv("CHATVAULT_BENCH_EVENTS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("CHATVAULT_BENCH_EVENTS=%q is not a positive number", s)
	}
	return n
}

// HeapPeak samples the live heap every few milliseconds until stop, which returns the
// largest value seen. Sampling can miss a short spike; it is a measurement for the
// benchmarks' report, never a test's verdict.
func HeapPeak() (stop func() uint64) {
	var (
		peak uint64
		wg   sync.WaitGroup
	)
	done := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// CountingWriter counts what is written to it and keeps none of it.
type CountingWriter struct{ N int64 }

func (w *CountingWriter) Write(p []byte) (int, error) {
	w.N += int64(len(p))
	return len(p), nil
}
