package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHoldUnknownOrgRefusedS3: `hold --on` for an organization id the archive does not
// know (another spelling of a sealed one's UUID, a typo) must not succeed. It recorded a
// hold event, placed the legal hold on 0 objects and exited 0, and no later seal would
// ever place it: the seal matches hold events by the id as the directory spells it. An
// operator who believed the matter held would let the days expire.
func TestHoldUnknownOrgRefusedS3(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	logDir := sampleLogCopy(t)
	bucket := srv.Bucket(t, true)
	args := []string{"--eventlog", logDir, "--store", "s3://" + bucket + "/cv", "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, args...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	hold := func(org, date string) (int, string, string) {
		return chatvault(t, append([]string{"hold", "--org", org, "--matter", "case-7", "--date", date, "--on"}, args...)...)
	}
	for org, want := range map[string]string{strings.ToUpper(acme): "did you mean " + acme, "0a1c2e3f-0000-4000-8000-00000000aaab": "not an organization of the directory"} {
		code, out, errOut := hold(org, "2026-11-22")
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("hold --org %s: exit %d, want %d naming the organization unknown\n%s%s", org, code, exitUsage, out, errOut)
		}
	}
	code, out, errOut := chatvault(t, append([]string{"hold", "--list", "--history"}, args...)...)
	if code != exitOK || strings.Contains(strings.ToLower(out), "case-7") {
		t.Fatalf("hold events recorded for unknown organizations: exit %d\n%s%s", code, out, errOut)
	}
	// The organization's own id, on a sealed day and on one not sealed yet (a hold placed
	// ahead, which its seal applies), is still taken.
	for _, date := range []string{"2026-11-22", "2026-11-25"} {
		if code, out, errOut := hold(acme, date); code != exitOK {
			t.Fatalf("hold --org %s --date %s: exit %d\n%s%s", acme, date, code, out, errOut)
		}
	}
	// An organization of the directory that has no chain yet (Umbrella starts archiving
	// on 2026-12-01) may be held ahead of its first seal.
	if code, out, errOut := hold("0d1c2e3f-0000-4000-8000-00000000dddd", "2026-12-01"); code != exitOK {
		t.Fatalf("hold of a directory organization not sealed yet: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(logDir, "directory.json")); err != nil {
		t.Fatal(err)
	}
	reliability.Record(t, "input", "hold --on for an organization id the archive does not know (upper-case spelling of a sealed one's UUID, a typo)", reliability.Refused,
		"exit 2 naming it: no chain in the store and not an organization of the directory; no hold event recorded (it held 0 objects, exit 0, and no seal would ever apply it)")
}
