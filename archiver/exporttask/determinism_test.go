package exporttask_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/htmlexport"
	"github.com/chatvault/chatvault/archiver/rsmf"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// allFormats are the formats serve offers, wired as cmd/chatvault wires them.
var allFormats = map[string]exporttask.NewEncoder{
	"jsonl": exporttask.NewJSONL,
	"json":  exporttask.NewJSON,
	"html": func(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
		return htmlexport.NewWriter(w, htmlexport.Options(o))
	},
	"rsmf": func(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
		return rsmf.NewWriter(w, rsmf.Options(o))
	},
}

// copyStore copies every object of src into a new folder store: a second replica's view
// of the same data, whose writes do not disturb the first.
func copyStore(t *testing.T, src archiver.Store) *fsstore.Store {
	t.Helper()
	ctx := context.Background()
	dst, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	err = src.List(ctx, "", func(key string) error {
		rc, err := src.Open(ctx, key)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		return dst.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// execute runs acme's task id on e, which must complete, and returns its status and
// result bytes.
func execute(t *testing.T, e *exporttask.Engine, id string) (*exporttask.Status, []byte) {
	t.Helper()
	st, b := attachtest.Execute(t, e, acme, id)
	if st.State != exporttask.StateCompleted {
		t.Fatalf("state %s: %s", st.State, st.Error)
	}
	return st, b
}

// TestResultsAreDeterministic runs one task twice, as two replicas (or a rerun after a
// crash) would, with wall clocks days and odd seconds apart: every format must give the
// same bytes, so both runs store the same result object and completed.json names the one
// every replica wrote. Before the fix, html and rsmf put the run's clock into the ZIP
// entries' modification times and the "generated" stamps.
func TestResultsAreDeterministic(t *testing.T) {
	for _, format := range []string{"jsonl", "json", "html", "rsmf"} {
		t.Run(format, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			first := f.engine(t, nil)
			first.Formats = allFormats
			id, err := first.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: format})
			if err != nil {
				t.Fatal(err)
			}
			second := f.engine(t, copyStore(t, f.store))
			second.Formats = allFormats
			later := f.clock.Now().Add(3*24*time.Hour + 7*time.Hour + 13*time.Minute + 17*time.Second + 19*time.Millisecond)
			second.Now = func() time.Time { return later }

			st1, b1 := execute(t, first, id)
			st2, b2 := execute(t, second, id)
			if st1.Result.SHA256 != st2.Result.SHA256 || !bytes.Equal(b1, b2) {
				t.Fatalf("the same task gave different results at different times: SHA-256 %s (%d bytes) and %s (%d bytes)",
					st1.Result.SHA256, len(b1), st2.Result.SHA256, len(b2))
			}
			if len(b1) == 0 || st1.Result.Events == 0 {
				t.Fatalf("empty result: %d bytes, %d events", len(b1), st1.Result.Events)
			}
			reliability.Record(t, "operations", "the same "+format+" export task run by two replicas at different times",
				reliability.Kept, "byte-identical results (one SHA-256): no wall-clock time inside")
		})
	}
}
