package attachtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/model"
)

// Run creates a task of org on e and executes it in the test's goroutine (Execute).
func Run(t testing.TB, e *exporttask.Engine, org string, req exporttask.Request) (*exporttask.Status, []byte) {
	t.Helper()
	id, err := e.Create(context.Background(), org, "test", req)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return Execute(t, e, org, id)
}

// Execute executes org's task id on e in the test's goroutine: the task's status, and,
// when it completed, its result's bytes, which must be the size and SHA-256 the status
// gives.
func Execute(t testing.TB, e *exporttask.Engine, org, id string) (*exporttask.Status, []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := e.Execute(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != exporttask.StateCompleted {
		return st, nil
	}
	_, rc, err := e.OpenResult(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != st.Result.Size || hex.EncodeToString(sum[:]) != st.Result.SHA256 {
		t.Fatalf("result: %d bytes, SHA-256 %x; status says %d and %s", len(b), sum, st.Result.Size, st.Result.SHA256)
	}
	return st, b
}

// RunTask runs an export task of the fixture's day for org in format, encoded by
// newEncoder, in the test's goroutine (Run): the task's status, and its result's bytes
// when it completed.
func (f *Fixture) RunTask(t testing.TB, org, format string, newEncoder exporttask.NewEncoder) (*exporttask.Status, []byte) {
	t.Helper()
	e := &exporttask.Engine{
		Store:     f.Store,
		Directory: func(context.Context) (*model.Directory, error) { return f.Directory, nil },
		Formats:   map[string]exporttask.NewEncoder{format: newEncoder},
		Links:     exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
		TempDir:   t.TempDir(),
	}
	return Run(t, e, org, exporttask.Request{From: Date, To: Date, Format: format})
}

// Export is RunTask for a task that must complete: its result's bytes.
func (f *Fixture) Export(t testing.TB, org, format string, newEncoder exporttask.NewEncoder) []byte {
	t.Helper()
	st, b := f.RunTask(t, org, format, newEncoder)
	if st.State != exporttask.StateCompleted {
		t.Fatalf("%s's %s task: state %s: %s", org, format, st.State, st.Error)
	}
	return b
}

// CheckCorrupt fails the test unless, once Acme's stored copy of a served path's file is
// damaged (Corrupt), a task of Acme's day in format fails naming the file (the SHA-256
// its index gives) instead of exporting other bytes, while Globex's export, which does not
// hold the file, still completes.
func CheckCorrupt(t testing.TB, format string, newEncoder exporttask.NewEncoder, path string) {
	t.Helper()
	f := New(t)
	f.Corrupt(t, Acme, path)
	st, _ := f.RunTask(t, Acme, format, newEncoder)
	if st.State != exporttask.StateFailed {
		t.Fatalf("state %s, want failed", st.State)
	}
	if !strings.Contains(st.Error, SHA256(path)) || !strings.Contains(st.Error, "do not match") {
		t.Fatalf("error %q does not name the damaged file", st.Error)
	}
	f.Export(t, Globex, format, newEncoder)
}

// CheckStreamed fails the test unless a captured file is streamed into a production,
// never held: it writes exporttest's fixture with an encoder newEncoder makes, its
// attachments from a Big, and the bytes allocated with files of size bytes must exceed
// those with 1 KiB ones by less than a quarter of size (counted with
// runtime.MemStats.TotalAlloc, which counts the whole process: a file held in memory costs
// at least its size, while what other goroutines allocate meanwhile, a few MiB at most
// under -race in CI, does not grow with it). It
// fails too when the fixture links no file, since then it measures nothing.
func CheckStreamed(t *testing.T, size int64, newEncoder exporttask.NewEncoder) {
	t.Helper()
	days := exporttest.Fixture(t)
	var all []model.Event
	for _, d := range days {
		all = append(all, d.Events...)
	}
	alloc := func(size int64) (uint64, int) {
		big := NewBig(size, all)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w, err := newEncoder(io.Discard, exporttask.FormatOptions{Org: exporttest.Org, OrgName: exporttest.OrgName,
			TaskID: "3f6c1a2e-7d4b-4c8e-9a1f-0b2c3d4e5f60", TempDir: t.TempDir(), Attachments: big})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range days {
			if err := w.WriteDay(context.Background(), d.Manifest, d.Next()); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, big.Opened
	}
	// The least of three runs each: what else the process allocates meanwhile (the race
	// detector, the runtime) only ever adds, and varied by about 1 MiB from run to run,
	// which made a 2 MiB and then a 4 MiB margin fail now and then under -race (4.3 MiB
	// once in CI, 0 locally). A file held in memory costs its whole size (48 or 96 MiB),
	// far above a quarter of it.
	least := func(size int64) (uint64, int) {
		best, opened := alloc(size)
		for range 2 {
			if n, _ := alloc(size); n < best {
				best = n
			}
		}
		return best, opened
	}
	small, opened := least(1 << 10)
	if opened == 0 {
		t.Fatal("the fixture links no file: the test measures nothing")
	}
	large, _ := least(size)
	mib := fmt.Sprintf("%d MiB", size>>20)
	t.Logf("allocated %d bytes with 1 KiB files, %d with %s files (%d packed)", small, large, mib, opened)
	if margin := uint64(size) / 4; large > small+margin {
		t.Fatalf("%s attachments allocated %d bytes more than 1 KiB ones: the file is held in memory", mib, large-small)
	}
}
