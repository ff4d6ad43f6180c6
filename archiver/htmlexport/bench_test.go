package htmlexport

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/model"
)

// BenchmarkWriter exports a generated day of CHATVAULT_BENCH_EVENTS lines (default
// 100,000; its message events, decoded on the fly) and reports throughput, the output's
// size and the live heap's peak, which must not grow with the input:
//
//	CHATVAULT_BENCH_EVENTS=1000000 go test -run '^$' -bench Writer -benchtime 1x -benchmem ./archiver/htmlexport/
func BenchmarkWriter(b *testing.B) {
	files := exporttest.Synth(b, "2026-11-22", exporttest.BenchEvents(b))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		stop := exporttest.HeapPeak()
		start := time.Now()
		var out exporttest.CountingWriter
		w, err := NewWriter(&out, Options{Org: exporttest.Org, OrgName: exporttest.OrgName, TaskID: "bench", TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		next := exporttest.Stream(b, files)
		err = w.WriteDay(context.Background(), exporttest.Manifest("2026-11-22"), func() (model.Event, error) {
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
