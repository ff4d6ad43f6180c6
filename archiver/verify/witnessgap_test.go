package verify

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestWitnessNamesNoHeadWarned: an auditor checks one customer with --org X --witness W,
// and W names no head for X (it was made before X's first seal, or of another store):
// nothing is compared for X. Before, verify passed in silence, as if X's newest days
// were witnessed; now a warning names each organization with a chain that the witness
// does not cover, in every kind of verification.
func TestWitnessNamesNoHeadWarned(t *testing.T) {
	ctx := context.Background()
	a := newArchive(t, 2)
	l := ledger.Ledger{Store: a.store}
	heads, err := l.Heads(ctx)
	if err != nil || len(heads) != 2 {
		t.Fatalf("heads %+v, %v", heads, err)
	}
	covered, missing := heads[0].Org, heads[1].Org
	w := &archiver.Witness{Version: archiver.WitnessVersion, Heads: heads[:1]}
	if rep := a.full(t, Options{}); !rep.OK() || rep.Wrote == "" {
		t.Fatalf("full: %q", rep.Problems)
	}
	for _, c := range []struct {
		name string
		opt  Options
		warn bool
	}{
		{"whole store", Options{}, true},
		{"--org of the organization the witness misses", Options{Org: missing}, true},
		{"--org of a witnessed organization", Options{Org: covered}, false},
		{"--date --org", Options{Org: missing, From: a.days[1], To: a.days[1]}, true},
		{"--date", Options{From: a.days[1], To: a.days[1]}, true},
		{"--incremental", Options{Incremental: true, Now: clockAt(a.next.Start().Add(time.Hour))}, true},
	} {
		opt := c.opt
		opt.TrustedKey, opt.Directory, opt.Witness = a.pub(), a.dir, w
		rep, err := Run(ctx, l, opt)
		if err != nil {
			t.Fatal(err)
		}
		warned := slices.ContainsFunc(rep.Warnings, func(s string) bool {
			return strings.Contains(s, "witness names no head for organization "+missing)
		})
		if !rep.OK() || warned != c.warn {
			t.Errorf("%s: problems %q, warnings %q: want no problem and a warning naming %s: %v", c.name, rep.Problems, rep.Warnings, missing, c.warn)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "security", "verify --witness with a witness that names no head for an organization the store holds (made before its first seal, or of another store)", reliability.Kept,
		"a warning names the organization: its newest days are not witnessed; before, verify --org of it passed as if they were")
}
