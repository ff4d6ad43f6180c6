package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// Verify rates: go test -run '^$' -bench Verify -benchtime 3x ./archiver/verify/
// (MinIO: CHATVAULT_MINIO=<minio binary>; the S3 case fails without it, as the S3 tests do,
// unless -short). Each case seals benchDays generated days of benchOrgs organizations
// once, then times full verifications: org-days/s and MB/s (stored bytes re-hashed).
const (
	benchDays   = 4
	benchOrgs   = 40
	benchEvents = 40_000
)

func BenchmarkVerify(b *testing.B) {
	b.Run("folder", func(b *testing.B) {
		benchVerify(b, newFSStore(b, b.TempDir()))
	})
	b.Run("minio", func(b *testing.B) {
		if testing.Short() {
			b.Skip("MinIO: not with -short")
		}
		srv := miniotest.Start(b)
		store, err := s3.NewStore(context.Background(), srv.Client(), srv.Bucket(b, false), "cv", s3.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchVerify(b, store)
	})
}

func benchVerify(b *testing.B, store archiver.Store) {
	ctx := context.Background()
	logDir := b.TempDir()
	first, _ := archiver.ParseDay("2026-10-01")
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	day := first
	for i := 0; i < benchDays; i, day = i+1, day.Next() {
		if _, err := synth.Generate(ctx, logDir, synth.Options{Day: day, Events: benchEvents, Orgs: benchOrgs, Seed: int64(i + 1)}); err != nil {
			b.Fatal(err)
		}
	}
	dirBytes, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
	if err != nil {
		b.Fatal(err)
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		b.Fatal(err)
	}
	day = first
	for i := 0; i < benchDays; i, day = i+1, day.Next() {
		d := day
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			Now: func() time.Time { return d.End().Add(time.Hour) }, TempDir: b.TempDir(), SigningKey: key,
			Logger: slog.New(slog.DiscardHandler)}}
		if _, err := s.Seal(ctx, d, dirBytes, ""); err != nil {
			b.Fatal(err)
		}
	}
	pub := key.Public().(ed25519.PublicKey)
	b.ResetTimer()
	var manifests int
	var bytes int64
	for range b.N {
		rep, err := Run(ctx, ledger.Ledger{Store: store}, Options{TrustedKey: pub})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("problems: %q", rep.Problems)
		}
		manifests, bytes = rep.Manifests, rep.Bytes
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.SetBytes(bytes)
	b.ReportMetric(float64(manifests*b.N)/secs, "org-days/s")
	b.ReportMetric(float64(bytes*int64(b.N))/secs/1e6, "MB/s")
	b.ReportMetric(float64(manifests), "org-days")
}
