package exporttest

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/model"
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

// Encoder is what the format benchmarks drive: the export task engine's seam.
type Encoder interface {
	WriteDay(ctx context.Context, m *archiver.StoredManifest, next func() (model.Event, error)) error
	Close() error
}

// BenchWriter exports a generated day of BenchEvents lines (its message events, decoded
// on the fly) through the encoder newEncoder makes, and reports throughput, the output's
// size and the live heap's peak, which must not grow with the input.
func BenchWriter(b *testing.B, newEncoder func(w io.Writer, tempDir string) (Encoder, error)) {
	files := Synth(b, "2026-11-22", BenchEvents(b))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		stop := HeapPeak()
		start := time.Now()
		var out CountingWriter
		w, err := newEncoder(&out, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		next := Stream(b, files)
		err = w.WriteDay(context.Background(), Manifest("2026-11-22"), func() (model.Event, error) {
			e, err := next()
			if err == nil {
				n++
			}
			return e, err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		peak := stop()
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(n), "events")
		b.ReportMetric(float64(out.N)/(1<<20), "out-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	}
}
