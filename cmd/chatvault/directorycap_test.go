package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDirectorySnapshotCapped: the commands that read the directory snapshot of a folder
// (run --date streams it, the catch-up run and status read it whole) refuse it, naming
// the file, when it is over directory.maxSize, a link to /dev/zero or a named pipe no one
// writes, instead of reading until the process is killed or blocking for ever: run fails
// with exit 1 and seals nothing; status, which reads it only to tell pending days from
// days not archived, warns so and answers. Within the bound, the sample day seals as
// before.
func TestDirectorySnapshotCapped(t *testing.T) {
	cleanEnv(t)
	logDir := samplePartition(t)
	big := filepath.Join(logDir, "big.json")
	if err := os.WriteFile(big, []byte(`{"organizations":[]}`+strings.Repeat(" ", 8<<10)), 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(t.TempDir(), "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(t.TempDir(), "pipe.json")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHATVAULT_DIRECTORY_MAXSIZE", "4KiB")
	for _, dir := range []string{big, zero, pipe} {
		for _, args := range [][]string{
			{"run", "--date", "2026-11-22"},
			{"run"},
			{"status", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22"},
		} {
			store := t.TempDir()
			args = append(args, "--eventlog", logDir, "--store", store, "--directory", dir)
			code, out, errOut := chatvault(t, args...)
			want := exitFailure
			if args[0] == "status" {
				want = 0
			}
			if code != want || !strings.Contains(errOut, dir) {
				t.Errorf("%s with directory %s: exit %d, want %d naming the file\n%s%s", args[0], filepath.Base(dir), code, want, out, errOut)
			}
			if dir == big && !strings.Contains(errOut, "directory.maxSize") {
				t.Errorf("%s with a directory over its cap: the error does not name directory.maxSize:\n%s", args[0], errOut)
			}
			if files := storeFiles(t, store); args[0] == "run" && len(files) != 0 {
				t.Errorf("%s with directory %s left %v in the store", args[0], filepath.Base(dir), files)
			}
		}
	}
	t.Setenv("CHATVAULT_DIRECTORY_MAXSIZE", "64KiB")
	if code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", logDir, "--store", t.TempDir()); code != exitQuarantined {
		t.Fatalf("run within the cap: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
}
