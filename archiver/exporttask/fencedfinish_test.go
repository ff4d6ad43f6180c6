package exporttask_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLateHolderFencedAtItsOutcome: replica A passes its last check of the claim
// (claim.held) and then stalls, a whole claim period, before its outcome is written;
// replica B takes the task over and completes it. A's check passed, so before the fence
// A's late write landed: a failed.json beside B's completed.json (the task then read
// failed while B ran), or a completed.json racing B's. The outcome is now committed by
// creating the next link of the claim chain, create-only: B's takeover created that link
// first, so A's commit conflicts and A records nothing, counted as lost.
func TestLateHolderFencedAtItsOutcome(t *testing.T) {
	for _, tc := range []struct {
		name   string
		aFails bool
	}{
		{"late holder failed", true},
		{"late holder completed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			id, err := f.engine(t, nil).Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			// The first write after the check: the outcome itself, or what comes before
			// the fence's commit.
			ss := &stallingStore{Store: f.store, stallAt: atTaskObject("completed.json", "failed.json", "outcome-"),
				stalled: make(chan struct{}), resume: make(chan struct{})}
			ss.failReads.Store(tc.aFails)
			a := f.replica(t, ss, "replica-a")
			a.ClaimTTL = 3 * time.Minute
			a.OnStart = func(context.Context, string) { ss.armed.Store(true) }
			doneA := make(chan exporttask.State, 1)
			a.OnDone = func(_ string, s exporttask.State) { doneA <- s }
			ranA := make(chan error, 1)
			go func() { _, err := a.Execute(ctx, acme, id); ranA <- err }()
			wait(t, ss.stalled, "stall of replica A after its check of the claim")

			f.clock.Add(4 * time.Minute) // A's last renewal has expired
			b := f.replica(t, nil, "replica-b")
			b.ClaimTTL = 3 * time.Minute
			st, err := b.Execute(ctx, acme, id)
			if err != nil || st.State != exporttask.StateCompleted {
				t.Fatalf("B's takeover: %v, %+v", err, st)
			}
			completed := read(t, f.store, archiver.TasksPrefix+acme+"/"+id+"/completed.json")

			close(ss.resume)
			wait(t, ranA, "replica A's end")
			if s := wait(t, doneA, "replica A's OnDone"); s != "" {
				t.Errorf("A's run ended %q; want no outcome recorded (\"\")", s)
			}
			if _, err := f.store.Open(ctx, archiver.TasksPrefix+acme+"/"+id+"/failed.json"); !errors.Is(err, archiver.ErrNotFound) {
				t.Errorf("failed.json after B completed the task: %v; want none", err)
			}
			if got := read(t, f.store, archiver.TasksPrefix+acme+"/"+id+"/completed.json"); !bytes.Equal(got, completed) {
				t.Errorf("completed.json changed after B wrote it")
			}
			if st, err := b.Status(ctx, acme, id); err != nil || st.State != exporttask.StateCompleted {
				t.Errorf("status after A woke: %v, %+v", err, st)
			}
			if ev := claimEvents(t, a); ev["lost"] != 1 {
				t.Errorf("A's claim events %v, want one lost", ev)
			}
		})
	}
	reliability.Record(t, "fault", "export task holder stalls a whole claim period between its last check of the claim and its outcome's write, another replica completes the task",
		reliability.Kept, "the outcome is committed by creating the next link of the claim chain (create-only), which the takeover created first: the late holder's commit conflicts and it writes neither failed.json nor completed.json, counted as lost")
}

