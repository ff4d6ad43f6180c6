package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// closingSealer is a producer that closes one day's partition late: until closes, sealing
// that day finds it not closed.
type closingSealer struct {
	*fakeSealer
	clk    *FakeClock
	day    archiver.Day
	closes time.Time
}

func (c closingSealer) Seal(ctx context.Context, d archiver.Day, dir []byte, only string) (*archiver.DayResult, error) {
	if d == c.day && c.clk.Now().Before(c.closes) {
		c.mu.Lock()
		c.calls = append(c.calls, d.String()+" "+only)
		c.mu.Unlock()
		return nil, fmt.Errorf("seal %s: %w", d, archiver.ErrNotClosed)
	}
	return c.fakeSealer.Seal(ctx, d, dir, only)
}

// loop runs s.Run on its fake clock and hands each tick's report over.
type loop struct {
	t     *testing.T
	clk   *FakeClock
	ticks chan Report
	stop  chan struct{}
	done  chan struct{}
}

func startLoop(t *testing.T, s *Scheduler, clk *FakeClock) *loop {
	t.Helper()
	sched, err := cronParse("30 0 * * *")
	if err != nil {
		t.Fatal(err)
	}
	s.Schedule = sched
	l := &loop{t: t, clk: clk, ticks: make(chan Report), stop: make(chan struct{}), done: make(chan struct{})}
	s.OnTick = func(r Report) { l.ticks <- r }
	go func() { s.Run(context.Background(), l.stop); close(l.done) }()
	t.Cleanup(func() {
		close(l.stop)
		<-l.done
	})
	return l
}

// next waits until the loop waits on the clock and returns when it will wake.
func (l *loop) next() time.Time {
	l.t.Helper()
	<-l.clk.Waiting()
	at, ok := l.clk.Next()
	if !ok {
		l.t.Fatal("the loop waits on nothing")
	}
	return at
}

// wake moves the clock to the loop's next wake-up and returns that tick's report.
func (l *loop) wake() Report {
	l.clk.Set(l.next())
	return <-l.ticks
}

// TestNotClosedDayRetriedUntilSealed: with `30 0 * * *` and retryInterval 5m, a day
// whose partition is closed at 01:12 is sealed at 01:15, not at the next night's tick;
// then the loop waits for the cron again.
func TestNotClosedDayRetriedUntilSealed(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{orgA + " 2026-11-18": true, orgA + " 2026-11-19": true}, state: map[string]error{}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.NewSealer = func() Sealer {
		return closingSealer{fakeSealer: f, clk: clk, day: day("2026-11-20"), closes: time.Date(2026, 11, 21, 1, 12, 0, 0, time.UTC)}
	}
	s.RetryInterval = 5 * time.Minute
	l := startLoop(t, s, clk)
	if rep := <-l.ticks; !slices.Equal(rep.Pending, []string{"2026-11-20"}) {
		t.Fatalf("start-up tick: %+v", rep)
	}
	var at []string
	for {
		rep := l.wake()
		at = append(at, rep.Start.Format("15:04"))
		if len(rep.Sealed) > 0 {
			if !slices.Equal(rep.Sealed, []string{"2026-11-20 " + orgA, "2026-11-20 " + orgB}) {
				t.Fatalf("sealed %q", rep.Sealed)
			}
			break
		}
		if !slices.Equal(rep.Pending, []string{"2026-11-20"}) || len(at) > 20 {
			t.Fatalf("ticks at %q, last %+v", at, rep)
		}
	}
	if want := []string{"00:35", "00:40", "00:45", "00:50", "00:55", "01:00", "01:05", "01:10", "01:15"}; !slices.Equal(at, want) {
		t.Fatalf("ticks at %q, want %q", at, want)
	}
	if next, want := l.next(), time.Date(2026, 11, 22, 0, 30, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("after the day sealed, the loop wakes at %s, want the cron's %s", next, want)
	}
	reliability.Record(t, "input", "a day's partition is closed after the nightly tick (30 0 * * *, closed at 01:12)", reliability.Recovered,
		"serve's scheduler ticks again every schedule.retryInterval (5m) while a day is pending: sealed at 01:15, not the next night")
}

