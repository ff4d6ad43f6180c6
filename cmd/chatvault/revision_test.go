package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// sampleLogCopy copies the sample event log into a folder the test may change.
func sampleLogCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../testdata/eventlog")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// removeLines rewrites the sample partition's plain file without the lines holding s.
func removeLines(t *testing.T, logDir, s string) {
	t.Helper()
	path := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(l, s) {
			keep = append(keep, l)
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunRefusesShrinkingRevision reruns a sealed day after the partition lost one of
// Acme's records: exit 1 naming the organization and the count, revision 1 still served;
// then the operator supersedes it with a reason, and verify passes.
func TestRunRefusesShrinkingRevision(t *testing.T) {
	cleanEnv(t)
	logDir := sampleLogCopy(t)
	common := []string{"--eventlog", logDir, "--store", t.TempDir(), "--log-format", "json"}
	run := func(args ...string) (int, string, string) {
		return chatvault(t, append(append([]string{"run", "--date", "2026-11-22"}, args...), common...)...)
	}
	if code, out, errOut := run(); code != exitQuarantined {
		t.Fatalf("first run exit %d\n%s%s", code, out, errOut)
	}
	golden, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	removeLines(t, logDir, `"messageId":"m-001"`)

	code, out, errOut := run()
	if code != exitFailure {
		t.Fatalf("rerun on a partition that lost a record: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	want := "FAILED: organization " + acme + " (Acme), 2026-11-22: the new records would drop 1 of the 12 records of revision 1"
	if !strings.Contains(out, want) || !strings.Contains(out, "--supersede --reason") {
		t.Errorf("summary lacks %q and how to supersede:\n%s", want, out)
	}
	if strings.Count(out, "unchanged") != 1 {
		t.Errorf("Globex should be unchanged:\n%s", out)
	}
	code, served, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...)
	if code != exitOK || served != string(golden) {
		t.Fatalf("export after the refusal: exit %d (%s); want revision 1, byte for byte", code, errOut)
	}
	code, out, _ = chatvault(t, append([]string{"status", "--org", acme, "--date", "2026-11-22"}, common...)...)
	if code != exitOK || !strings.Contains(out, "2026-11-22  sealed") || !strings.Contains(out, "a later attempt failed:") || !strings.Contains(out, "would drop 1 of the 12 records") {
		t.Errorf("status after the refusal: exit %d\n%s", code, out)
	}
	reliability.Record(t, "input", "chatvault run on a sealed day whose partition lost a record", reliability.CleanFailure,
		"exit 1: \"the new records would drop 1 of the 12 records of revision 1 ... chatvault run --date D --org ID --supersede --reason TEXT\"; revision 1 still served")

	code, out, errOut = run("--org", acme, "--supersede", "--reason", "LEGAL-42: m-001 erased by court order")
	if code != exitQuarantined || !strings.Contains(out, "revision 2 supersedes revision 1, dropping 1 record(s): \"LEGAL-42: m-001 erased by court order\"") {
		t.Fatalf("supersede: exit %d\n%s%s", code, out, errOut)
	}
	code, served, _ = chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...)
	if code != exitOK || strings.Count(served, "\n") != 11 || strings.Contains(served, `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795338000000,`) {
		t.Errorf("export after the supersession: exit %d, %d records; want revision 2 without m-001's sent event", code, strings.Count(served, "\n"))
	}
	code, out, errOut = chatvault(t, append([]string{"verify"}, common...)...)
	if code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify after the supersession: exit %d\n%s%s", code, out, errOut)
	}
}

func TestRunSupersedeUsage(t *testing.T) {
	cleanEnv(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"supersede without reason", []string{"--date", "2026-11-22", "--org", acme, "--supersede"}, "--supersede needs --reason"},
		{"blank reason", []string{"--date", "2026-11-22", "--org", acme, "--supersede", "--reason", "  "}, "the reason is empty"},
		{"reason without supersede", []string{"--date", "2026-11-22", "--org", acme, "--reason", "x"}, "--reason goes with --supersede"},
		{"supersede without org", []string{"--date", "2026-11-22", "--supersede", "--reason", "x"}, "--supersede needs --org"},
		{"supersede over a range", []string{"--from", "2026-11-21", "--to", "2026-11-22", "--org", acme, "--supersede", "--reason", "x"}, "--supersede needs --date"},
		{"reason too long", []string{"--date", "2026-11-22", "--org", acme, "--supersede", "--reason", strings.Repeat("x", 1001)}, "at most 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := t.TempDir()
			args := append(append([]string{"run"}, tt.args...), "--eventlog", "../../testdata/eventlog", "--store", store)
			code, _, errOut := chatvault(t, args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, exitUsage, tt.want)
			}
			if entries, _ := os.ReadDir(store); len(entries) != 0 {
				t.Errorf("a refused command stored something: %v", entries)
			}
		})
	}
	reliability.Record(t, "input", "run --supersede without a reason, an organization or a single --date", reliability.Refused,
		"exit 2 before anything is read or stored: a supersession names one organization's one day and says why")
}

