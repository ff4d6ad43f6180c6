package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// The two sides of TestShardRunAndSchedulerStartTogether.
const (
	sideScheduler = "scheduler"
	sideShard     = "shard"
)

// leaseRace orders the lease requests of two sealers of one store, each through its own
// raceStore: a request is a lease request when its key or prefix is under leases/. With
// together unset, first takes its lease whole before the other side's first lease request
// (which waits until first begins to seal, or gives up); with together set, both sides
// reach their first lease create, first's is made, then the other's, and from there on
// both go on freely. Either way, a lease request of a side that has begun to seal (its
// release) waits until the other side is done, so that the other sees the lease held.
type leaseRace struct {
	first    string
	together bool

	mu       sync.Mutex
	arrived  map[string]chan struct{} // the side is at its first lease create
	created  map[string]chan struct{} // the side's first lease create is made
	sealing  map[string]chan struct{} // the side created an object outside leases/
	done     map[string]chan struct{} // the side returned (closed by the test)
	moved    map[string]chan struct{} // the side is at a later lease create
	leaseOps map[string]int           // lease creates seen, by side
}

func newLeaseRace(first string, together bool) *leaseRace {
	r := &leaseRace{first: first, together: together, leaseOps: map[string]int{}}
	for _, m := range []*map[string]chan struct{}{&r.arrived, &r.created, &r.sealing, &r.done, &r.moved} {
		*m = map[string]chan struct{}{sideScheduler: make(chan struct{}), sideShard: make(chan struct{})}
	}
	return r
}

func other(side string) string {
	if side == sideScheduler {
		return sideShard
	}
	return sideScheduler
}

