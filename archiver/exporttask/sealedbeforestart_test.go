package exporttask_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestTaskOverSealedDaysWhateverTheArchivalSettings: Acme's days are sealed, then the
// directory moves its archivalStart past them, turns its archival off, or drops it. A
// task over those sealed days was refused (400 from before the archival start, or 404
// no archive) while `chatvault export` and the day endpoints serve them: what is sealed
// is served. A range with a day that is not sealed keeps its refusal.
func TestTaskOverSealedDaysWhateverTheArchivalSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(o *model.Organization) bool // false drops the organization
		// unsealed is the refusal of a range with an unsealed day before the sealed ones.
		unsealed func(error) bool
	}{
		{"archivalStart moved past the days", func(o *model.Organization) bool { o.ArchivalStart = "2026-11-24"; return true },
			func(err error) bool { var fe *exporttask.FieldError; return errors.As(err, &fe) && fe.Field == "from" }},
		{"archival turned off", func(o *model.Organization) bool { o.Archival, o.ArchivalStart = false, ""; return true },
			func(err error) bool { return errors.Is(err, exporttask.ErrNoArchive) }},
		{"organization gone from the directory", func(*model.Organization) bool { return false },
			func(err error) bool { return errors.Is(err, exporttask.ErrNoArchive) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			want := f.sealedJSONL(t, acme)
			d := *f.dir
			d.Organizations = nil
			for _, o := range f.dir.Organizations {
				if o.ID == acme && !tc.edit(&o) {
					continue
				}
				d.Organizations = append(d.Organizations, o)
			}
			f.dir = &d
			e := f.engine(t, nil)
			_, err := e.Create(context.Background(), acme, "test", exporttask.Request{From: "2026-11-21", To: days[1], Format: "jsonl"})
			if !tc.unsealed(err) {
				t.Errorf("task with the unsealed 2026-11-21: %v; want its refusal as before", err)
			}
			st, b := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
			if st.State != exporttask.StateCompleted {
				t.Fatalf("task over the sealed days: %s %s", st.State, st.Error)
			}
			if got := gunzip(t, bytes.NewReader(b)); !bytes.Equal(got, want) {
				t.Fatalf("result differs from the sealed days")
			}
		})
	}
	reliability.Record(t, "operations", "export task over sealed days after archivalStart moved past them, archival turned off or the organization left the directory",
		reliability.Kept, "the task runs over the sealed days, as the day endpoints serve them; a range with an unsealed day keeps its refusal")
}
