package exporttask_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

const globex = "0b1c2e3f-0000-4000-8000-00000000bbbb"

// replica is an engine as one serve process has it, on a store shared with others.
func (f *fixture) replica(t *testing.T, store archiver.Store, holder string) *exporttask.Engine {
	e := f.engine(t, store)
	e.Holder = holder
	e.After = f.clock.After
	return e
}

// storeKinds are the stores the replica tests run on: a folder and MinIO.
func storeKinds(t *testing.T) map[string]func(t *testing.T, f *fixture) archiver.Store {
	return map[string]func(t *testing.T, f *fixture) archiver.Store{
		"folder": func(_ *testing.T, f *fixture) archiver.Store { return f.store },
		"s3": func(t *testing.T, f *fixture) archiver.Store {
			srv := miniotest.Start(t)
			store, err := s3.NewStore(context.Background(), srv.Client(), srv.Bucket(t, false), "cv", s3.Options{})
			if err != nil {
				t.Fatal(err)
			}
			sealSample(t, store, nil)
			return store
		},
	}
}

// claimLinks returns a task's claim links, in order.
func claimLinks(t *testing.T, s archiver.Store, org, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	prefix := archiver.TasksPrefix + org + "/" + id + "/claim-"
	err := s.List(context.Background(), prefix, func(key string) error {
		rc, err := s.Open(context.Background(), key)
		if err != nil {
			return err
		}
		defer rc.Close()
		var l map[string]any
		if err := json.NewDecoder(rc).Decode(&l); err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplicasRunATaskOnce: two replicas on one store, both finding the same queued tasks
// at start, run each task exactly once: one start, one attempt, one result.
func TestReplicasRunATaskOnce(t *testing.T) {
	for name, open := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			store := open(t, f)
			const tasks = 12
			var ids []string
			creator := f.engine(t, store)
			for range tasks {
				id, err := creator.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			var mu sync.Mutex
			starts := map[string][]string{}
			done := make(chan exporttask.State, 2*tasks)
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, holder := range []string{"replica-a", "replica-b"} {
				e := f.replica(t, store, holder)
				e.OnStart = func(_ context.Context, id string) {
					mu.Lock()
					starts[id] = append(starts[id], holder)
					mu.Unlock()
				}
				e.OnDone = func(_ string, s exporttask.State) { done <- s }
				wg.Go(func() {
					if err := e.Run(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			for range tasks {
				if s := <-done; s != exporttask.StateCompleted {
					t.Errorf("a run ended %q", s)
				}
			}
			stop()
			wg.Wait()
			close(done)
			for s := range done {
				t.Errorf("a task ran again and ended %q", s)
			}
			for _, id := range ids {
				st, err := creator.Status(context.Background(), acme, id)
				if err != nil {
					t.Fatal(err)
				}
				results := countKeys(t, store, archiver.TasksPrefix+acme+"/"+id+"/result-")
				if len(starts[id]) != 1 || st.Attempts != 1 || results != 1 || st.State != exporttask.StateCompleted {
					t.Errorf("task %s: started by %v, %d attempts, %d results, %s", id, starts[id], st.Attempts, results, st.State)
				}
			}
			reliability.Record(t, "crash", "two serve replicas find the same queued export tasks ("+name+" store)", reliability.Recovered,
				"each task claimed by one replica (create-only claim): one run, one attempt, one result")
		})
	}
}

// claimEvents returns the engine's chatvault_export_task_claims_total by event.
func claimEvents(t *testing.T, e *exporttask.Engine) map[string]float64 {
	return counterByLabel(t, e, "chatvault_export_task_claims_total")
}

// counterByLabel returns the engine's counter name by its one label's value.
func counterByLabel(t *testing.T, e *exporttask.Engine, name string) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	e.Register(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// killableStore stands for a replica's view of the store: once killed (the process died),
// nothing more of it reaches the store.
type killableStore struct {
	archiver.Store
	dead atomic.Bool
}

var errKilled = errors.New("process killed")

func (s *killableStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *killableStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if s.dead.Load() {
		return nil, errKilled
	}
	return s.Store.Open(ctx, key)
}

func (s *killableStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if s.dead.Load() {
		return errKilled
	}
	return s.Store.List(ctx, prefix, fn)
}

// crash starts the task on an engine whose process dies once the attempt is recorded: the
// attempt and a live claim stay behind, nothing else.
func crash(t *testing.T, f *fixture, store archiver.Store, holder, org, id string) {
	t.Helper()
	ks := &killableStore{Store: store}
	e := f.replica(t, ks, holder)
	e.OnStart = func(context.Context, string) { ks.dead.Store(true) }
	if _, err := e.Execute(context.Background(), org, id); !errors.Is(err, errKilled) {
		t.Fatalf("killed replica's Execute = %v", err)
	}
}

// countingAfter wraps a fake clock's After, telling on ch each time a goroutine starts
// waiting, so that the test moves the clock only once every waiter is in place.
func countingAfter(f *fixture, ch chan<- time.Duration) func(time.Duration) <-chan time.Time {
	return func(d time.Duration) <-chan time.Time {
		c := f.clock.After(d)
		ch <- d
		return c
	}
}

// wait receives from ch, failing t (rather than hanging until the test binary's timeout)
// when nothing comes within a minute: what is awaited happens at once or never.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
		var zero T
		return zero
	}
}

// TestDeadReplicaIsTakenOver: a replica that dies while running a task leaves a claim
// that no one renews; another replica leaves the task alone until the claim expires, then
// takes it over and completes it. The dead replica's attempt counts.
func TestDeadReplicaIsTakenOver(t *testing.T) {
	for name, open := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			store := open(t, f)
			id, err := f.engine(t, store).Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			crash(t, f, store, "replica-a", acme, id)

			b := f.replica(t, store, "replica-b")
			b.ClaimTTL, b.ScanInterval = 3*time.Minute, time.Minute
			waits := make(chan time.Duration, 16)
			b.After = countingAfter(f, waits)
			started := make(chan string, 4)
			b.OnStart = func(_ context.Context, id string) { started <- id }
			done := make(chan exporttask.State, 4)
			b.OnDone = func(_ string, s exporttask.State) { done <- s }
			ctx, stop := context.WithCancel(context.Background())
			ran := make(chan error)
			go func() { ran <- b.Run(ctx) }()

			// B scanned at start and waits for its next scan; the claim (until 10:03) holds.
			wait(t, waits, "scan waiting on the clock")
			if st, _ := b.Status(context.Background(), acme, id); st.State != exporttask.StateRunning {
				t.Errorf("task held by a replica that has not expired reads %s, want running", st.State)
			}
			f.clock.Add(2 * time.Minute) // 10:02: scan, claim still live
			wait(t, waits, "scan waiting on the clock")
			select {
			case <-started:
				t.Fatal("replica B took the task while the dead replica's claim was live")
			default:
			}
			f.clock.Add(2 * time.Minute) // 10:04: the claim expired
			if got := <-started; got != id {
				t.Fatalf("started %s", got)
			}
			if s := <-done; s != exporttask.StateCompleted {
				t.Fatalf("taken-over task ended %q", s)
			}
			stop()
			if err := <-ran; err != nil {
				t.Fatal(err)
			}
			st, err := b.Status(context.Background(), acme, id)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != exporttask.StateCompleted || st.Attempts != 2 || st.HandedBack != 0 {
				t.Errorf("after takeover: %s, %d attempts, %d handed back", st.State, st.Attempts, st.HandedBack)
			}
			links := claimLinks(t, store, acme, id)
			if len(links) < 2 || links[0]["holder"] != "replica-a" || links[1]["holder"] != "replica-b" {
				t.Errorf("claim chain %v", links)
			}
			if ev := claimEvents(t, b); ev["taken_over"] != 1 || ev["handed_back"] != 0 || ev["lost"] != 0 {
				t.Errorf("claim events %v, want one takeover", ev)
			}
			reliability.Record(t, "crash", "serve replica dies while running an export task ("+name+" store)", reliability.Recovered,
				"its claim expires; another replica takes the task over and completes it")
		})
	}
}

// TestHolderRenews: a replica running a task longer than the claim's TTL renews it, so
// another replica scanning all along never takes the task over.
func TestHolderRenews(t *testing.T) {
	f := newFixture(t)
	a, b := f.replica(t, nil, "replica-a"), f.replica(t, nil, "replica-b")
	waitsA, waitsB := make(chan time.Duration, 64), make(chan time.Duration, 64)
	a.After, b.After = countingAfter(f, waitsA), countingAfter(f, waitsB)
	a.ClaimTTL, b.ClaimTTL = 3*time.Minute, 3*time.Minute
	a.ScanInterval, b.ScanInterval = time.Hour, time.Minute
	release := make(chan struct{})
	started := make(chan string, 4)
	a.OnStart = func(_ context.Context, id string) { started <- "a"; <-release }
	b.OnStart = func(_ context.Context, id string) { started <- "b" }
	done := make(chan exporttask.State, 4)
	a.OnDone = func(_ string, s exporttask.State) { done <- s }
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ranA := make(chan error)
	go func() { ranA <- a.Run(ctx) }()
	wait(t, waitsA, "A's scan waiting")
	id, err := a.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if who := <-started; who != "a" {
		t.Fatalf("started on %s", who)
	}
	wait(t, waitsA, "A's renewal waiting")
	ranB := make(chan error)
	go func() { ranB <- b.Run(ctx) }()
	wait(t, waitsB, "B's scan waiting")
	// Ten minutes, over three TTLs, a minute at a time: A renews, B scans.
	for range 10 {
		f.clock.Add(time.Minute)
		wait(t, waitsA, "A's renewal waiting")
		wait(t, waitsB, "B's scan waiting")
		if st, _ := b.Status(ctx, acme, id); st.State != exporttask.StateRunning {
			t.Fatalf("at %s the task reads %s on the other replica, want running", f.clock.Now().Format("15:04"), st.State)
		}
	}
	close(release)
	if s := <-done; s != exporttask.StateCompleted {
		t.Fatalf("A's run ended %q", s)
	}
	stop()
	<-ranA
	<-ranB
	select {
	case who := <-started:
		t.Fatalf("replica %s started the task again", who)
	default:
	}
	links := claimLinks(t, f.store, acme, id)
	for _, l := range links {
		if l["holder"] != "replica-a" {
			t.Fatalf("claim chain %v: another holder", links)
		}
	}
	if len(links) < 10 {
		t.Errorf("%d claim links in ten minutes, want a renewal a minute", len(links))
	}
}

// TestShutdownHandsTheTaskBack: a SIGTERM during a run (Run's context ends) releases the
// claim at once and does not count as a failed attempt: three restarts in a row do not
// fail the task, and the next start completes it.
func TestShutdownHandsTheTaskBack(t *testing.T) {
	f := newFixture(t)
	id, err := f.engine(t, nil).Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e := f.replica(t, nil, fmt.Sprintf("replica-%d", i))
		ctx, sigterm := context.WithCancel(context.Background())
		e.OnStart = func(context.Context, string) { sigterm() }
		if err := e.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if ev := claimEvents(t, e); ev["handed_back"] != 1 || ev["taken_over"] != 0 {
			t.Errorf("restart %d: claim events %v, want one hand-back", i+1, ev)
		}
		links := claimLinks(t, f.store, acme, id)
		if len(links) == 0 {
			t.Fatalf("restart %d: no claim", i+1)
		}
		if last := links[len(links)-1]; last["released"] != true {
			t.Fatalf("restart %d: the claim was not released: %v", i+1, last)
		}
	}
	e := f.replica(t, nil, "replica-3")
	done := make(chan exporttask.State, 1)
	e.OnDone = func(_ string, s exporttask.State) { done <- s }
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- e.Run(ctx) }()
	s := <-done
	stop()
	<-ran
	st, err := e.Status(context.Background(), acme, id)
	if err != nil {
		t.Fatal(err)
	}
	if s != exporttask.StateCompleted || st.State != exporttask.StateCompleted || st.Attempts != 4 || st.HandedBack != 3 {
		t.Fatalf("after three restarts: %q, %s %q, %d attempts, %d handed back", s, st.State, st.Error, st.Attempts, st.HandedBack)
	}
	reliability.Record(t, "crash", "three graceful restarts (SIGTERM) while an export task runs", reliability.Recovered,
		"the task is handed back each time (claim released, attempt not counted) and completes at the next start")
}

