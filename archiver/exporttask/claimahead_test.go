package exporttask_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestClaimOfAReplicaKilledWhileItsClockRanAhead: replica A's clock had stepped a year
// ahead when it claimed a task, and A died running it: its claim expires a year after
// the others' time. B read the task running and left it alone until that date; the task
// never ran. B now watches such a claim: a live holder renews every third of ClaimTTL
// whatever its clock, so one left the last link for ClaimTTL and twice ClaimClockSkew is
// a dead holder's, and B takes the task over and completes it; before that, the task
// still reads running and is not taken.
func TestClaimOfAReplicaKilledWhileItsClockRanAhead(t *testing.T) {
	f := newFixture(t)
	id, err := f.engine(t, nil).Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	ks := &killableStore{Store: f.store}
	a := f.replica(t, ks, "replica-a")
	a.Now = func() time.Time { return f.clock.Now().AddDate(1, 0, 0) } // a year ahead
	a.OnStart = func(context.Context, string) { ks.dead.Store(true) }
	if _, err := a.Execute(context.Background(), acme, id); !errors.Is(err, errKilled) {
		t.Fatalf("killed replica's Execute = %v", err)
	}

	b := f.replica(t, nil, "replica-b")
	b.ClaimTTL, b.ScanInterval = 3*time.Minute, time.Minute
	window := b.ClaimTTL + 2*exporttask.ClaimClockSkew
	waits := make(chan time.Duration, 64)
	b.After = countingAfter(f, waits)
	started := make(chan string, 4)
	b.OnStart = func(_ context.Context, id string) { started <- id }
	done := make(chan exporttask.State, 4)
	b.OnDone = func(_ string, s exporttask.State) { done <- s }
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() { ran <- b.Run(ctx) }()

	wait(t, waits, "scan waiting on the clock")
	for elapsed := time.Duration(0); elapsed < window-time.Minute; elapsed += time.Minute {
		if st, _ := b.Status(context.Background(), acme, id); st.State != exporttask.StateRunning {
			t.Fatalf("%s after the first scan: task reads %s, want running (its claim not yet watched long enough)", elapsed, st.State)
		}
		f.clock.Add(time.Minute)
		wait(t, waits, "scan waiting on the clock")
		select {
		case <-started:
			t.Fatalf("B took the task %s after first seeing the claim, before the watch of %s", elapsed+time.Minute, window)
		default:
		}
	}
	f.clock.Add(2 * time.Minute) // past the window: the claim is a dead holder's
	if got := wait(t, started, "task taken over"); got != id {
		t.Fatalf("started %s", got)
	}
	if s := wait(t, done, "task done"); s != exporttask.StateCompleted {
		t.Fatalf("taken-over task ended %q", s)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if st, err := b.Status(context.Background(), acme, id); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("after the takeover: %+v, %v", st, err)
	}
	reliability.Record(t, "fault", "serve replica killed running an export task while its clock ran a year ahead (its claim expires a year after the others' time)",
		reliability.Recovered,
		"another replica watches the claim: left unrenewed for ClaimTTL and twice the clock skew (1 minute) on its clock, it takes the task over and completes it; "+
			"before, the task read running and no replica took it until that date")
}
