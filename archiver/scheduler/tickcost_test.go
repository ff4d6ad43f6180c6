package scheduler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// noSealer fails the test if a tick tries to seal: every day is sealed already.
type noSealer struct{ t *testing.T }

func (n noSealer) Seal(context.Context, archiver.Day, []byte, string) (*archiver.DayResult, error) {
	n.t.Error("a tick sealed with every day sealed")
	return &archiver.DayResult{}, nil
}

// sealedStore is a folder store holding, for each of orgs organizations, a day index for
// each of days days from first: what a scheduler's catch-up reads. The files are written
// straight into the folder (the store reads whatever regular files it holds), as a seal
// would leave them, without a seal's fsyncs.
func sealedStore(t *testing.T, orgs, days int, first archiver.Day) (archiver.Store, []string) {
	t.Helper()
	root := t.TempDir()
	var ids []string
	for o := range orgs {
		org := fmt.Sprintf("org-%04d", o)
		ids = append(ids, org)
		for d, i := first, 0; i < days; d, i = d.Next(), i+1 {
			dir := filepath.Join(root, "orgs", org, "days", d.String())
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			m := fmt.Sprintf(`{"version":%d,"org":%q,"date":%q,"revision":1,"seq":%d}`, archiver.ManifestVersion, org, d.String(), i+1)
			for name, body := range map[string]string{"r0001.json": m, "events-00.jsonl.gz": "data"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o444); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	fs, err := fsstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs, ids
}

func directoryOf(orgs []string, start archiver.Day) string {
	var b strings.Builder
	b.WriteString(`{"organizations":[`)
	for i, o := range orgs {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%q,"name":%q,"archival":true,"archivalStart":%q}`, o, o, start.String())
	}
	b.WriteString(`],"users":[],"bots":[],"chats":[]}`)
	return b.String()
}

// TestTickCostsPerOrganization: a tick over organizations whose days are all sealed costs
// one request per organization and lists none of their sealed days, however many there
// are: it looks at the days after each organization's last sealed day (and the gaps
// before it this process knows of). The first tick after start lists each organization's
// days once, from its archivalStart, to find those gaps.
func TestTickCostsPerOrganization(t *testing.T) {
	t.Run("folder", func(t *testing.T) {
		testTickCosts(t, 20, []int{10, 40}, func(t *testing.T, orgs, days int, first archiver.Day) (archiver.Store, []string) {
			return sealedStore(t, orgs, days, first)
		})
	})
	t.Run("s3", func(t *testing.T) {
		srv := miniotest.Start(t)
		testTickCosts(t, 5, []int{5, 20}, func(t *testing.T, orgs, days int, first archiver.Day) (archiver.Store, []string) {
			st, err := s3.NewStore(t.Context(), srv.Client(), srv.Bucket(t, false), "archive", s3.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for o := range orgs {
				org := fmt.Sprintf("org-%04d", o)
				ids = append(ids, org)
				for d, i := first, 0; i < days; d, i = d.Next(), i+1 {
					b := []byte("{}")
					if err := st.Create(t.Context(), "orgs/"+org+"/days/"+d.String()+"/r0001.json", bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			return st, ids
		})
	})
	reliability.Record(t, "operations", "scheduler tick over many organizations with years of sealed days", reliability.Kept,
		"after the first tick, one listing per organization starting past its last sealed day: the requests grow with the organizations, the keys listed with the days sealed since")
}

func testTickCosts(t *testing.T, orgs int, sizes []int, fill func(t *testing.T, orgs, days int, first archiver.Day) (archiver.Store, []string)) {
	first := day("2026-01-01")
	for _, days := range sizes {
		store, ids := fill(t, orgs, days, first)
		c := storetest.NewCounting(store)
		dir := directoryOf(ids, first)
		clk := NewFakeClock(first.Start().AddDate(0, 0, days).Add(30 * time.Minute))
		s := &Scheduler{
			NewSealer: func() Sealer { return noSealer{t} },
			Ledger:    ledger.Ledger{Store: c},
			Directory: func(context.Context) ([]byte, error) { return []byte(dir), nil },
			Clock:     clk,
			Retries:   -1,
			Logger:    slog.New(slog.DiscardHandler),
		}
		ctx := context.Background()
		if rep := s.Tick(ctx); len(rep.Sealed)+len(rep.Pending)+len(rep.Failed) != 0 || rep.Err != nil {
			t.Fatalf("first tick: %+v", rep)
		}
		first := c.Reset()
		clk.Add(time.Hour)
		if rep := s.Tick(ctx); len(rep.Sealed)+len(rep.Pending)+len(rep.Failed) != 0 || rep.Err != nil {
			t.Fatalf("second tick: %+v", rep)
		}
		n := c.Reset()
		t.Logf("%d organizations × %d sealed days: first tick %v, next tick %v", orgs, days, first, n)
		// The keys listed are the last sealed day's own (at most two objects here), which
		// the listing starts at to see that the day is still sealed (dayIndex.list).
		if n.Requests() > orgs || n["Keys"] > 2*orgs {
			t.Errorf("a tick over %d organizations with %d sealed days each: %v; want at most %d requests and no key but the last sealed day's", orgs, days, n, orgs)
		}
	}
}

// flakyLedger fails its listings while fail is set.
type flakyLedger struct {
	*fakeSealer
	fail bool
}

func (l *flakyLedger) ListDays(ctx context.Context, org string, from archiver.Day, fn func(ledger.DayKeys) error) error {
	if l.fail {
		// Half a listing: the first day reported, then the store fails.
		err := l.fakeSealer.ListDays(ctx, org, from, func(k ledger.DayKeys) error {
			if err := fn(k); err != nil {
				return err
			}
			return errors.New("store unreachable")
		})
		if err == nil {
			err = errors.New("store unreachable")
		}
		return err
	}
	return l.fakeSealer.ListDays(ctx, org, from, fn)
}

// TestTickRemembersOnlyWhatIsSafe: what a tick remembers of the days never hides one
// that needs sealing, nor seals one twice: a gap sealed meanwhile by another process is
// not sealed again, a listing that fails halfway loses no gap, and an archivalStart moved
// back brings the earlier days in.
func TestTickRemembersOnlyWhatIsSafe(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{
		"2026-11-21": fmt.Errorf("seal: %w", archiver.ErrNoPartition),
	}}
	clk := NewFakeClock(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	l := &flakyLedger{fakeSealer: f}
	s.Ledger = l
	s.Retries = -1
	dir := directory
	s.Directory = func(context.Context) ([]byte, error) { return []byte(dir), nil }
	ctx := context.Background()
	calls := func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		c := f.calls
		f.calls = nil
		return c
	}
	rep := s.Tick(ctx)
	if want := []string{"2026-11-21"}; !slices.Equal(rep.Pending, want) || len(rep.Sealed) != 8 {
		t.Fatalf("first tick: %+v", rep)
	}
	// The next tick finds the days the first one sealed: the 23rd is A's last sealed day.
	if rep := s.Tick(ctx); len(rep.Sealed) != 0 || !slices.Equal(rep.Pending, []string{"2026-11-21"}) {
		t.Fatalf("second tick: %+v", rep)
	}
	calls()

	// Two days on. Another process sealed the 21st for A once the partition arrived, and
	// the 25th for A: B's 21st, the 24th and B's 25th are due.
	clk.Add(48 * time.Hour)
	f.mu.Lock()
	f.sealed[orgA+" 2026-11-21"] = true
	f.sealed[orgA+" 2026-11-25"] = true
	delete(f.state, "2026-11-21")
	f.mu.Unlock()
	// A listing that fails halfway (after A's 25th, so past the gap of the 24th): the
	// tick fails, and the gaps are kept.
	l.fail = true
	if rep := s.Tick(ctx); rep.Err == nil {
		t.Fatalf("tick with the store failing: %+v", rep)
	}
	l.fail = false
	calls()
	s.Tick(ctx)
	if got, want := calls(), []string{"2026-11-21 " + orgB, "2026-11-24 ", "2026-11-25 " + orgB}; !slices.Equal(got, want) {
		t.Errorf("after the gap was sealed elsewhere for A: sealed %q, want %q", got, want)
	}

	// A's archivalStart moves back two days: they are sealed at the next tick.
	dir = strings.Replace(directory, `"archivalStart":"2026-11-18"`, `"archivalStart":"2026-11-16"`, 1)
	s.Tick(ctx)
	if got, want := calls(), []string{"2026-11-16 ", "2026-11-17 "}; !slices.Equal(got, want) {
		t.Errorf("after archivalStart moved back: sealed %q, want %q", got, want)
	}
	s.Tick(ctx)
	if got := calls(); len(got) != 0 {
		t.Errorf("a tick with every day sealed sealed %q", got)
	}
	reliability.Record(t, "operations", "scheduler remembers each organization's last sealed day between ticks", reliability.Kept,
		"a gap sealed meanwhile by another process is not sealed again, a listing that fails halfway loses no gap, an archivalStart moved back is listed afresh")
}

// TestFreshnessCostsPerOrganization: reading the freshness metrics (serve, every minute)
// costs one request per organization, the first read too, however many days each has
// sealed: not a lookup per day since archivalStart.
func TestFreshnessCostsPerOrganization(t *testing.T) {
	const orgs = 10
	first := day("2026-01-01")
	for _, days := range []int{10, 40} {
		store, ids := sealedStore(t, orgs, days, first)
		c := storetest.NewCounting(store)
		dir, err := model.ParseDirectory([]byte(directoryOf(ids, first)))
		if err != nil {
			t.Fatal(err)
		}
		now := first.Start().AddDate(0, 0, days).Add(9 * time.Hour)
		f := &Freshness{Ledger: ledger.Ledger{Store: c}, Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
			Now: func() time.Time { return now }}
		ctx := context.Background()
		if err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		firstRead := c.Reset()
		if o := f.Orgs(); len(o) != orgs || o[0].Pending+o[0].Failed != 0 || o[0].LastSealed != archiver.DayOf(first.Start().AddDate(0, 0, days-1)) {
			t.Fatalf("first read: %+v", o)
		}
		now = now.Add(24 * time.Hour) // a day later, the new day not sealed yet
		if err := f.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		next := c.Reset()
		if o := f.Orgs(); o[0].Pending != 1 {
			t.Fatalf("next read: %+v", o[0])
		}
		t.Logf("%d organizations × %d sealed days: first read %v, next read %v", orgs, days, firstRead, next)
		// One listing per organization and one of the accounting objects.
		// The next read lists the last sealed day's two objects, to see it still sealed.
		if firstRead.Requests() > orgs+1 || next.Requests() > orgs+1 || next["Keys"] > 2*orgs {
			t.Errorf("freshness over %d organizations with %d sealed days: first read %v, next %v; want at most %d requests each, and no key but the last sealed day's listed by the next",
				orgs, days, firstRead, next, orgs+1)
		}
	}
	reliability.Record(t, "operations", "freshness metrics over many organizations with years of sealed days", reliability.Kept,
		"one listing per organization per read (from archivalStart the first time, past the last sealed day after), never a lookup per day")
}