// TestOrganizationsTakeTurns: one organization's 60 queued tasks do not hold up another
// organization's one-day task: it starts second, and each organization's tasks start
// oldest first.
func TestOrganizationsTakeTurns(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	e.Concurrency, e.MaxTasksPerOrg = 1, 100
	var order []string
	var mine []string
	for range 60 {
		id, err := e.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, id)
		f.clock.Add(time.Second)
	}
	other, err := e.Create(context.Background(), globex, "test", exporttask.Request{From: days[1], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	e.OnStart = func(_ context.Context, id string) { order = append(order, id) } // one worker
	done := make(chan exporttask.State, 61)
	e.OnDone = func(_ string, s exporttask.State) { done <- s }
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- e.Run(ctx) }()
	for range 61 {
		if s := <-done; s != exporttask.StateCompleted {
			t.Fatalf("a task ended %q", s)
		}
	}
	stop()
	<-ran
	at := -1
	var acmeOrder []string
	for i, id := range order {
		if id == other {
			at = i
		} else {
			acmeOrder = append(acmeOrder, id)
		}
	}
	if at < 0 || at > 1 {
		t.Fatalf("the other organization's task started %dth of %d", at+1, len(order))
	}
	if strings.Join(acmeOrder, ",") != strings.Join(mine, ",") {
		t.Errorf("the organization's own tasks did not start oldest first")
	}
	reliability.Record(t, "input", "one organization queues 60 export tasks before another's one", reliability.Kept,
		"organizations take turns: the other's task starts second, not 61st")
}

