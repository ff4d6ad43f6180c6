package archiver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRerunWithDeletedDayIndex deletes a day index (orgs/<org>/days/<date>/r<rev>.json, the
// copy of a chain manifest that says which revision is the day's latest) of a day that is
// not the chain's head, then reruns that day on a partition that lost a record. The chain
// still holds the revision: the rerun must compare with it and fail, not take the day for
// unsealed (committing another revision 1 that drops records) or take an older revision
// for the latest.
func TestRerunWithDeletedDayIndex(t *testing.T) {
	nextDay := archiver.DayOf(sampleDay.End())
	later := func() time.Time { return nextDay.End().Add(30 * time.Minute) }
	tests := []struct {
		name string
		// revisions are the partition edits committed as revisions of the sample day
		// before the next day is sealed; the last one's index is deleted.
		revisions []func(t *testing.T, logDir string)
		// shrink is the edit of the rerun.
		shrink func(t *testing.T, logDir string)
	}{
		{
			name:      "index of revision 1 deleted",
			revisions: nil,
			shrink:    func(t *testing.T, logDir string) { editPartition(t, logDir, dropFirst) },
		},
		{
			name: "index of revision 2 deleted",
			revisions: []func(t *testing.T, logDir string){
				func(t *testing.T, logDir string) {
					editPartition(t, logDir, func(string) bool { return true }, lateRecord)
				},
			},
			shrink: func(t *testing.T, logDir string) {
				editPartition(t, logDir, func(l string) bool { return !strings.Contains(l, `"messageId":"m-late"`) })
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := copyLog(t)
			f := newFixture(t, logDir)
			f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
			for _, edit := range tt.revisions {
				edit(t, logDir)
				if a := byName(f.sealDay(t, "", archiver.Options{Layout: archiver.Layout2}))["Acme"]; a.Outcome != archiver.OutcomeCommitted {
					t.Fatalf("revision: Acme %s %v", a.Outcome, a.Err)
				}
			}
			// The next day makes another manifest the chain's head.
			if err := os.CopyFS(filepath.Join(logDir, nextDay.String()), os.DirFS(filepath.Join(logDir, sampleDay.String()))); err != nil {
				t.Fatal(err)
			}
			if _, err := (&archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{Layout: archiver.Layout2, Now: later, TempDir: t.TempDir()}}).
				Seal(t.Context(), nextDay, f.directory, ""); err != nil {
				t.Fatal(err)
			}
			_, m := f.export(t, acme, sampleDay)
			index := filepath.Join(f.storeDir, "orgs", acme, "days", sampleDay.String(), fmt.Sprintf("r%04d.json", m.Revision))
			if err := os.Chmod(filepath.Dir(index), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(index); err != nil {
				t.Fatal(err)
			}
			tt.shrink(t, logDir)
			a := byName(f.sealDay(t, "", archiver.Options{Layout: archiver.Layout2}))["Acme"]
			if a.Outcome != archiver.OutcomeFailed || a.Err == nil || !strings.Contains(a.Err.Error(), "would drop 1 of") {
				t.Fatalf("Acme after its day index of revision %d was deleted: %s revision %d (%v); want failed, dropping 1 record",
					m.Revision, a.Outcome, a.Revision, a.Err)
			}
			if _, now := f.export(t, acme, sampleDay); now.Revision != m.Revision || now.Data.SHA256 != m.Data.SHA256 {
				t.Errorf("served revision %d (%s), want revision %d (%s) restored", now.Revision, now.Data.SHA256, m.Revision, m.Data.SHA256)
			}
			if rep := verifyStore(t, f); !rep.OK() {
				t.Errorf("verify after the refused rerun: %v", rep.Problems)
			}
		})
	}
	reliability.Record(t, "security", "a day index deleted, then the day rerun on a partition that lost records", reliability.CleanFailure,
		"the rerun finds the day's revisions in the chain, restores the index and fails: nothing dropped")
}
