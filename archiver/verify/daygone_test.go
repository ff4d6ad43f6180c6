package verify

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyDateDayDeleted: every organization's folder of a sealed day D and D's
// accounting objects deleted (an operator pruning, or someone hiding the day), the chain
// entries left. verify --date D finds nothing of D and must not pass it in silence: it
// warns that nothing is sealed for D. verify --date of the next day reads the chain entry
// before each of its manifests (D's) and reports that its day index is gone.
func TestVerifyDateDayDeleted(t *testing.T) {
	ctx := context.Background()
	a := newArchive(t, 3)
	d := a.days[1]
	orgs, err := os.ReadDir(filepath.Join(a.root, "orgs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		remove(t, a.root, archiver.DayPrefix(o.Name(), d))
	}
	remove(t, a.root, archiver.AccountingPrefix+d.String()+"/")

	rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{From: d, To: d, TrustedKey: a.pub(), Directory: a.dir})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, d.String()+": nothing sealed") }) {
		t.Fatalf("verify --date %s of a deleted day: problems %q, warnings %q; want a warning that nothing is sealed", d, rep.Problems, rep.Warnings)
	}
	next := a.days[2]
	rep, err = Run(ctx, ledger.Ledger{Store: a.store}, Options{From: next, To: next, TrustedKey: a.pub(), Directory: a.dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.Contains(p, archiver.DayPrefix(orgs[0].Name(), d)+"r0001.json")
	}) {
		t.Fatalf("verify --date %s after %s was deleted: problems %q; want one naming the missing day index of %s", next, d, rep.Problems, d)
	}
	reliability.Record(t, "fault", "verify --date D on a day whose folders and accounting objects were deleted, chain entries left", reliability.CleanFailure,
		"--date D warns that nothing is sealed for D; --date of the next day reports the day index of the chain entry before it missing")
}
