package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/robfig/cron/v3"
)

const directory = `{"organizations":[
 {"id":"0a1c2e3f-0000-4000-8000-00000000aaaa","name":"A","archival":true,"archivalStart":"2026-11-18"},
 {"id":"0b1c2e3f-0000-4000-8000-00000000bbbb","name":"B","archival":true,"archivalStart":"2026-11-20"},
 {"id":"0c1c2e3f-0000-4000-8000-00000000cccc","name":"C","archival":false}],
 "users":[],"bots":[],"chats":[]}`

const orgA, orgB = "0a1c2e3f-0000-4000-8000-00000000aaaa", "0b1c2e3f-0000-4000-8000-00000000bbbb"

// fakeSealer records calls and commits into a fake ledger.
type fakeSealer struct {
	mu      sync.Mutex
	calls   []string
	sealed  map[string]bool  // "org day"
	failOrg map[string]int   // org → failures left
	state   map[string]error // day → Seal error (not closed, no partition, transient)
	failed  []string         // RecordFailure calls
	block   chan struct{}    // when set, Seal waits on it
	entered chan struct{}
}

func (f *fakeSealer) Seal(ctx context.Context, d archiver.Day, _ []byte, only string) (*archiver.DayResult, error) {
	if f.block != nil {
		f.entered <- struct{}{}
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, d.String()+" "+only)
	if err := f.state[d.String()]; err != nil {
		return nil, err
	}
	res := &archiver.DayResult{Day: d}
	orgs := []string{only}
	if only == "" {
		orgs = nil
		for _, o := range []string{orgA, orgB} {
			if o == orgA || !d.Before(day("2026-11-20")) {
				orgs = append(orgs, o)
			}
		}
	}
	for _, o := range orgs {
		r := archiver.OrgResult{Org: o, Outcome: archiver.OutcomeCommitted}
		if f.failOrg[o] > 0 {
			f.failOrg[o]--
			r.Err, r.Outcome = errors.New("store hiccup"), archiver.OutcomeFailed
		} else {
			f.sealed[o+" "+d.String()] = true
		}
		res.Orgs = append(res.Orgs, r)
	}
	return res, nil
}

func (f *fakeSealer) ListDays(_ context.Context, org string, from archiver.Day, fn func(ledger.DayKeys) error) error {
	f.mu.Lock()
	var days []archiver.Day
	for k := range f.sealed {
		if o, d, _ := strings.Cut(k, " "); o == org && !day(d).Before(from) {
			days = append(days, day(d))
		}
	}
	f.mu.Unlock()
	return listDays(days, fn)
}

func (f *fakeSealer) DayKeys(_ context.Context, org string, d archiver.Day) (ledger.DayKeys, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := ledger.DayKeys{Day: d}
	if f.sealed[org+" "+d.String()] {
		k.Revision = "r"
	}
	return k, nil
}

// listDays calls fn with the sealed days, oldest first, as ledger.Ledger.ListDays does.
func listDays(days []archiver.Day, fn func(ledger.DayKeys) error) error {
	slices.SortFunc(days, func(a, b archiver.Day) int { return a.Start().Compare(b.Start()) })
	for _, d := range days {
		err := fn(ledger.DayKeys{Day: d, Revision: "r"})
		if errors.Is(err, archiver.ErrStopListing) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSealer) RecordFailure(_ context.Context, org string, d archiver.Day, _ time.Time, cause error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = append(f.failed, org+" "+d.String())
	return nil
}

func day(s string) archiver.Day {
	d, err := archiver.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

func newScheduler(f *fakeSealer, clk Clock) *Scheduler {
	return &Scheduler{
		NewSealer: func() Sealer { return f },
		Ledger:    f,
		Directory: func(context.Context) ([]byte, error) { return []byte(directory), nil },
		Clock:     clk,
		Backoff:   time.Second,
		Logger:    slog.New(slog.DiscardHandler),
	}
}

func TestCatchUpOldestFirstPerOrgAndRetry(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{
		orgA + " 2026-11-19": true, // sealed earlier: must not be sealed again
	}, failOrg: map[string]int{orgB: 1}, state: map[string]error{
		"2026-11-21": fmt.Errorf("seal: %w", archiver.ErrNoPartition),
		"2026-11-23": fmt.Errorf("seal: %w", archiver.ErrNotClosed),
	}}
	clk := NewFakeClock(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)

	// The retry waits on the clock: move it along whenever something waits.
	done := make(chan Report)
	go func() { done <- s.Tick(context.Background()) }()
	var rep Report
	for rep.Start.IsZero() {
		select {
		case <-clk.Waiting():
			clk.Add(time.Second)
		case rep = <-done:
		}
	}
	want := []string{
		"2026-11-18 ",        // only A archives before the 20th: a whole-day run commits just A
		"2026-11-20 ",        // both need it: one whole-day run
		"2026-11-20 " + orgB, // B's commit failed once: retried alone
		"2026-11-21 ",        // missing partition: pending, not retried, not blocking
		"2026-11-22 ",
		"2026-11-23 ", // not closed: the tick stops here
	}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls:\n%q\nwant:\n%q", f.calls, want)
	}
	if !slices.Equal(rep.Pending, []string{"2026-11-21", "2026-11-23"}) || len(rep.Failed) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if !f.sealed[orgB+" 2026-11-20"] || !f.sealed[orgB+" 2026-11-22"] || f.sealed[orgA+" 2026-11-21"] {
		t.Fatalf("sealed: %v", f.sealed)
	}
}

