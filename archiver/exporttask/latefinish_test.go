package exporttask_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// stallingStore is a replica's view of the store that, once armed, fails the reads of
// sealed days (when failReads) and stalls at the first create that stallAt picks, until
// resume is closed: a process paused (a GC pause, a frozen VM) after its last claim
// renewal, past the claim's expiry.
type stallingStore struct {
	archiver.Store
	armed, failReads atomic.Bool
	stallAt          func(key string) bool
	stalled          chan struct{}
	resume           chan struct{}
	once             atomic.Bool
}

// atExpiry picks the write of a task's expiry entry, the first store call of recording an
// outcome.
func atExpiry(key string) bool { return strings.HasPrefix(key, archiver.TasksPrefix+"expiry/") }

// atTaskObject picks the creates of acme's task objects whose names start with one of
// names.
func atTaskObject(names ...string) func(string) bool {
	return func(key string) bool {
		name := key[strings.LastIndex(key, "/")+1:]
		return strings.HasPrefix(key, archiver.TasksPrefix+acme+"/") &&
			slices.ContainsFunc(names, func(p string) bool { return strings.HasPrefix(name, p) })
	}
}

func (s *stallingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if s.armed.Load() && s.stallAt(key) && s.once.CompareAndSwap(false, true) {
		close(s.stalled)
		<-s.resume
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *stallingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if s.armed.Load() && s.failReads.Load() && !strings.HasPrefix(key, archiver.TasksPrefix) {
		return nil, errors.New("store unreachable")
	}
	return s.Store.Open(ctx, key)
}

// TestLateHolderRecordsNoOutcome: replica A renews its claim one last time, then stalls
// past the claim's expiry before recording its outcome; replica B takes the task over and
// completes it. When A wakes it must record nothing: a late failed.json beside B's
// completed.json (or before it, while B runs) made the task read failed, and a late
// completed.json raced B's. A learns it lost the claim and stops, counted as lost.
func TestLateHolderRecordsNoOutcome(t *testing.T) {
	for _, tc := range []struct {
		name    string
		aFails  bool
		outcome string // the key A would write
	}{
		{"late holder failed", true, "failed.json"},
		{"late holder completed", false, "completed.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			id, err := f.engine(t, nil).Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			ss := &stallingStore{Store: f.store, stallAt: atExpiry, stalled: make(chan struct{}), resume: make(chan struct{})}
			ss.failReads.Store(tc.aFails)
			a := f.replica(t, ss, "replica-a")
			a.ClaimTTL = 3 * time.Minute
			a.OnStart = func(context.Context, string) { ss.armed.Store(true) }
			doneA := make(chan exporttask.State, 1)
			a.OnDone = func(_ string, s exporttask.State) { doneA <- s }
			ranA := make(chan error, 1)
			go func() { _, err := a.Execute(ctx, acme, id); ranA <- err }()
			wait(t, ss.stalled, "stall of replica A before its outcome")

			f.clock.Add(4 * time.Minute) // A's last renewal has expired
			b := f.replica(t, nil, "replica-b")
			b.ClaimTTL = 3 * time.Minute
			st, err := b.Execute(ctx, acme, id)
			if err != nil || st.State != exporttask.StateCompleted {
				t.Fatalf("B's takeover: %v, %+v", err, st)
			}
			completed := read(t, f.store, archiver.TasksPrefix+acme+"/"+id+"/completed.json")

			close(ss.resume)
			if err := wait(t, ranA, "replica A's end"); err != nil {
				t.Fatalf("A's Execute: %v", err)
			}
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
	reliability.Record(t, "fault", "export task holder stalls past its claim's expiry after its last renewal, another replica completes the task",
		reliability.Kept, "the late holder checks the claim chain and the outcomes before recording its own: it writes neither failed.json nor completed.json, counted as lost")
}

func read(t *testing.T, s archiver.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
