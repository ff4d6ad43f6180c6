package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// errCrashed is what a crashed replica's store calls get: the process is gone, so nothing
// it still had in flight (a lease release, a commit) reaches the store.
var errCrashed = errors.New("replica crashed")

// replicaStore is one replica's connection to the shared store; crash cuts it.
type replicaStore struct {
	archiver.Store
	mu      sync.Mutex
	crashed bool
}

func (s *replicaStore) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return errCrashed
	}
	return nil
}

func (s *replicaStore) crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crashed = true
}

func (s *replicaStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *replicaStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	return s.Store.Open(ctx, key)
}

func (s *replicaStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.List(ctx, prefix, fn)
}

// replica is one serve process's scheduler: its own store connection, lease holder name,
// temporary folder and sealer, on the shared store and event log.
type replica struct {
	name  string
	store *replicaStore
	sched *scheduler.Scheduler

	mu        sync.Mutex
	gate      chan struct{} // when set, Seal reports to entered and waits for it to close
	committed []string      // "org day" of every commit this replica made
}

// gatedSealer is the replica's real archiver.Sealer, made to wait at a gate so that the
// test decides when a seal goes on, and counting commits.
type gatedSealer struct {
	r       *replica
	real    *archiver.Sealer
	entered chan<- string
}

func (g gatedSealer) Seal(ctx context.Context, d archiver.Day, dir []byte, only string) (*archiver.DayResult, error) {
	g.r.mu.Lock()
	gate := g.r.gate
	g.r.mu.Unlock()
	if gate != nil {
		g.entered <- g.r.name
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	res, err := g.real.Seal(ctx, d, dir, only)
	if res != nil {
		g.r.mu.Lock()
		for _, o := range res.Orgs {
			if o.Err == nil && o.Outcome == archiver.OutcomeCommitted {
				g.r.committed = append(g.r.committed, o.Org+" "+d.String())
			}
		}
		g.r.mu.Unlock()
	}
	return res, err
}

func (r *replica) setGate(g chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate = g
}

func (r *replica) commits() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.committed)
}

const leaseTTL = 10 * time.Minute

// sealingWorld is an event log with closed partitions, a directory whose archiving
// organizations start on the first of them, and a fake clock.
type sealingWorld struct {
	t         *testing.T
	logRoot   string
	src       *eventlog.Dir
	directory []byte
	orgs      []string // the archiving organizations
	clock     *scheduler.FakeClock
	entered   chan string
}

func newSealingWorld(t *testing.T, days ...string) *sealingWorld {
	t.Helper()
	w := &sealingWorld{t: t, logRoot: t.TempDir(), entered: make(chan string),
		clock: scheduler.NewFakeClock(time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC))}
	const sample = "../../testdata/eventlog"
	b, err := os.ReadFile(sample + "/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	// Every archiving organization starts on the first day, so that catch-up looks at
	// these days only.
	var dir map[string]any
	if err := json.Unmarshal(b, &dir); err != nil {
		t.Fatal(err)
	}
	for _, o := range dir["organizations"].([]any) {
		o := o.(map[string]any)
		if o["archival"] == true {
			o["archivalStart"] = days[0]
			w.orgs = append(w.orgs, o["id"].(string))
		}
	}
	if w.directory, err = json.Marshal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := model.ParseDirectory(w.directory); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.logRoot, "directory.json"), w.directory, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		w.deliver(d)
	}
	if w.src, err = eventlog.NewDir(w.logRoot); err != nil {
		t.Fatal(err)
	}
	return w
}

// deliver writes day's closed partition (the sample day's files).
func (w *sealingWorld) deliver(day string) {
	const sample = "../../testdata/eventlog/2026-11-22"
	entries, err := os.ReadDir(sample)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(w.logRoot, day), 0o755); err != nil {
		w.t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sample, e.Name()))
		if err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.logRoot, day, e.Name()), b, 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
}