// TestS3RefusesShrinkingRevision: the same on an S3 store with Object Lock: the shrinking
// rerun fails and commits nothing, the supersession commits revision 2, verify passes.
func TestS3RefusesShrinkingRevision(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	logDir := sampleLogCopy(t)
	common := []string{"--eventlog", logDir, "--store", "s3://" + srv.Bucket(t, true) + "/chatvault", "--log-format", "json"}
	run := func(args ...string) (int, string, string) {
		return chatvault(t, append(append([]string{"run", "--date", "2026-11-22"}, args...), common...)...)
	}
	if code, out, errOut := run(); code != exitQuarantined {
		t.Fatalf("first run exit %d\n%s%s", code, out, errOut)
	}
	removeLines(t, logDir, `"messageId":"m-001"`)
	if code, out, errOut := run(); code != exitFailure || !strings.Contains(out, "would drop 1 of the 12 records of revision 1") {
		t.Fatalf("shrinking rerun: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("--org", acme, "--supersede", "--reason", "LEGAL-42"); code != exitQuarantined || !strings.Contains(out, "revision 2 supersedes revision 1, dropping 1 record(s)") {
		t.Fatalf("supersede: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "input", "S3: rerun of a sealed day whose partition lost a record, then supersession", reliability.CleanFailure,
		"exit 1 and nothing committed; run --supersede --reason commits revision 2 with its supersession; verify passes")
}

// TestRunSupersedeRefusesThePlaceholderReason: a refused revision prints the command that
// supersedes it, `chatvault run --date D --org ID --supersede --reason TEXT`; pasted as
// printed it committed, for good, a revision that drops records with the reason "TEXT".
// The placeholder is refused like a blank reason (exit 2, nothing stored).
func TestRunSupersedeRefusesThePlaceholderReason(t *testing.T) {
	cleanEnv(t)
	for _, reason := range []string{"TEXT", " text ", "REASON", "…"} {
		store := t.TempDir()
		code, _, errOut := chatvault(t, "run", "--date", "2026-11-22", "--org", acme, "--supersede", "--reason", reason,
			"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text")
		if code != exitUsage || !strings.Contains(errOut, "placeholder") {
			t.Errorf("--reason %q: exit %d, stderr %q; want %d naming the placeholder", reason, code, errOut, exitUsage)
		}
		if entries, _ := os.ReadDir(store); len(entries) != 0 {
			t.Errorf("--reason %q: a refused command stored something: %v", reason, entries)
		}
	}
	reliability.Record(t, "input", "run --supersede with the printed command's placeholder reason pasted as is (--reason TEXT)", reliability.Refused,
		`exit 2 before anything is read or stored, naming the placeholder; it committed a revision dropping records with the reason "TEXT"`)
}
