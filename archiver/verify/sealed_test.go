package verify

import (
	"github.com/chatvault/chatvault/archiver"

	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifySealedBeforeDayEnded: a release before issue 10 sealed a day whose partition
// had _CLOSED even before the day ended, and such a day may miss its last events. verify
// must say so: a warning for version 1 manifests (history the store cannot undo; a rerun
// adds the missing events as a revision), a problem for version 2 ones, which this release
// never makes (a forgery, or a clock gone back).
func TestVerifySealedBeforeDayEnded(t *testing.T) {
	tests := []struct {
		name     string
		version  int
		sealedAt string
		problem  string
		warning  string
	}{
		{"version 2 sealed after the day", 2, "2026-11-23T00:30:00Z", "", ""},
		{"version 2 sealed at the day's end", 2, "2026-11-23T00:00:00Z", "", ""},
		{"version 1 sealed during the day", 1, "2026-11-22T18:00:00.5Z", "", "sealed at 2026-11-22T18:00:00.5Z, before its day ended"},
		{"version 2 sealed during the day", 2, "2026-11-22T23:59:59.999Z", "sealed at 2026-11-22T23:59:59.999Z, before its day ended", ""},
		{"version 2 without a valid sealedAt", 2, "yesterday", "sealedAt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{}
			m := &archiver.StoredManifest{Key: "orgs/o/manifests/000000000001.json",
				Manifest: &archiver.Manifest{Version: tt.version, Date: "2026-11-22", SealedAt: tt.sealedAt}}
			checkSealedAfterDay(m, rep)
			check := func(kind string, got []string, want string) {
				switch {
				case want == "" && len(got) > 0:
					t.Errorf("%s: %q, want none", kind, got)
				case want != "" && (len(got) != 1 || !strings.Contains(got[0], want)):
					t.Errorf("%s: %q, want one with %q", kind, got, want)
				}
			}
			check("problems", rep.Problems, tt.problem)
			check("warnings", rep.Warnings, tt.warning)
		})
	}
	reliability.Record(t, "input", "a day sealed before it ended (by an earlier release), found by verify", reliability.CleanFailure,
		"verify warns on version 1 manifests, reports version 2 ones as problems")
}