// TestTaskCapPerOrganization: an organization with exports.maxTasksPerOrg tasks queued or
// running is refused another, naming the cap; other organizations are not; a finished
// task frees a place.
func TestTaskCapPerOrganization(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	e.MaxTasksPerOrg = 2
	req := exporttask.Request{From: days[0], To: days[0], Format: "jsonl"}
	var ids []string
	for range 2 {
		id, err := e.Create(context.Background(), acme, "test", req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	before := countKeys(t, f.store, archiver.TasksPrefix)
	_, err := e.Create(context.Background(), acme, "test", req)
	var tm *exporttask.TooManyTasksError
	if !errors.As(err, &tm) || tm.Limit != 2 || !strings.Contains(err.Error(), "2 export tasks queued or running") || !strings.Contains(err.Error(), "exports.maxTasksPerOrg") {
		t.Fatalf("third task: %v", err)
	}
	if n := countKeys(t, f.store, archiver.TasksPrefix); n != before {
		t.Errorf("the refused task left %d objects", n-before)
	}
	if _, err := e.Create(context.Background(), globex, "test", req); err != nil {
		t.Fatalf("another organization: %v", err)
	}
	if st, err := e.Execute(context.Background(), acme, ids[0]); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("Execute: %v", err)
	}
	if _, err := e.Create(context.Background(), acme, "test", req); err != nil {
		t.Fatalf("after one finished: %v", err)
	}
	reliability.Record(t, "input", "organization over exports.maxTasksPerOrg queued or running export tasks", reliability.Refused,
		"429 too_many_tasks naming the cap; nothing stored; other organizations unaffected")
}

// TestExecuteWaitsForTheHolder: chatvault export-task (Execute) on a task a serve replica
// has claimed meanwhile does not run it a second time: it waits for that replica's outcome.
func TestExecuteWaitsForTheHolder(t *testing.T) {
	f := newFixture(t)
	a, cli := f.replica(t, nil, "serve"), f.replica(t, nil, "cli")
	waits := make(chan time.Duration, 16)
	cli.After = countingAfter(f, waits)
	a.ScanInterval = time.Hour
	release := make(chan struct{})
	started := make(chan string, 2)
	a.OnStart = func(context.Context, string) { started <- "serve"; <-release }
	cli.OnStart = func(context.Context, string) { started <- "cli" }
	done := make(chan exporttask.State, 1)
	a.OnDone = func(_ string, s exporttask.State) { done <- s }
	id, err := cli.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- a.Run(ctx) }() // finds the task in the store
	if who := wait(t, started, "start"); who != "serve" {
		t.Fatalf("started by %s", who)
	}
	type result struct {
		st  *exporttask.Status
		err error
	}
	executed := make(chan result)
	go func() {
		st, err := cli.Execute(context.Background(), acme, id)
		executed <- result{st, err}
	}()
	wait(t, waits, "the CLI waiting for the holder")
	close(release)
	if s := wait(t, done, "serve's outcome"); s != exporttask.StateCompleted {
		t.Fatalf("serve's run ended %q", s)
	}
	f.clock.Add(time.Minute)
	res := wait(t, executed, "Execute's return")
	stop()
	<-ran
	if res.err != nil || res.st.State != exporttask.StateCompleted || res.st.Attempts != 1 {
		t.Fatalf("Execute = %+v, %v", res.st, res.err)
	}
	select {
	case who := <-started:
		t.Fatalf("%s ran the task a second time", who)
	default:
	}
}