func TestOneOrgFailingDoesNotBlockOthers(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, failOrg: map[string]int{orgB: 100}, state: map[string]error{}}
	clk := NewFakeClock(time.Date(2026, 11, 22, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.Retries = 1
	done := make(chan Report)
	go func() { done <- s.Tick(context.Background()) }()
	var rep Report
	for rep.Start.IsZero() {
		select {
		case <-clk.Waiting():
			clk.Add(time.Second)
		case rep = <-done:
		}
	}
	if !f.sealed[orgA+" 2026-11-21"] || !f.sealed[orgA+" 2026-11-20"] {
		t.Fatalf("A not sealed: %v", f.sealed)
	}
	if !slices.Equal(rep.Failed, []string{"2026-11-20 ", "2026-11-21 "}) {
		t.Fatalf("failed: %q", rep.Failed)
	}
}

func TestTickSkipsWhileRunning(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{},
		block: make(chan struct{}), entered: make(chan struct{})}
	s := newScheduler(f, NewFakeClock(time.Date(2026, 11, 19, 1, 0, 0, 0, time.UTC)))
	done := make(chan Report)
	go func() { done <- s.Tick(context.Background()) }()
	<-f.entered
	if rep := s.Tick(context.Background()); rep.Skipped != "running" {
		t.Fatalf("second tick: %+v", rep)
	}
	close(f.block)
	go func() {
		for range f.entered {
		}
	}()
	if rep := <-done; rep.Skipped != "" || len(rep.Sealed) == 0 {
		t.Fatalf("first tick: %+v", rep)
	}
}

func TestLease(t *testing.T) {
	ctx := context.Background()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clk := NewFakeClock(time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC))
	a := &Lease{Store: store, Holder: "a", TTL: time.Minute, Clock: clk}
	b := &Lease{Store: store, Holder: "b", TTL: time.Minute, Clock: clk}
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(ctx); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("b while a holds: %v", err)
	}
	if err := a.Acquire(ctx); err != nil {
		t.Fatalf("a renews: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("b after release: %v", err)
	}
	// b dies holding the lease; a takes over once it expires.
	if err := a.Acquire(ctx); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("a while b holds: %v", err)
	}
	clk.Add(time.Minute + DefaultMaxSkew) // expired by the clock skew the lease allows
	if err := a.Acquire(ctx); err != nil {
		t.Fatalf("a after expiry: %v", err)
	}
}

func TestLeaseRace(t *testing.T) {
	ctx := context.Background()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clk := NewFakeClock(time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC))
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &Lease{Store: store, Holder: fmt.Sprint("r", i), TTL: time.Minute, Clock: clk}
			results[i] = l.Acquire(ctx)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrLeaseHeld):
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d replicas hold the lease", won)
	}
}

func TestRunStopLetsTheTickFinish(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{},
		block: make(chan struct{}), entered: make(chan struct{})}
	s := newScheduler(f, NewFakeClock(time.Date(2026, 11, 19, 1, 0, 0, 0, time.UTC)))
	sched, err := cronParse("30 0 * * *")
	if err != nil {
		t.Fatal(err)
	}
	s.Schedule = sched
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { s.Run(context.Background(), stop); close(done) }()
	<-f.entered // the start-up tick is sealing
	close(stop)
	close(f.block) // the seal finishes after stop
	go func() {
		for range f.entered {
		}
	}()
	<-done
	if !f.sealed[orgA+" 2026-11-18"] {
		t.Fatalf("the running tick did not finish: %v", f.sealed)
	}
}

