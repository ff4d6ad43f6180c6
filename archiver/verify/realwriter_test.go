package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// addAcmeRecord appends to day's partition of a's event log one more record of Acme's
// team chat: a rerun of the day then commits a revision for Acme.
func (a *archive) addAcmeRecord(t *testing.T, day archiver.Day) {
	t.Helper()
	p := filepath.Join(a.logDir, day.String(), "part-0001.jsonl")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if !strings.Contains(first, `"chatId":"chat-acme-team"`) {
		t.Fatalf("the partition's first line is not Acme's: %s", first)
	}
	extra := strings.Replace(first, `"messageId":"m-001"`, `"messageId":"m-001-late"`, 1)
	if err := os.WriteFile(p, append(b, []byte(extra+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reseal seals day again (a rerun), in a's layout.
func (a *archive) reseal(t *testing.T, day archiver.Day) {
	t.Helper()
	next, days := a.next, a.days
	a.next = day
	a.sealNext(t)
	a.next, a.days = next, days
}

// TestVerifyRealWriterLayout3: stores the real writer makes with layout 3 switched on
// (Options.Layout): from the first day, and an old chain continued in layout 3, each with
// a late revision (a rerun of an older day that found one more record) and Umbrella's
// empty days, verify clean in full, day by day and incrementally.
func TestVerifyRealWriterLayout3(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		layout2 int // days sealed in layout 2 first
		s3      bool
	}{{"layout 3", 0, false}, {"mixed", 2, false}, {"mixed on S3", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var store archiver.Store
			if tc.s3 {
				if testing.Short() {
					t.Skip("MinIO: not with -short")
				}
				srv := miniotest.Start(t)
				s, err := s3.NewStore(ctx, srv.Client(), srv.Bucket(t, false), "cv", s3.Options{})
				if err != nil {
					t.Fatal(err)
				}
				store, root = s, ""
			} else {
				store = newFSStore(t, root)
			}
			a := sealDaysFrom(t, store, root, "2026-11-29", 6, tc.layout2, umbrellaQuietFrom("2026-12-02"))
			a.layout = archiver.Layout3
			for len(a.days) < 4 {
				a.sealNext(t)
			}
			full := a.full(t, Options{})
			if !full.OK() || full.Wrote == "" {
				t.Fatalf("full: problems %q", full.Problems)
			}
			a.addAcmeRecord(t, a.days[0])
			a.reseal(t, a.days[0]) // a late revision (of an old-layout day in the mixed store)
			a.sealNext(t)
			a.sealNext(t)
			l := ledger.Ledger{Store: a.store}
			head := a.head(t, acme)
			if tc.layout2 == 0 && archiver.KeyLayout(head.Key) != archiver.Layout3 {
				t.Fatalf("acme's head %s: not layout 3", head.Key)
			}
			if keys := a.keysUnder(t, archiver.LatePrefix(acme)); len(keys) != 1 {
				t.Fatalf("late copies %q, want 1 (the rerun of %s)", keys, a.days[0])
			}
			inc := a.full(t, Options{Incremental: true, Now: clockAt(a.next.Start().Add(time.Hour))})
			if !inc.OK() || inc.Manifests != 1+2*3 {
				t.Fatalf("incremental: %d manifests (want 7: the late revision, 2 days × 3 organizations), problems %q", inc.Manifests, inc.Problems)
			}
			rep, err := Run(ctx, l, Options{TrustedKey: a.pub(), Directory: a.dir})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("full: problems %q", rep.Problems)
			}
			for _, d := range a.days {
				rep, err := Run(ctx, l, Options{From: d, To: d, TrustedKey: a.pub(), Directory: a.dir})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK() {
					t.Fatalf("--date %s: problems %q", d, rep.Problems)
				}
			}
			if tc.s3 {
				return // the tampering below deletes a file of the folder store
			}
			// Tampering with what the real writer wrote is found: its late copy deleted.
			remove(t, a.root, a.keysUnder(t, archiver.LatePrefix(acme))[0])
			if rep, _ := Run(ctx, l, Options{TrustedKey: a.pub(), Directory: a.dir}); !hasProblem(rep, "without its copy") {
				t.Fatalf("late copy deleted: problems %q", rep.Problems)
			}
		})
	}
	reliability.Record(t, "input", "verify of stores the writer makes in layout 3, from the first day and after an old chain, with a late revision and empty days", reliability.Kept,
		"full, --date and incremental verifications pass; a deleted late copy is a problem")
}

// TestFullVerifyLayout3Reads: a whole-store verification of the same days reads fewer
// objects in layout 3 than in the old layout: one manifest per revision (no day index
// beside its chain entry), no export or chat index object for an empty day, members
// objects once per object.
func TestFullVerifyLayout3Reads(t *testing.T) {
	measure := func(layout int) requests {
		root := t.TempDir()
		a := sealDaysFrom(t, newFSStore(t, root), root, "2026-11-29", 6, 0, umbrellaQuietFrom("2026-12-02"))
		a.layout = layout
		for len(a.days) < 6 {
			a.sealNext(t)
		}
		c := count(a.store)
		rep, err := Run(context.Background(), ledger.Ledger{Store: c}, Options{TrustedKey: a.pub(), Directory: a.dir})
		if err != nil || !rep.OK() {
			t.Fatalf("layout %d: %v, problems %q", layout, err, rep.Problems)
		}
		return c.requests()
	}
	old, l3 := measure(archiver.Layout2), measure(archiver.Layout3)
	t.Logf("whole-store verify of 6 days × 3 organizations: layout 2 %+v, layout 3 %+v", old, l3)
	if l3.opens >= old.opens || l3.listed >= old.listed {
		t.Fatalf("layout 3 reads %+v, the old layout %+v: want fewer objects read and keys listed", l3, old)
	}
	reliability.Record(t, "operations", "a whole-store verify of a layout-3 store", reliability.Kept,
		"reads one manifest per revision, no object for an empty day's export or for an inline chat index, and each members object once: fewer reads than the old layout for the same days")
}
