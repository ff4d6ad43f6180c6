package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// fakeCgroup makes the process's cgroup (v2) path/… with memory.max limit at its leaf and
// "max" above it, for the test.
func fakeCgroup(t *testing.T, limit string) {
	t.Helper()
	root := t.TempDir()
	leaf := filepath.Join(root, "kubepods.slice", "pod1", "seal")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, v := range map[string]string{root: "max\n", filepath.Join(root, "kubepods.slice"): "max\n", leaf: limit + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	self := filepath.Join(t.TempDir(), "cgroup")
	if err := os.WriteFile(self, []byte("0::/kubepods.slice/pod1/seal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oldFS, oldSelf := cgroupFS, procSelfCgroup
	cgroupFS, procSelfCgroup = root, self
	t.Cleanup(func() { cgroupFS, procSelfCgroup = oldFS, oldSelf })
}

// TestSortMemoryAboveTheMemoryLimit: export.sortMemory is the run's memory budget, but a
// container (the CronJob's limits.memory: 1Gi) or a unit's MemoryMax= may allow less. An
// operator who raised sortMemory to 2GiB for a big day got a run the kernel killed
// (OOMKilled, exit 137) partway through every attempt, the Job retrying it to the same
// end. The budget, with the S3 upload buffers, the binary's share and serve's
// verify-first memory, is checked against the cgroup's memory limit at start: over it,
// exit 2 naming export.sortMemory and the limit, before anything is read or written.
func TestSortMemoryAboveTheMemoryLimit(t *testing.T) {
	cleanEnv(t)
	fakeCgroup(t, "1073741824") // 1GiB
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text"}

	code, out, errOut := chatvault(t, append(args, "--sort-memory", "2GiB")...)
	if code != exitUsage || !strings.Contains(errOut, "export.sortMemory") || !strings.Contains(errOut, "1GiB") {
		t.Fatalf("--sort-memory 2GiB under a 1GiB limit: exit %d, want %d naming export.sortMemory and the limit\n%s%s", code, exitUsage, out, errOut)
	}
	if files := storeFiles(t, store); len(files) != 0 {
		t.Fatalf("the refused run wrote %v", files)
	}
	code, out, errOut = chatvault(t, append(args, "--sort-memory", "256MiB")...)
	if code != exitQuarantined {
		t.Fatalf("--sort-memory 256MiB under a 1GiB limit: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	fakeCgroup(t, "max")
	if code, out, errOut = chatvault(t, append(args, "--sort-memory", "2GiB", "--date", "2026-11-22")...); code != exitOK {
		t.Fatalf("--sort-memory 2GiB without a limit: exit %d, want 0 (the day is sealed already)\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "export.sortMemory above the container's or unit's memory limit (cgroup memory.max)", reliability.Refused,
		"exit 2 at start naming export.sortMemory, what the budget adds up to and the limit, before anything is read; the run was OOM-killed partway through every attempt")
}

// TestMemoryLimitCgroupV1: under cgroup v1 the memory controller's line names the path,
// which inside a cgroup namespace does not exist under the mount: the mount's root holds
// the limit then. v1's "no limit" (near 2^63) is none.
func TestMemoryLimitCgroupV1(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  int64
		ok    bool
	}{{"536870912", 512 << 20, true}, {"9223372036854771712", 0, false}} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "memory"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "memory", "memory.limit_in_bytes"), []byte(tt.value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		self := filepath.Join(t.TempDir(), "cgroup")
		if err := os.WriteFile(self, []byte("5:devices:/x\n4:memory:/process_api/8c8b\n0::/\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		oldFS, oldSelf := cgroupFS, procSelfCgroup
		cgroupFS, procSelfCgroup = root, self
		got, ok := memoryLimit()
		cgroupFS, procSelfCgroup = oldFS, oldSelf
		if got != tt.want || ok != tt.ok {
			t.Errorf("limit_in_bytes %s: %d %v, want %d %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}