// TestPendingDayRetriedOnlyUntilItsAlert: a day never delivered is retried every
// retryInterval for DefaultRetryFor after its end (by then ChatvaultDayNotSealed has fired), then
// only at the cron times.
func TestPendingDayRetriedOnlyUntilItsAlert(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{orgA + " 2026-11-18": true, orgA + " 2026-11-19": true},
		state: map[string]error{"2026-11-20": fmt.Errorf("seal: %w", archiver.ErrNoPartition)}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	s.RetryInterval = 5 * time.Minute
	l := startLoop(t, s, clk)
	<-l.ticks
	prev, n := clk.Now(), 0
	var next time.Time
	for {
		next = l.next()
		if next.Sub(prev) != 5*time.Minute {
			break
		}
		l.clk.Set(next)
		rep := <-l.ticks
		if !slices.Contains(rep.Pending, "2026-11-20") {
			t.Fatalf("tick at %s: %+v", next, rep)
		}
		prev, n = next, n+1
	}
	// The 20th ended at midnight on the 21st: retried until 02:00 on the 22nd.
	if last := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC); !prev.Equal(last) || n != 306 {
		t.Fatalf("%d retries, the last at %s, want 306 up to %s", n, prev, last)
	}
	if want := time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("after the retry window the loop wakes at %s, want the cron's %s", next, want)
	}
	if !f.sealed[orgA+" 2026-11-21"] || f.sealed[orgA+" 2026-11-20"] {
		t.Fatalf("sealed %v", f.sealed)
	}
}

// TestFailedTickRetried: a tick that cannot read the directory (or list the store) is
// tried again after retryInterval, not the next night.
func TestFailedTickRetried(t *testing.T) {
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	s := newScheduler(f, clk)
	readable := time.Date(2026, 11, 21, 0, 40, 0, 0, time.UTC)
	s.Directory = func(context.Context) ([]byte, error) {
		if clk.Now().Before(readable) {
			return nil, errors.New("directory.json: connection reset")
		}
		return []byte(directory), nil
	}
	s.RetryInterval = 5 * time.Minute
	l := startLoop(t, s, clk)
	if rep := <-l.ticks; rep.Err == nil {
		t.Fatalf("start-up tick: %+v", rep)
	}
	if rep := l.wake(); rep.Err == nil || !rep.Start.Equal(clk.Now()) || clk.Now().Format("15:04") != "00:35" {
		t.Fatalf("tick at %s: %+v", clk.Now(), rep)
	}
	if rep := l.wake(); rep.Err != nil || len(rep.Sealed) == 0 || !rep.Start.Equal(readable) {
		t.Fatalf("tick at %s: %+v", clk.Now(), rep)
	}
	if next, want := l.next(), time.Date(2026, 11, 22, 0, 30, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("the loop wakes at %s, want the cron's %s", next, want)
	}
	reliability.Record(t, "fault", "the scheduler's tick cannot read the directory or the store", reliability.Recovered,
		"tried again every schedule.retryInterval until it can, not at the next night's tick")
}

// TestLeaseHeldTickRetried: a tick that finds a day to seal but the lease held by another
// replica tries again every retryInterval, so that when that replica dies mid-seal (its
// lease is never released and runs out) this one seals the day within minutes, not at the
// next night's tick.
func TestLeaseHeldTickRetried(t *testing.T) {
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f := &fakeSealer{sealed: map[string]bool{}, state: map[string]error{}}
	clk := NewFakeClock(time.Date(2026, 11, 21, 0, 30, 0, 0, time.UTC))
	// The other replica took the lease for two minutes and died.
	dead := &Lease{Store: store, Holder: "dead", TTL: 2 * time.Minute, Clock: clk}
	if err := dead.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := newScheduler(f, clk)
	s.Lease = &Lease{Store: store, Holder: "live", TTL: 2 * time.Minute, Clock: clk}
	s.RetryInterval = 5 * time.Minute
	l := startLoop(t, s, clk)
	if rep := <-l.ticks; rep.Skipped != "lease held" || len(rep.Sealed) != 0 {
		t.Fatalf("start-up tick: %+v", rep)
	}
	rep := l.wake()
	if rep.Skipped != "" || len(rep.Sealed) == 0 || clk.Now().Format("15:04") != "00:35" {
		t.Fatalf("tick at %s: %+v; want the day sealed at 00:35, after the dead replica's lease ran out", clk.Now(), rep)
	}
	if next, want := l.next(), time.Date(2026, 11, 22, 0, 30, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("the loop wakes at %s, want the cron's %s", next, want)
	}
	reliability.Record(t, "crash", "the replica holding the sealing lease dies mid-seal", reliability.Recovered,
		"the others' ticks found the lease held and tried again every schedule.retryInterval; the lease (2 minutes past its last renewal, and the 1 minute of clock skew allowed) ran out and the next try sealed the day")
}
