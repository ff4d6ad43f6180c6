package exporttest

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// SealEmptyLayout3Day seals date, a closed day without records, into store with the real
// writer in layout 3, for every organization of the directory file, sealed half an hour
// after the day ended. It fails the test unless every organization's day sealed without
// error and without an export object (layout 3 stores none for an empty day).
func SealEmptyLayout3Day(t *testing.T, store archiver.Store, date, directoryFile string) {
	t.Helper()
	logDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(logDir, date), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, date, "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile(directoryFile)
	if err != nil {
		t.Fatal(err)
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := archiver.ParseDay(date)
	if err != nil {
		t.Fatal(err)
	}
	var orgs []archiver.OrgResult // whole: DayResult.Orgs keeps summaries, without the data's key
	s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{Layout: archiver.Layout3, TempDir: t.TempDir(),
		Now: func() time.Time { return d.End().Add(30 * time.Minute) }, Logger: slog.New(slog.DiscardHandler),
		OrgDone: func(o archiver.OrgResult) { orgs = append(orgs, o) }}}
	res, err := s.Seal(t.Context(), d, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != len(res.Orgs) {
		t.Fatalf("%d organizations' results streamed, %d in the day's result", len(orgs), len(res.Orgs))
	}
	for _, o := range orgs {
		if o.Err != nil || o.Counts.Exported != 0 || !o.Data.Keyless() {
			t.Fatalf("seal of an empty day in layout 3: %s %+v", o.Org, o)
		}
	}
}
