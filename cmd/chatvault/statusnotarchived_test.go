package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestStatusSaysWhatIsNotArchived: `status` showed every unsealed day as pending, also a
// day before the organization's archivalStart and every day of an organization whose
// archival is off (turned off, perhaps, after years of sealed days): days no run will ever
// seal, reported as if a run were behind, while the day-level accounting below showed
// them sealed for the other organizations. Such a day is still pending (DESIGN's states),
// and its detail says why no run seals it, from the directory; a sealed day keeps its
// detail whatever the directory says now.
func TestStatusSaysWhatIsNotArchived(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-23T03:00:00Z")
	logDir := samplePartition(t)
	store := t.TempDir()
	if code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	const globex, acme = "0b1c2e3f-0000-4000-8000-00000000bbbb", "0a1c2e3f-0000-4000-8000-00000000aaaa"
	status := func(org, from, to string) string {
		t.Helper()
		code, out, errOut := chatvault(t, "status", "--eventlog", logDir, "--store", store, "--org", org, "--from", from, "--to", to)
		if code != exitOK {
			t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
		}
		return out
	}
	line := func(out, day string) string {
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, day) {
				return l
			}
		}
		return ""
	}
	// Globex archives from 2026-06-01.
	out := status(globex, "2026-05-31", "2026-06-01")
	if l := line(out, "2026-05-31"); !strings.Contains(l, "pending") || !strings.Contains(l, "before archivalStart 2026-06-01") {
		t.Errorf("a day before archivalStart: %q, want pending saying it is before archivalStart 2026-06-01\n%s", l, out)
	}
	if l := line(out, "2026-06-01"); !strings.Contains(l, "pending") || strings.Contains(l, "archivalStart") {
		t.Errorf("a day from archivalStart on: %q, want plain pending\n%s", l, out)
	}
	// Acme turns archival off.
	dir := filepath.Join(logDir, "directory.json")
	b, err := os.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"name": "Acme",
      "archival": true`, `"name": "Acme",
      "archival": false`, 1))
	if err := os.WriteFile(dir, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out = status(acme, "2026-11-21", "2026-11-22")
	if l := line(out, "2026-11-21"); !strings.Contains(l, "pending") || !strings.Contains(l, "archival is off") {
		t.Errorf("a day of an organization whose archival is off: %q, want pending saying archival is off\n%s", l, out)
	}
	if l := line(out, "2026-11-22"); !strings.Contains(l, "sealed") || strings.Contains(l, "archival is off") {
		t.Errorf("a sealed day: %q, want sealed, its detail unchanged\n%s", l, out)
	}
	reliability.Record(t, "operations", "status of days no run will seal (before archivalStart, archival turned off)", reliability.Kept,
		"pending, with a detail from the directory saying why no run seals it (before archivalStart D, archival is off); before, plain pending like a day a run is behind on")
}
