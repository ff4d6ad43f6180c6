package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestKilledRunRerunOnChangedPartition kills a run after it committed the day's
// manifests, before their accounting object, then reruns the day on a partition that
// gained a record meanwhile (a late file, a Job retried hours later). The rerun commits
// revision 2 of the organization that gained it. Revision 1, which the killed run
// committed, must still end on the day's record: before, it was named by no accounting
// object, and verify reported a problem for good ("rerun the day" changed nothing).
func TestKilledRunRerunOnChangedPartition(t *testing.T) {
	cleanEnv(t)
	logDir := sampleLogCopy(t)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store, "--log-format", "json", "--temp-dir", t.TempDir()}
	if res := runBinary(t, []string{"CHATVAULT_CRASH_AT=commit.accounting:1"}, nil, args...); !res.killed {
		t.Fatalf("the run was not killed at commit.accounting: exit %d\n%s", res.code, res.stderr)
	}
	// Acme gains a record: a copy of its first sent event under another message id.
	part := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	var extra string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.Contains(l, `"messageId":"m-001"`) {
			extra = strings.Replace(l, `"messageId":"m-001"`, `"messageId":"m-late"`, 1)
			break
		}
	}
	if extra == "" {
		t.Fatal("no m-001 in the sample")
	}
	if err := os.Chmod(part, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, append(b, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runBinary(t, nil, nil, args...)
	if res.code != exitOK && res.code != exitQuarantined {
		t.Fatalf("rerun: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "committed  2") {
		t.Fatalf("rerun did not commit revision 2 of Acme:\n%s", res.stdout)
	}
	verify := []string{"verify", "--store", store, "--directory", filepath.Join(logDir, "directory.json")}
	for i := range 2 {
		code, out, errOut := chatvault(t, verify...)
		if code == exitOK && strings.Contains(out, " 0 problems") {
			break
		}
		if i == 1 {
			t.Fatalf("verify after the rerun and a second rerun: exit %d\n%s%s", code, out, errOut)
		}
		t.Errorf("verify after the rerun: exit %d\n%s%s", code, out, errOut)
		runBinary(t, nil, nil, args...) // what verify advises: rerun the day
	}
	reliability.Record(t, "crash", "run killed after its manifests, before the accounting object; the partition gains a record before the rerun", reliability.Recovered,
		"the rerun commits revision 2 and its accounting object names revision 1 too (outcome previous), so every manifest of the day is on record; verify passes")
}