// replica starts a scheduler named name on store, with the real lease.
func (w *sealingWorld) replica(name string, store archiver.Store) *replica {
	r := &replica{name: name, store: &replicaStore{Store: store}}
	tmp := w.t.TempDir()
	r.sched = &scheduler.Scheduler{
		NewSealer: func() scheduler.Sealer {
			return gatedSealer{r: r, entered: w.entered, real: &archiver.Sealer{Source: w.src, Store: r.store, Chain: ledger.Ledger{Store: r.store}, Options: archiver.Options{
				// The generator names the replica in each manifest: a day sealed by both
				// would differ, so a second seal would show as a revision or a conflict
				// rather than as an identical, idempotent write.
				Generator: "chatvault " + name, Now: w.clock.Now, TempDir: tmp, SortMemory: 16 << 20, Workers: 1,
				Logger: slog.New(slog.DiscardHandler)}}}
		},
		Ledger:    ledger.Ledger{Store: r.store},
		Directory: func(context.Context) ([]byte, error) { return w.directory, nil },
		Lease:     &scheduler.Lease{Store: r.store, Holder: name, TTL: leaseTTL, Clock: w.clock},
		Clock:     w.clock,
		Retries:   -1, // a failure shows in the report instead of waiting on the clock
		Logger:    slog.New(slog.DiscardHandler),
	}
	return r
}

// tick runs one scheduler tick in a goroutine; the report comes on the channel.
func tick(ctx context.Context, r *replica) <-chan scheduler.Report {
	ch := make(chan scheduler.Report, 1)
	go func() { ch <- r.sched.Tick(ctx) }()
	return ch
}

