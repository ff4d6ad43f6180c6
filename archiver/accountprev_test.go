package archiver_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// unaccountingStore stands for runs killed between their manifests and their accounting
// object: while drop is set, the day's accounting object is refused. It counts Opens.
type unaccountingStore struct {
	archiver.Store
	drop  atomic.Bool
	opens atomic.Int64
}

func (s *unaccountingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if s.drop.Load() && strings.HasPrefix(key, archiver.AccountingPrefix) {
		return errKilled
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *unaccountingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.opens.Add(1)
	return s.Store.Open(ctx, key)
}

// TestRerunNamesEveryUnaccountedRevision: runs in a row stopped before their accounting
// object, each on a partition that changed, leave revisions 1..k on no accounting object.
// The rerun's must name all of them (outcome previous), not only revision k it follows,
// so that verify passes; and it reads one manifest per unaccounted revision before k,
// nothing more (counted: k=1 is the case every such rerun had before).
func TestRerunNamesEveryUnaccountedRevision(t *testing.T) {
	opens := map[int]int64{}
	for _, k := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d unaccounted", k), func(t *testing.T) {
			logDir := copyLog(t)
			f := newFixture(t, logDir)
			st := &unaccountingStore{Store: f.store}
			seal := func() (*archiver.DayResult, error) {
				s := &archiver.Sealer{Source: f.src, Store: st, Chain: ledger.Ledger{Store: st}, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
				return s.Seal(t.Context(), sampleDay, f.directory, "")
			}
			st.drop.Store(true)
			for i := range k {
				if i > 0 {
					editPartition(t, logDir, func(string) bool { return true }, strings.ReplaceAll(lateRecord, "m-late", fmt.Sprintf("m-late-%d", i)))
				}
				if _, err := seal(); err == nil {
					t.Fatalf("run %d: want its accounting object refused", i+1)
				}
			}
			st.drop.Store(false)
			editPartition(t, logDir, func(string) bool { return true }, strings.ReplaceAll(lateRecord, "m-late", "m-rerun"))
			st.opens.Store(0)
			res, err := seal()
			if err != nil {
				t.Fatal(err)
			}
			opens[k] = st.opens.Load()
			if a := byName(res)["Acme"]; a.Outcome != archiver.OutcomeCommitted || a.Revision != k+1 {
				t.Fatalf("rerun: Acme %s revision %d (%v), want committed revision %d", a.Outcome, a.Revision, a.Err, k+1)
			}
			if rep := verifyStore(t, f); !rep.OK() {
				t.Errorf("verify after the rerun: %v", rep.Problems)
			}
		})
	}
	for _, k := range []int{2, 3} {
		if got, want := opens[k]-opens[1], int64(k-1); got != want {
			t.Errorf("rerun over %d unaccounted revisions read %d objects more than over 1, want %d (one per revision before the latest)", k, got, want)
		}
	}
	t.Logf("rerun reads by unaccounted revisions: %v", opens)
	reliability.Record(t, "crash", "runs in a row stopped before their accounting object, each on a changed partition, then a rerun", reliability.Recovered,
		"the rerun's accounting object names every revision of the day no accounting object named (outcome previous), reading one manifest per revision before the latest; verify passes")
}