// TestOutcomeCommittedBeforeStallIsKept: replica A commits its outcome (the claim link
// naming it) and stalls before writing completed.json; replica B, taking the task over
// once A's claim has lapsed, writes A's committed outcome (kept beside the link) rather
// than running the task again, and A's late write of the same bytes changes nothing.
func TestOutcomeCommittedBeforeStallIsKept(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id, ss, a := stalledBeforeCompleted(t, f)
	a.ClaimTTL = 3 * time.Minute
	ranA := make(chan error, 1)
	var stA *exporttask.Status
	go func() { s, err := a.Execute(ctx, acme, id); stA = s; ranA <- err }()
	wait(t, ss.stalled, "stall of replica A before completed.json")

	f.clock.Add(4 * time.Minute)
	b := f.replica(t, nil, "replica-b")
	b.ClaimTTL = 3 * time.Minute
	started := false
	b.OnStart = func(context.Context, string) { started = true }
	st, err := b.Execute(ctx, acme, id)
	if err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("B's takeover: %v, %+v", err, st)
	}
	if started {
		t.Errorf("B ran the task again; want A's committed outcome written")
	}
	completed := read(t, f.store, archiver.TasksPrefix+acme+"/"+id+"/completed.json")
	close(ss.resume)
	if err := wait(t, ranA, "replica A's end"); err != nil || stA == nil || stA.State != exporttask.StateCompleted {
		t.Fatalf("A's Execute: %v, %+v", err, stA)
	}
	if got := read(t, f.store, archiver.TasksPrefix+acme+"/"+id+"/completed.json"); !bytes.Equal(got, completed) {
		t.Errorf("completed.json changed after B wrote A's outcome")
	}
	if st, err := b.Status(ctx, acme, id); err != nil || st.State != exporttask.StateCompleted || st.Attempts != 1 {
		t.Errorf("status: %v, %+v; want completed after one attempt", err, st)
	}
}

// TestCommittedOutcomeReportedOnce: replica A commits its outcome (the released claim link
// naming it) and, before it writes completed.json, replica B, which queued the same task
// at its own start, takes the released claim and finds the committed outcome. B writes it
// (the same bytes A writes next) but did not run or finish the task: it reported the task
// completed as A did, so OnDone and chatvault_export_tasks_finished_total counted one
// task twice over the replicas (TestReplicasRunATaskOnce then saw its 12 completions while
// one task still ran, flakily, under load). B now reports nothing; A alone does.
func TestCommittedOutcomeReportedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id, ss, a := stalledBeforeCompleted(t, f)
	doneA := make(chan exporttask.State, 1)
	a.OnDone = func(_ string, s exporttask.State) { doneA <- s }
	ranA := make(chan error, 1)
	go func() { _, err := a.Execute(ctx, acme, id); ranA <- err }()
	wait(t, ss.stalled, "replica A between its commit and completed.json")

	// No clock move: the commit released A's claim, so B takes the task at once.
	b := f.replica(t, nil, "replica-b")
	var doneB []exporttask.State
	b.OnDone = func(_ string, s exporttask.State) { doneB = append(doneB, s) }
	st, err := b.Execute(ctx, acme, id)
	if err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("B's Execute: %v, %+v", err, st)
	}
	close(ss.resume)
	if err := wait(t, ranA, "replica A's end"); err != nil {
		t.Fatalf("A's Execute: %v", err)
	}
	if s := wait(t, doneA, "replica A's OnDone"); s != exporttask.StateCompleted {
		t.Errorf("A's run ended %q, want completed", s)
	}
	if len(doneB) != 0 {
		t.Errorf("B, which wrote A's committed outcome, reported %q; want no report (A finished the task)", doneB)
	}
	if fa, fb := finishedEvents(t, a), finishedEvents(t, b); fa["completed"]+fb["completed"] != 1 {
		t.Errorf("tasks finished: A %v, B %v; want one completed over both", fa, fb)
	}
	reliability.Record(t, "crash", "export task outcome committed by one replica, another replica takes the released claim before the outcome object is written",
		reliability.Kept, "the second replica writes the committed outcome's same bytes and reports nothing: the task is reported and counted finished once, by the replica that ran it")
}

// finishedEvents returns the engine's chatvault_export_tasks_finished_total by state.
func finishedEvents(t *testing.T, e *exporttask.Engine) map[string]float64 {
	return counterByLabel(t, e, "chatvault_export_tasks_finished_total")
}

// stalledBeforeCompleted creates a task and replica A, on a store that stalls A's write of
// the task's completed.json once A has started it (after A committed its outcome).
func stalledBeforeCompleted(t *testing.T, f *fixture) (string, *stallingStore, *exporttask.Engine) {
	t.Helper()
	id, err := f.engine(t, nil).Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	ss := &stallingStore{Store: f.store, stallAt: atTaskObject("completed.json"), stalled: make(chan struct{}), resume: make(chan struct{})}
	a := f.replica(t, ss, "replica-a")
	a.OnStart = func(context.Context, string) { ss.armed.Store(true) }
	return id, ss, a
}
