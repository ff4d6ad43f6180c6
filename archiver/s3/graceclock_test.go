package s3_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestGraceOnTheS3EventLogsClock: on an S3 event log, a partition without _CLOSED counts
// as closed once schedule.grace has passed on S3's clock (the listing's Date header) as
// well as on this host's: a host whose clock runs ahead sealed a day its producer could
// still be writing to. Here S3's clock is two hours behind the host's, and the grace ends
// an hour ago on the host's: the day stays pending until S3's clock passes it too.
func TestGraceOnTheS3EventLogsClock(t *testing.T) {
	srv := miniotest.Start(t)
	proxy := srv.NewFaultProxy(t)
	root := t.TempDir()
	now := time.Now()
	day := archiver.DayOf(now.AddDate(0, 0, -2))
	grace := now.Sub(day.End()) - time.Hour // over an hour ago on this host's clock
	if err := os.MkdirAll(filepath.Join(root, day.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, day.String(), "part-0001.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bucket := srv.Bucket(t, false)
	srv.Upload(t, bucket, "events", root)
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, tc := range []struct {
		name    string
		offset  time.Duration // S3's clock from this host's
		pending bool
	}{
		{"S3's clock two hours behind: within the grace on it", -2 * time.Hour, true},
		{"clocks agree: the grace is over", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.SetDateOffset(tc.offset)
			el := s3.NewEventLog(srv.ClientFor(proxy.URL), bucket, "events")
			s := &archiver.Sealer{Source: el, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{Grace: grace, TempDir: t.TempDir()}}
			err := s.Ready(context.Background(), day)
			if got := errors.Is(err, archiver.ErrNotClosed); got != tc.pending {
				t.Fatalf("Ready = %v; want pending (ErrNotClosed): %v", err, tc.pending)
			}
		})
	}
	reliability.Record(t, "input", "a partition without _CLOSED on an S3 event log, the host's clock hours ahead of S3's", reliability.Kept,
		"the grace is counted on S3's clock too (the listing's Date header): the day stays pending until it has passed there; before, the host's clock alone sealed it early")
}
