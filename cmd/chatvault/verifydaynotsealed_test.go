package main

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyDateNotSealedInAStoreWithManifests: `verify --date D` of a day nothing is
// sealed for yet (`--date yesterday` before the night's run) in a store that holds other
// days reported "PROBLEM: the store holds no manifest: store … is empty or the wrong
// location" and exit 1, which is false; the README promises a warning for such a day. The
// problem stays for a store (or an organization) with no manifest at all.
func TestVerifyDateNotSealedInAStoreWithManifests(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"verify", "--date", "2026-11-21"}, common...)...)
	if code != exitOK || strings.Contains(errOut, "PROBLEM") || !strings.Contains(errOut, "2026-11-21: nothing sealed") {
		t.Fatalf("verify --date of a day not sealed: exit %d, want 0 with the warning\n%s%s", code, out, errOut)
	}
	code, out, errOut = chatvault(t, append([]string{"verify", "--from", "2026-11-23", "--to", "2026-11-24", "--org", acme}, common...)...)
	if code != exitOK || strings.Contains(errOut, "PROBLEM") {
		t.Fatalf("verify --from/--to --org of days not sealed: exit %d, want 0\n%s%s", code, out, errOut)
	}
	// An organization with no manifest at all, and an empty store, still fail.
	code, _, errOut = chatvault(t, append([]string{"verify", "--date", "2026-11-22", "--org", "0d1c2e3f-0000-4000-8000-00000000dddd"}, common...)...)
	if code != exitFailure || !strings.Contains(errOut, "holds no manifest") {
		t.Fatalf("verify --date --org of an organization never sealed: exit %d\n%s", code, errOut)
	}
	empty := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "text"}
	code, _, errOut = chatvault(t, append([]string{"verify", "--date", "2026-11-22"}, empty...)...)
	if code != exitFailure || !strings.Contains(errOut, "holds no manifest") {
		t.Fatalf("verify --date of an empty store: exit %d\n%s", code, errOut)
	}
	reliability.Record(t, "operations", "verify --date of a day not sealed yet (verify --date yesterday before the night's run)", reliability.Kept,
		`a warning that nothing is sealed for the day, exit 0; it reported "the store holds no manifest … the wrong location" and exit 1`)
}
