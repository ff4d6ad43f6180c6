package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestInterruptedVerifyReportsNoProblem: Ctrl-C during `chatvault verify` cut the reads
// under way, and each was reported as an integrity problem ("PROBLEM: …: chat index: …:
// context canceled") before "verification INCOMPLETE": an auditor read the archive as
// damaged. A read the cancellation cut is no finding; the run is incomplete, naming why.
func TestInterruptedVerifyReportsNoProblem(t *testing.T) {
	a := newArchive(t, 4)
	for _, jobs := range []int{1, 4} {
		ctx, cancel := context.WithCancelCause(context.Background())
		rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{Jobs: jobs, TrustedKey: a.pub(), Directory: a.dir,
			Progress: func(int) { cancel(errors.New("interrupt signal received")) }})
		if err == nil || !strings.Contains(err.Error(), "interrupt signal received") {
			t.Errorf("jobs %d: err %v, want the run incomplete, naming the interruption", jobs, err)
		}
		for _, p := range rep.Problems {
			if strings.Contains(p, "context canceled") {
				t.Errorf("jobs %d: a read the interruption cut is reported as a problem: %s", jobs, p)
			}
		}
	}
	reliability.Record(t, "operations", "verify interrupted by Ctrl-C (SIGINT) partway", reliability.CleanFailure,
		"verification INCOMPLETE naming the signal, exit 1; the reads it cut were each reported as a PROBLEM (… context canceled)")
}
