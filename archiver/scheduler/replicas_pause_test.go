package scheduler_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// pauseAtExport is a replica's store that pauses the process at its first export object
// (between an organization's data object and its manifest), until resumed.
type pauseAtExport struct {
	archiver.Store
	once            sync.Once
	paused, resumed chan struct{}
}

func (p *pauseAtExport) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if strings.Contains(key, ".events-") {
		first := false
		p.once.Do(func() { first = true })
		if first {
			close(p.paused)
			<-p.resumed
		}
	}
	return p.Store.Create(ctx, key, body, size, sum, opt)
}

// TestPausedReplicaStopsAtItsNextCommit: replica A's tick holds the lease and is paused
// (GC, SIGSTOP, a frozen VM) after writing an organization's export, before its manifest,
// past the lease's TTL and the clock skew. Replica B takes the lease over and seals the
// days. A resumes: its next commit finds the lease lost, and its tick stops there without
// a commit, a failure record, a retry, a watermark or a janitor's deletion; B's seals
// stand, each organization-day sealed once.
func TestPausedReplicaStopsAtItsNextCommit(t *testing.T) {
	days := []string{"2026-11-21", "2026-11-22"}
	w := newSealingWorld(t, days...)
	st, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pa := &pauseAtExport{Store: st, paused: make(chan struct{}), resumed: make(chan struct{})}
	a, b := w.replica("replica-a", pa), w.replica("replica-b", st)
	ctx := context.Background()
	repA := tick(ctx, a)
	select {
	case <-pa.paused:
	case rep := <-repA:
		t.Fatalf("A's tick ended before its first export: %+v", rep)
	}
	w.clock.Add(leaseTTL + scheduler.DefaultMaxSkew + time.Second) // A is paused that long
	rep := <-tick(ctx, b)
	if rep.Skipped != "" || rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != len(days)*len(w.orgs) {
		t.Fatalf("B's takeover tick: %+v; want %d organization-days sealed", rep, len(days)*len(w.orgs))
	}
	close(pa.resumed)
	ra := <-repA
	// Organizations A staged after its pause read B's heads and found their days sealed
	// (unchanged: nothing to write); the one it paused in must not commit.
	if !errors.Is(ra.Err, archiver.ErrFenced) || !errors.Is(ra.Err, scheduler.ErrLeaseLost) {
		t.Fatalf("A's tick after its pause: %+v; want it stopped by the lost lease", ra)
	}
	if c := a.commits(); len(c) != 0 {
		t.Fatalf("A committed %v after losing the lease", c)
	}
	oneRevisionEach(ctx, t, st, w.orgs, days)
	reliability.Record(t, "crash", "serve replica paused mid-seal (between an export and its manifest) past the lease's TTL; another replica took over and sealed", reliability.Refused,
		"the resumed replica's next commit finds the lease lost: no commit, no failure record, no retry, watermark or janitor run; every organization-day sealed once, by the new holder")
}

func mustDayS(t *testing.T, s string) archiver.Day {
	t.Helper()
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// oneRevisionEach checks that every organization-day of orgs and days holds exactly one
// revision and no failure record: the one replica B committed, whatever A tried.
func oneRevisionEach(ctx context.Context, t *testing.T, st archiver.Store, orgs, days []string) {
	t.Helper()
	for _, org := range orgs {
		for _, d := range days {
			var revs, failed []string
			if err := st.List(ctx, archiver.DayPrefix3(org, mustDayS(t, d)), func(k string) error {
				switch {
				case strings.Contains(k, ".failed-"):
					failed = append(failed, k)
				case strings.HasSuffix(k, ".json") && strings.Contains(k, ".r"):
					revs = append(revs, k)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(revs) != 1 || len(failed) != 0 {
				t.Fatalf("%s %s: revisions %v, failure records %v; want B's one revision and no failure", org, d, revs, failed)
			}
		}
	}
}
