package verify

import (
	"github.com/chatvault/chatvault/archiver"

	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"

	"github.com/chatvault/chatvault/model"
)

func day(t *testing.T, s string) archiver.Day {
	t.Helper()
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCheckCoverage walks chains of sealed days through the coverage check: which
// archiving organizations are missing which days, against the store's newest day.
func TestCheckCoverage(t *testing.T) {
	orgs := []model.Organization{
		{ID: "a", Name: "A", Archival: true, ArchivalStart: "2026-11-20"},
		{ID: "b", Name: "B", Archival: true, ArchivalStart: "2026-11-20"},
		{ID: "late", Name: "Late", Archival: true, ArchivalStart: "2026-12-01"},
		{ID: "off", Name: "Off", Archival: false, ArchivalStart: "2026-11-01"},
		{ID: "nostart", Name: "NoStart", Archival: true},
	}
	tests := []struct {
		name     string
		chains   map[string][]string // org → sealed days
		org      string
		problems []string // substrings, one per expected problem, in order
		warnings []string
		row      string // the reliability row this case shows, if any
	}{
		{
			name:   "complete",
			chains: map[string][]string{"a": {"2026-11-20", "2026-11-21"}, "b": {"2026-11-21", "2026-11-20"}, "nostart": {"2026-11-21"}},
		},
		{
			name:     "newest day missing for one",
			chains:   map[string][]string{"a": {"2026-11-20", "2026-11-21"}, "b": {"2026-11-20"}, "nostart": {"2026-11-21"}},
			problems: []string{"organization b (B): newest sealed day is 2026-11-20 but the store is sealed through 2026-11-21"},
		},
		{
			name:     "organization without a chain",
			chains:   map[string][]string{"a": {"2026-11-20", "2026-11-21"}, "nostart": {"2026-11-21"}},
			problems: []string{"organization b (B), archiving (archivalStart 2026-11-20), has no manifest: 2026-11-20 to 2026-11-21 (2 days) not sealed"},
		},
		{
			name:     "no archivalStart and no chain",
			chains:   map[string][]string{"a": {"2026-11-20", "2026-11-21"}, "b": {"2026-11-20", "2026-11-21"}},
			problems: []string{"organization nostart (NoStart), archiving (archivalStart none), has no manifest: 2026-11-21 not sealed"},
		},
		{
			name:     "hole inside the sealed range",
			chains:   map[string][]string{"a": {"2026-11-20", "2026-11-23", "2026-11-25"}, "b": {"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"}, "nostart": {"2026-11-25"}},
			problems: []string{"organization a (A): no committed manifest for 2026-11-21 to 2026-11-22 (2 days), 2026-11-24, inside"},
		},
		{
			name:     "backlog before the chain's first day is a warning",
			chains:   map[string][]string{"a": {"2026-11-22"}, "b": {"2026-11-20", "2026-11-21", "2026-11-22"}, "nostart": {"2026-11-22"}},
			warnings: []string{"organization a (A): 2026-11-20 to 2026-11-21 (2 days) from its archivalStart were never sealed"},
		},
		{
			name:   "chains of organizations not archiving in the directory are named",
			chains: map[string][]string{"a": {"2026-11-20", "2026-11-21"}, "b": {"2026-11-20", "2026-11-21"}, "nostart": {"2026-11-21"}, "off": {"2026-11-20"}, "gone": {"2026-11-21"}},
			warnings: []string{
				"organization gone has a chain in the store (2026-11-21 to 2026-11-21) but is not an archiving organization of the directory verify read",
				"organization off has a chain in the store (2026-11-20 to 2026-11-20) but is not an archiving organization of the directory verify read",
			},
			row: "verify given a directory that does not list an organization the store holds",
		},
		{
			name:   "--org checks only that organization",
			chains: map[string][]string{"a": {"2026-11-20", "2026-11-21"}},
			org:    "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{}
			dir := &model.Directory{Organizations: orgs}
			s := &state{opt: Options{Org: tt.org, Directory: dir}, chains: map[string]*chainSummary{},
				archiving: map[string]model.Organization{}}
			for _, o := range orgs {
				if o.Archival {
					s.archiving[o.ID] = o
				}
			}
			for org, days := range tt.chains {
				c := s.beginOrg(org)
				for _, d := range days {
					c.days[day(t, d)] = true
				}
				c.end()
				s.merge(c)
			}
			s.checkCoverage(rep)
			check := func(kind string, got, want []string) {
				if len(got) != len(want) {
					t.Fatalf("%s: got %d %q, want %d %q", kind, len(got), got, len(want), want)
				}
				for i := range want {
					if !strings.Contains(got[i], want[i]) {
						t.Errorf("%s %d: %q lacks %q", kind, i, got[i], want[i])
					}
				}
			}
			check("problems", rep.Problems, tt.problems)
			check("warnings", rep.Warnings, tt.warnings)
			if tt.row != "" {
				reliability.Record(t, "fault", tt.row, reliability.Kept, "its chain is verified and a warning names it: its days are not checked for completeness")
			}
		})
	}
}