// TestTwoReplicasOneSealer runs two serve replicas' schedulers on one store (a folder,
// then MinIO), both ticking: the store lease lets exactly one seal, each day is sealed
// once, and when that leader crashes mid-seal (its context cancelled and its store cut,
// so it never releases the lease) the other takes over once the lease expires on the
// clock and seals the next day.
func TestTwoReplicasOneSealer(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) (archiver.Store, archiver.Store) // two replicas' connections
	}{
		{"folder", func(t *testing.T) (archiver.Store, archiver.Store) {
			dir := t.TempDir()
			open := func() archiver.Store {
				s, err := fsstore.New(dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		}},
		{"s3", func(t *testing.T) (archiver.Store, archiver.Store) {
			srv := miniotest.Start(t)
			bucket := srv.Bucket(t, true)
			open := func() archiver.Store {
				s, err := s3.NewStore(t.Context(), srv.Client(), bucket, "archive", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			return open(), open()
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			testTwoReplicas(t, b.open)
		})
	}
}

func testTwoReplicas(t *testing.T, open func(t *testing.T) (archiver.Store, archiver.Store)) {
	first := []string{"2026-11-20", "2026-11-21", "2026-11-22"}
	const next = "2026-11-23"
	w := newSealingWorld(t, first...)
	sa, sb := open(t)
	a, b := w.replica("replica-a", sa), w.replica("replica-b", sb)
	byName := map[string]*replica{a.name: a, b.name: b}
	ctx := context.Background()

	// Both tick at once. Whoever takes the lease seals; it waits at its first seal until
	// the other's tick is over, which must have found the lease held.
	gate := make(chan struct{})
	a.setGate(gate)
	b.setGate(gate)
	reports := map[*replica]<-chan scheduler.Report{a: tick(ctx, a), b: tick(ctx, b)}
	leader := byName[<-w.entered]
	follower := a
	if leader == a {
		follower = b
	}
	if rep := <-reports[follower]; rep.Skipped != "lease held" || len(rep.Sealed) != 0 {
		t.Fatalf("%s ticked while %s was sealing: %+v; want it skipped, lease held", follower.name, leader.name, rep)
	}
	leader.setGate(nil)
	follower.setGate(nil)
	close(gate)
	rep := <-reports[leader]
	if rep.Skipped != "" || rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != len(first)*len(w.orgs) {
		t.Fatalf("%s's tick: %+v; want %d days sealed for %d organizations", leader.name, rep, len(first), len(w.orgs))
	}

	// The next tick of either finds every day sealed: nothing is sealed again.
	for _, r := range []*replica{follower, leader} {
		if rep := <-tick(ctx, r); rep.Skipped != "" || len(rep.Sealed) != 0 || len(rep.Failed) != 0 || rep.Err != nil {
			t.Fatalf("%s's second tick: %+v; want nothing to seal", r.name, rep)
		}
	}
	reliability.Record(t, "operations", "a replica that found no layout.json, after another replica's first seal wrote it (layout 3, the default)", reliability.Kept,
		"under the seal lease the tick reads the marker again: the days the other replica sealed in layout 3 are seen, none is sealed again")

	// A new day arrives. The leader ticks first and crashes while sealing it, holding the
	// lease: its context is cancelled and its store connection is gone, so its deferred
	// release never reaches the store.
	w.deliver(next)
	w.clock.Set(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC))
	crashGate := make(chan struct{})
	leader.setGate(crashGate)
	leaderCtx, crash := context.WithCancel(ctx)
	crashed := tick(leaderCtx, leader)
	if got := <-w.entered; got != leader.name {
		t.Fatalf("%s sealing, want %s", got, leader.name)
	}
	if rep := <-tick(ctx, follower); rep.Skipped != "lease held" {
		t.Fatalf("%s ticked while %s was sealing %s: %+v", follower.name, leader.name, next, rep)
	}
	leader.store.crash()
	crash()
	close(crashGate)
	if rep := <-crashed; len(rep.Sealed) != 0 {
		t.Fatalf("the crashed leader sealed: %+v", rep)
	}

	// Until the dead leader's lease expires, the follower still skips; then it takes
	// over and seals the new day (expired by the clock skew the lease allows).
	w.clock.Add(leaseTTL + scheduler.DefaultMaxSkew - time.Second)
	if rep := <-tick(ctx, follower); rep.Skipped != "lease held" {
		t.Fatalf("%s before the crashed leader's lease expired: %+v; want skipped", follower.name, rep)
	}
	w.clock.Add(time.Second)
	rep = <-tick(ctx, follower)
	if rep.Skipped != "" || rep.Err != nil || len(rep.Failed) != 0 || len(rep.Sealed) != len(w.orgs) || !strings.HasPrefix(rep.Sealed[0], next) {
		t.Fatalf("%s after the lease expired: %+v; want %s sealed for %d organizations", follower.name, rep, next, len(w.orgs))
	}

	// Each organization's every day is sealed exactly once: one commit in all, one
	// revision in the store, its manifest made by the replica that committed it.
	var want, got []string
	for _, o := range w.orgs {
		for _, d := range append(slices.Clone(first), next) {
			want = append(want, o+" "+d)
		}
	}
	got = append(leader.commits(), follower.commits()...)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("commits:\n%q\nwant each organization-day once:\n%q", got, want)
	}
	store := follower.store.Store
	lg := ledger.Ledger{Store: store}
	for _, o := range w.orgs {
		for _, d := range append(slices.Clone(first), next) {
			day, _ := archiver.ParseDay(d)
			var revs []string
			// Every revision of the day, in whichever layout it was committed.
			if err := lg.DayManifests(ctx, o, day, func(m *archiver.StoredManifest) error { revs = append(revs, m.Key); return nil }); err != nil {
				t.Fatal(err)
			}
			m, err := lg.Latest(ctx, o, day)
			if err != nil || m == nil {
				t.Fatalf("%s %s: latest %v, %v", o, d, m, err)
			}
			sealer := leader
			if d == next {
				sealer = follower
			}
			if len(revs) != 1 || m.Revision != 1 || m.Generator != "chatvault "+sealer.name {
				t.Errorf("%s %s: revisions %q, latest revision %d by %q; want one, by %s", o, d, revs, m.Revision, m.Generator, sealer.name)
			}
		}
	}
	reliability.Record(t, "crash", "two serve replicas' schedulers on one store; the sealing leader killed holding the lease",
		reliability.Recovered, fmt.Sprintf("one sealer at a time, each day sealed once; the other replica seals the next day once the lease (%s) expires", leaseTTL))
}
