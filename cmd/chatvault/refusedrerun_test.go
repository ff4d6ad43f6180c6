package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRefusedRerunAfterKillAdvice: a run is killed after it committed the day's
// manifests, before their accounting object; the partition then loses one of Acme's
// records, so the rerun is refused for Acme (it would drop a record of revision 1, exit
// 1) and its accounting object does not name Acme's revision 1. verify then reported the
// manifest on no record with the advice "rerun the day", which is refused again, for the
// same reason, however often. The advice must say what to do: act on the refusal (restore
// the lines, or supersede), which `status` shows; and doing what it says must clear it.
func TestRefusedRerunAfterKillAdvice(t *testing.T) {
	cleanEnv(t)
	logDir := sampleLogCopy(t)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store, "--temp-dir", t.TempDir()}
	if res := runBinary(t, []string{"CHATVAULT_CRASH_AT=commit.accounting:1"}, nil, args...); !res.killed {
		t.Fatalf("the run was not killed at commit.accounting: exit %d\n%s", res.code, res.stderr)
	}
	shrinkAcme(t, logDir, "m-001")
	res := runBinary(t, nil, nil, args...)
	if res.code != exitFailure || !strings.Contains(res.stdout, "would drop 1 of the 12 records of revision 1") {
		t.Fatalf("rerun on the shrunk partition: exit %d, want %d refusing Acme\n%s%s", res.code, exitFailure, res.stdout, res.stderr)
	}
	verify := []string{"verify", "--store", store, "--directory", filepath.Join(logDir, "directory.json")}
	code, out, errOut := chatvault(t, verify...)
	if code != exitFailure || !strings.Contains(errOut, "named by no accounting object") {
		t.Fatalf("verify after the refused rerun: exit %d, want %d with the manifest on no record\n%s%s", code, exitFailure, out, errOut)
	}
	for _, want := range []string{"chatvault status --org ID --date 2026-11-22", "--supersede --reason", "refused"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("verify's advice does not say %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "(rerun the day)") {
		t.Errorf("verify still advises only to rerun the day, which is refused again:\n%s", errOut)
	}
	// What the advice says: the loss is intended here, so supersede it.
	sup := append(append([]string{}, args...), "--org", acme, "--supersede", "--reason", "m-001 withdrawn by the platform")
	if res := runBinary(t, nil, nil, sup...); res.code != exitOK && res.code != exitQuarantined {
		t.Fatalf("supersede: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if code, out, errOut := chatvault(t, verify...); code != exitOK || !strings.Contains(out, " 0 problems") {
		t.Fatalf("verify after the supersede the advice names: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "crash", "run killed after its manifests, before the accounting object; the rerun refused (the partition lost a record)", reliability.Refused,
		"verify's problem says to act on the refusal chatvault status shows (restore the lines or --supersede --reason), not to rerun the day; the supersede clears it")
}

// shrinkAcme removes every line of message id from the sample log at logDir.
func shrinkAcme(t *testing.T, logDir, id string) {
	t.Helper()
	part := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(l, `"messageId":"`+id+`"`) {
			kept = append(kept, l)
		}
	}
	if len(kept) == len(strings.SplitAfter(string(b), "\n")) {
		t.Fatalf("no %s in the sample", id)
	}
	if err := os.Chmod(part, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}