func TestRunCancelAborts(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 11, 22, 0, 30, 0, 0, time.UTC))
	f := &fakeSealer{sealed: map[string]bool{}, failOrg: map[string]int{orgA: 100, orgB: 100}, state: map[string]error{}}
	s := newScheduler(f, clk)
	sched, _ := cronParse("30 0 * * *")
	s.Schedule = sched
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	<-clk.Waiting() // waiting to retry a failed seal
	cancel()
	<-done
}

func cronParse(spec string) (cron.Schedule, error) { return cron.ParseStandard("CRON_TZ=UTC " + spec) }

func TestWholeDayFailureIsRecorded(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{
		"2026-11-20": errors.New("corrupt gzip in part-3"),
	}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.Retries = 1
	done := make(chan Report)
	go func() { done <- s.Tick(context.Background()) }()
	var rep Report
	for rep.Start.IsZero() {
		select {
		case <-clk.Waiting():
			clk.Add(time.Second)
		case rep = <-done:
		}
	}
	if !slices.Equal(f.failed, []string{orgA + " 2026-11-20", orgB + " 2026-11-20"}) {
		t.Fatalf("recorded failures: %q", f.failed)
	}
	if !f.sealed[orgA+" 2026-11-19"] || !slices.Equal(rep.Failed, []string{"2026-11-20 "}) {
		t.Fatalf("report %+v, sealed %v", rep, f.sealed)
	}
}

// TestNegativeRetriesSealsOnce: Retries < 0 (what `chatvault run` uses) attempts a failing
// day once and never waits on the clock; the failure is still reported and recorded.
func TestNegativeRetriesSealsOnce(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{
		"2026-11-20": errors.New("corrupt gzip in part-3"),
	}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.Retries = -1
	rep := s.Tick(context.Background()) // a wait on the fake clock would block here for good
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "2026-11-20") {
			n++
		}
	}
	if n != 1 || !slices.Equal(rep.Failed, []string{"2026-11-20 "}) || len(f.failed) != 2 {
		t.Fatalf("calls %q, report %+v, recorded %q: want one attempt, failed and recorded", f.calls, rep, f.failed)
	}
}

// TestOrgFailureRecordsNoDayFailure: one organization's commit failing on every retry is
// recorded by the seal's writer, at each attempt; the catch-up took it for the day's
// failure as a whole and recorded a failure for every organization of the day, so that
// the organization that committed showed "sealed, a later attempt failed" in status.
func TestOrgFailureRecordsNoDayFailure(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, failOrg: map[string]int{orgB: 100}, state: map[string]error{}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.Retries = 1
	done := make(chan Report)
	go func() { done <- s.Tick(context.Background()) }()
	var rep Report
	for rep.Start.IsZero() {
		select {
		case <-clk.Waiting():
			clk.Add(time.Second)
		case rep = <-done:
		}
	}
	if !f.sealed[orgA+" 2026-11-20"] || !slices.Equal(rep.Failed, []string{"2026-11-20 "}) {
		t.Fatalf("report %+v, sealed %v", rep, f.sealed)
	}
	if len(f.failed) != 0 {
		t.Fatalf("recorded day failures %q after one organization's commit failed (the writer records it)", f.failed)
	}
	reliability.Record(t, "fault", "scheduler: one organization's commit fails on every retry while the others commit", reliability.CleanFailure,
		"only the writer's record of that organization's failure: the others show sealed; before, the catch-up recorded a failure for every organization of the day, and those that committed showed \"sealed, a later attempt failed\"")
}

// TestOneOrgDayFailureIsRecorded: a day one organization still needs (the other sealed
// it) is sealed for that organization alone; its seal failing as a whole left no record,
// and the day showed pending.
func TestOneOrgDayFailureIsRecorded(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{orgA + " 2026-11-20": true}, state: map[string]error{
		"2026-11-20": errors.New("corrupt gzip in part-3"),
	}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.Retries = -1
	rep := s.Tick(context.Background())
	if !slices.Equal(rep.Failed, []string{"2026-11-20 " + orgB}) {
		t.Fatalf("report %+v, calls %q", rep, f.calls)
	}
	if !slices.Equal(f.failed, []string{orgB + " 2026-11-20"}) {
		t.Fatalf("recorded failures %q, want %s's of 2026-11-20", f.failed, orgB)
	}
	reliability.Record(t, "fault", "scheduler: a day sealed for one organization alone (the others sealed it) fails as a whole", reliability.CleanFailure,
		"the organization's day shows failed, with the reason in status, until a seal succeeds; before, pending, as if no seal had tried")
}