// closeOnce closes ch unless it is closed; several goroutines may call it.
func closeOnce(ch chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// wait waits for any of chs; a gate that never opens is a failed test, not a hang.
func wait(what string, chs ...chan struct{}) error {
	any := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	for _, ch := range chs {
		go func() {
			select {
			case <-ch:
				closeOnce(any)
			case <-stop:
			}
		}()
	}
	select {
	case <-any:
		return nil
	case <-time.After(time.Minute):
		return fmt.Errorf("lease race: %s never happened", what)
	}
}

var closeMu sync.Mutex

// before is called before each request of side; after, once it is made.
func (r *leaseRace) before(side, key string, create bool) error {
	if !strings.HasPrefix(key, "leases/") {
		if create {
			closeOnce(r.sealing[side])
		}
		return nil
	}
	if isClosed(r.sealing[side]) {
		return wait("the "+other(side)+"'s end", r.done[other(side)])
	}
	if !r.together {
		if side != r.first {
			return wait("the "+r.first+"'s seal", r.sealing[r.first], r.done[r.first])
		}
		return nil
	}
	if !create {
		return nil
	}
	r.mu.Lock()
	r.leaseOps[side]++
	n := r.leaseOps[side]
	r.mu.Unlock()
	if n > 1 {
		// A later lease create (a release, say) waits until the other side has looked at
		// this side's lease: until it too makes a later lease create, begins to seal, or
		// is done.
		closeOnce(r.moved[side])
		return wait("the "+other(side)+"'s look at the "+side+"'s lease", r.moved[other(side)], r.sealing[other(side)], r.done[other(side)])
	}
	closeOnce(r.arrived[side])
	if err := wait("the "+other(side)+"'s first lease create", r.arrived[other(side)], r.done[other(side)]); err != nil {
		return err
	}
	if side != r.first {
		return wait("the "+r.first+"'s first lease create", r.created[r.first], r.done[r.first])
	}
	return nil
}

func (r *leaseRace) after(side, key string, create bool) error {
	if !create || !strings.HasPrefix(key, "leases/") || isClosed(r.created[side]) {
		return nil
	}
	closeOnce(r.created[side])
	if r.together {
		// Neither looks at the other's lease before both are created.
		return wait("the "+other(side)+"'s first lease create", r.created[other(side)], r.done[other(side)])
	}
	return nil
}

// raceStore is one side's store in a leaseRace.
type raceStore struct {
	archiver.Store
	side string
	race *leaseRace
}

func (s *raceStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if err := s.race.before(s.side, key, true); err != nil {
		return err
	}
	if err := s.Store.Create(ctx, key, body, size, sum, opt); err != nil {
		return err
	}
	return s.race.after(s.side, key, true)
}

func (s *raceStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.race.before(s.side, key, false); err != nil {
		return nil, err
	}
	return s.Store.Open(ctx, key)
}

func (s *raceStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := s.race.before(s.side, prefix, false); err != nil {
		return err
	}
	return s.Store.List(ctx, prefix, fn)
}

// chainSeqs reads org's layout-3 manifests in a folder store and returns their keys by
// seq; two manifests of one seq (a fork of the chain) fail the test.
func chainSeqs(t *testing.T, dir, org string) map[int64]string {
	t.Helper()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := ledger.Ledger{Store: st}
	seqs := map[int64]string{}
	for _, key := range listStoreKeys(t, dir, archiver.DayRoot3(org)) {
		if _, name, ok := archiver.ParseDayKey3(org, key); !ok || !strings.HasPrefix(name, "r") {
			continue
		}
		m, err := l.ReadManifest(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if other, ok := seqs[m.Seq]; ok {
			t.Fatalf("fork: %s and %s both have seq %d", other, key, m.Seq)
		}
		seqs[m.Seq] = key
	}
	return seqs
}

// TestShardRunAndSchedulerStartTogether: `run --shard i/n` and the scheduler (serve's
// tick, with a lease of its own) start at once on a store in layout 3, their lease
// requests ordered by a store wrapper: the scheduler's lease taken whole first, the
// shard's first, and both lease creates made before either side looks at the other's
// (in both orders). In every ordering exactly one of them seals each of the shard's
// organization-days, the other writes nothing, and no chain forks.
func TestShardRunAndSchedulerStartTogether(t *testing.T) {
	orgs := []string{acme, "0b1c2e3f-0000-4000-8000-00000000bbbb"}
	shard := archiver.ShardOf(acme, 2)
	for _, tt := range []struct {
		name     string
		first    string
		together bool
	}{
		{"scheduler first", sideScheduler, false},
		{"shard first", sideShard, false},
		{"together, the scheduler's create first", sideScheduler, true},
		{"together, the shard's create first", sideShard, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("CHATVAULT_STORE_LAYOUT", "3")
			logDir := twoDayLog(t)
			storeDir := t.TempDir()
			// 2026-11-22 sealed before: the race is over the chains' second link.
			if code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", logDir, "--store", storeDir); code != exitQuarantined {
				t.Fatalf("run 2026-11-22: exit %d\n%s%s", code, out, errOut)
			}
			fs, err := fsstore.New(storeDir)
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Close()
			race := newLeaseRace(tt.first, tt.together)
			wrapStore = func(s archiver.Store) archiver.Store { return &raceStore{Store: s, side: sideShard, race: race} }
			defer func() { wrapStore = nil }()

			src, err := eventlog.NewDir(logDir)
			if err != nil {
				t.Fatal(err)
			}
			dirBytes, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
			if err != nil {
				t.Fatal(err)
			}
			discard := slog.New(slog.DiscardHandler)
			// The wall clock, as the run's: the run's lease links expire by it.
			clk := scheduler.RealClock{}
			ws := &raceStore{Store: fs, side: sideScheduler, race: race}
			sched := &scheduler.Scheduler{
				NewSealer: func() scheduler.Sealer {
					return &archiver.Sealer{Source: src, Store: ws, Chain: ledger.Ledger{Store: ws}, Options: archiver.Options{Now: clk.Now, TempDir: t.TempDir(), Logger: discard}}
				},
				Ledger:    ledger.Ledger{Store: ws},
				Directory: func(context.Context) ([]byte, error) { return dirBytes, nil },
				Lease:     &scheduler.Lease{Store: ws, Holder: "replica-a", TTL: time.Hour, Clock: clk},
				Clock:     clk,
				Retries:   -1,
				Logger:    discard,
			}

			var wg sync.WaitGroup
			var rep scheduler.Report
			var code int
			var errOut string
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer close(race.done[sideScheduler])
				rep = sched.Tick(context.Background())
			}()
			go func() {
				defer wg.Done()
				defer close(race.done[sideShard])
				code, _, errOut = chatvault(t, "run", "--date", "2026-11-23", "--shard", fmt.Sprintf("%d/2", shard),
					"--eventlog", logDir, "--store", storeDir)
			}()
			wg.Wait()
			wrapStore = nil

			schedSealed := rep.Skipped == "" && rep.Err == nil && len(rep.Sealed) > 0
			shardSealed := code != exitFailure
			t.Logf("scheduler: skipped %q, sealed %q, err %v; shard %d/2: exit %d\n%s", rep.Skipped, rep.Sealed, rep.Err, shard, code, errOut)
			if schedSealed == shardSealed {
				t.Fatalf("scheduler sealed %v, shard sealed %v: want exactly one of them", schedSealed, shardSealed)
			}
			// The ordering decides which: the side whose lease request came first.
			if schedSealed != (tt.first == sideScheduler) {
				t.Errorf("the %s sealed, want the %s (first)", map[bool]string{true: sideScheduler, false: sideShard}[schedSealed], tt.first)
			}
			if !schedSealed && (rep.Skipped != "lease held" || len(rep.Sealed) != 0) {
				t.Errorf("the scheduler that did not seal: skipped %q, sealed %q", rep.Skipped, rep.Sealed)
			}
			if !shardSealed && !strings.Contains(errOut, "another sealer is running") {
				t.Errorf("the shard that did not seal: exit %d\n%s", code, errOut)
			}
			day := mustParseDay(t, "2026-11-23")
			for _, org := range orgs {
				mine := archiver.ShardOf(org, 2) == shard
				var revs []string
				for _, key := range listStoreKeys(t, storeDir, archiver.DayPrefix3(org, day)) {
					if _, name, ok := archiver.ParseDayKey3(org, key); ok && strings.HasPrefix(name, "r") {
						revs = append(revs, key)
					}
				}
				var want []string
				if mine || schedSealed {
					want = []string{archiver.DayKey3(org, day, 1)}
				}
				if !slices.Equal(revs, want) {
					t.Errorf("%s (shard %d): manifests of %s %q, want %q", org, archiver.ShardOf(org, 2), day, revs, want)
				}
				seqs := chainSeqs(t, storeDir, org)
				if n := len(want); len(seqs) != 1+n || seqs[1] == "" || (n == 1 && seqs[2] != want[0]) {
					t.Errorf("%s: manifests by seq %v", org, seqs)
				}
			}
			// The indexed job's every shard runs to its end (the refused one retried): they
			// seal what was not sealed, nothing more, and the store verifies.
			for i := range 2 {
				if code, out, errOut := chatvault(t, "run", "--date", "2026-11-23", "--shard", fmt.Sprintf("%d/2", i),
					"--eventlog", logDir, "--store", storeDir); code == exitFailure {
					t.Fatalf("run --shard %d/2 after the race: exit %d\n%s%s", i, code, out, errOut)
				}
			}
			for _, org := range orgs {
				if seqs := chainSeqs(t, storeDir, org); len(seqs) != 2 || seqs[2] != archiver.DayKey3(org, day, 1) {
					t.Errorf("%s after both shards: manifests by seq %v", org, seqs)
				}
			}
			if code, out, errOut := chatvault(t, "verify", "--store", storeDir, "--eventlog", logDir); code != exitOK {
				t.Errorf("verify after the race: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "run --shard i/n and the scheduler start sealing the same day at once", reliability.Kept,
			"in every order of their lease requests (either first, or both leases created before either looks at the other's) exactly one of them seals each organization-day of the shard and the other writes nothing; no chain forks")
	}
}

// TestRunDateWaitsForAShard: `run --date` without --shard seals every organization under
// the store's seal lease, so it must not run while a sharded run holds its shard's lease
// (registered before, and sealing now): it would commit to the shard's chains at once (a
// fork in layout 3, the other day read on the same head). It is refused before it writes
// anything and gives the store's lease back; once the shard is done, it runs.
func TestRunDateWaitsForAShard(t *testing.T) {
	checkRefusedWhileHeld(t, scheduler.ShardLeasesPrefix+"2/1/", "pod-1", nil) // runlease_test.go
	reliability.Record(t, "operations", "run --date (unsharded) while a run --shard i/n holds its shard's lease", reliability.Refused,
		"exits with \"another sealer is running\" naming the shard's holder, writes nothing and gives the store's seal lease back, as the scheduler backs off; an unsharded run and a shard never commit to one chain at once")
}
