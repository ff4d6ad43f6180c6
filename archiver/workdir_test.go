//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package archiver

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWorkDirSweep: a new run removes the work folders of dead runs (lock file unlocked,
// or none) with everything in them, and leaves a live run's folder alone. The crash test
// (cmd/chatvault) shows the same across processes killed with SIGKILL.
func TestWorkDirSweep(t *testing.T) {
	tmp := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	live, releaseLive, err := newWorkDir(tmp, log)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseLive()
	for _, dead := range []struct{ name, lock string }{
		{workPrefix + "killed", workLock}, // its run held the lock until it died
		{workPrefix + "early", ""},        // its run died before making the lock file
		{"chatvault-work", ""},            // not a work folder: kept
		{"someone-else", workLock},        // nor this one
	} {
		dir := filepath.Join(tmp, dead.name)
		writeFile(t, filepath.Join(dir, "chatvault-run-1"), "a spilled run")
		if dead.lock != "" {
			writeFile(t, filepath.Join(dir, dead.lock), "")
		}
	}
	dir, release, err := newWorkDir(tmp, log)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{filepath.Base(dir), filepath.Base(live), "chatvault-work", guardName, "someone-else"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("after the sweep: %v, want %v", names, want)
	}
	release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("release left the run's folder: %v", err)
	}
}

func writeFile(t *testing.T, name, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
