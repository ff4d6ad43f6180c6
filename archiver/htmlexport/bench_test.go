package htmlexport

import (
	"io"
	"testing"

	"github.com/chatvault/chatvault/internal/exporttest"
)

// BenchmarkWriter exports a generated day of CHATVAULT_BENCH_EVENTS lines (default
// 100,000) and reports throughput, output size and the live heap's peak:
//
//	CHATVAULT_BENCH_EVENTS=1000000 go test -run '^$' -bench Writer -benchtime 1x -benchmem ./archiver/htmlexport/
func BenchmarkWriter(b *testing.B) {
	exporttest.BenchWriter(b, func(w io.Writer, tempDir string) (exporttest.Encoder, error) {
		return NewWriter(w, Options{Org: exporttest.Org, OrgName: exporttest.OrgName, TaskID: "bench", TempDir: tempDir})
	})
}
