package scheduler

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestJanitorPrunesWatermarks: watermarks are written once a week by every process that
// seals; the janitor of the lease's holder deletes those older than watermarkKeep days,
// so that what is stored stays bounded however long the store lives, and the newest
// watermark within the window a process reads is still there and still read in one
// listing and one read. The lease's links are pruned by the same janitor run.
func TestJanitorPrunesWatermarks(t *testing.T) {
	defer func(n int64) { leaseEpochSize = n }(leaseEpochSize)
	leaseEpochSize = 10
	today := archiver.DayOf(time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC))
	var stored []int
	var lookups []storetest.Counts
	for _, weeks := range []int{5, 50} {
		s, err := fsstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		var newest string
		for w := weeks; w >= 0; w-- {
			d := archiver.DayOf(today.Start().AddDate(0, 0, -7*w))
			b := []byte(fmt.Sprintf(`{"week":%d}`, w))
			key := fmt.Sprintf("%s%s/%013d-%x.json.gz", watermarkPrefix, d, d.Start().UnixMilli(), w)
			if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			newest = key
		}
		clk := NewFakeClock(today.Start().Add(12 * time.Hour))
		l := &Lease{Store: s, Holder: "host-a", TTL: time.Minute, Clock: clk}
		for range 35 {
			if err := l.Acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		sch := &Scheduler{Lease: l, Watermarks: s, Clock: clk, Logger: slog.New(slog.DiscardHandler)}
		sch.janitor(t.Context())
		marks := listAllKeys(t, s, watermarkPrefix)
		links := listAllKeys(t, s, "leases/scheduler/")
		c := storetest.NewCounting(s)
		key, _, err := newestWatermark(t.Context(), c, today)
		if err != nil || key != newest {
			t.Fatalf("%d weeks: newest watermark after the janitor %q, %v; want %q", weeks, key, err, newest)
		}
		n := c.Reset()
		t.Logf("%d weekly watermarks: %d kept %q; %d lease links kept; newest found in %v", weeks+1, len(marks), marks, len(links), n)
		if len(links) > 2*int(leaseEpochSize) {
			t.Errorf("%d lease links kept; want at most two epochs", len(links))
		}
		if err := l.Acquire(t.Context()); err != nil {
			t.Errorf("the lease after pruning: %v", err)
		}
		stored = append(stored, len(marks))
		lookups = append(lookups, n)
	}
	if stored[0] != stored[1] || stored[1] > watermarkKeep/watermarkEvery+1 {
		t.Errorf("watermarks kept: %v; want the same, at most %d, whatever the history", stored, watermarkKeep/watermarkEvery+1)
	}
	if lookups[0].Requests() != lookups[1].Requests() || lookups[0]["Keys"] != lookups[1]["Keys"] {
		t.Errorf("finding the newest watermark: %v and %v; want the same", lookups[0], lookups[1])
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "scheduler watermarks and lease links pruned by the lease holder's janitor", reliability.Kept,
		"once a day the janitor deletes the watermarks written more than three weeks ago (a process reads the newest of the last two) and the lease's epochs before its last two: with 6 or 51 weekly watermarks the same 4 are kept, and the newest is found in one listing and one read")
}
