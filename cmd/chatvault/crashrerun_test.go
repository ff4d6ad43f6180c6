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
	growAcme(t, logDir, "m-late")
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

// TestTwiceKilledRunsRerunOnChangedPartition: two runs in a row are killed between their
// manifests and their accounting object, each after the partition gained a record, so
// revisions 1, 2 and 3 are on no accounting object. The rerun (a fourth change) must name
// every one of them, not only revision 3 it follows: else revision 2 stays on no record
// for good and no rerun can fix it.
func TestTwiceKilledRunsRerunOnChangedPartition(t *testing.T) {
	cleanEnv(t)
	logDir := sampleLogCopy(t)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store, "--log-format", "json", "--temp-dir", t.TempDir()}
	for i, id := range []string{"", "m-late-1", "m-late-2"} {
		if id != "" {
			growAcme(t, logDir, id)
		}
		if res := runBinary(t, []string{"CHATVAULT_CRASH_AT=commit.accounting:1"}, nil, args...); !res.killed {
			t.Fatalf("run %d was not killed at commit.accounting: exit %d\n%s", i+1, res.code, res.stderr)
		}
	}
	growAcme(t, logDir, "m-late-3")
	res := runBinary(t, nil, nil, args...)
	if res.code != exitOK && res.code != exitQuarantined {
		t.Fatalf("rerun: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "committed  4") {
		t.Fatalf("rerun did not commit revision 4 of Acme:\n%s", res.stdout)
	}
	verify := []string{"verify", "--store", store, "--directory", filepath.Join(logDir, "directory.json")}
	if code, out, errOut := chatvault(t, verify...); code != exitOK || !strings.Contains(out, " 0 problems") {
		t.Fatalf("verify after the rerun: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "crash", "two runs in a row killed after their manifests, before the accounting object, the partition gaining a record before each run and the rerun", reliability.Recovered,
		"the rerun commits revision 4 and its accounting object names revisions 1 to 3 too (outcome previous), so every manifest of the day is on record; verify passes")
}

// growAcme gives Acme one more record in the sample log at logDir: a copy of its first
// sent event (m-001) under the message id id.
func growAcme(t *testing.T, logDir, id string) {
	t.Helper()
	part := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	var extra string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.Contains(l, `"messageId":"m-001"`) {
			extra = strings.Replace(l, `"messageId":"m-001"`, `"messageId":"`+id+`"`, 1)
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
}
