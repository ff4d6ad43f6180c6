package archiver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
)

// BenchmarkSeal seals a generated day of 200,000 lines into a fresh folder store per
// iteration. The end-to-end figures at 1M and 4M events come from scripts/bench.sh.
func BenchmarkSeal(b *testing.B) { benchmarkSeal(b, archiver.Shard{}) }

// BenchmarkSealShard is BenchmarkSeal as shard 0 of 4 (run --shard 0/4): the shard reads
// every line, skips the other shards' undecoded, and hashes the whole partition for its
// accounting object's join key (Accounting.PartitionDigest).
func BenchmarkSealShard(b *testing.B) { benchmarkSeal(b, archiver.Shard{Index: 0, Count: 4}) }

func benchmarkSeal(b *testing.B, shard archiver.Shard) {
	logDir := b.TempDir()
	day := mustDay("2026-11-22")
	st, err := synth.Generate(context.Background(), logDir, synth.Options{Day: day, Events: 200_000, Orgs: 50, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, f := range st.Files {
		fi, err := os.Stat(filepath.Join(logDir, f))
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	f := newFixture(b, logDir)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		storeDir := b.TempDir()
		store, err := newStore(storeDir)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s := &archiver.Sealer{Source: f.src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{TempDir: b.TempDir(), SortMemory: 64 << 20, Shard: shard}}
		res, err := s.Seal(context.Background(), day, f.directory, "")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Input.Read)/res.Duration.Seconds(), "events/s")
		store.Close()
	}
}
