package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestOrgFlagUnknownOrMisspelt: every command that takes --org matched the id as typed
// against ids kept as the directory spells them (lower-case UUIDs). An upper-case spelling
// of a sealed organization's id, or a typo, found nothing and said so in the wrong words:
// `audit --org` listed no access at all and exited 0 (an auditor would read "nobody
// downloaded this organization's archive"), `run --org` failed with the organization "not
// archiving on that day", `export --org` with "no sealed export". Each is now a usage
// error naming the id, with the spelling meant when there is one.
func TestOrgFlagUnknownOrMisspelt(t *testing.T) {
	cleanEnv(t)
	log := copyEventLog(t)
	store := t.TempDir()
	common := []string{"--eventlog", log, "--store", store, "--log-format", "text"}
	mustRun(t, []int{exitQuarantined}, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	commands := map[string][]string{
		"run":         {"run", "--date", "2026-11-22"},
		"export":      {"export", "--date", "2026-11-22", "-o", t.TempDir() + "/x.jsonl.gz"},
		"audit":       {"audit", "--from", "2026-11-22", "--to", "2026-11-22"},
		"export-task": {"export-task", "--from", "2026-11-22", "--to", "2026-11-22", "--format", "jsonl", "-o", t.TempDir() + "/x.zip"},
		"status":      {"status", "--from", "2026-11-22", "--to", "2026-11-22"},
	}
	for name, cmd := range commands {
		for org, want := range map[string]string{
			strings.ToUpper(acme):                  "did you mean " + acme,
			"{" + acme + "}":                       "did you mean " + acme,
			"0a1c2e3f-0000-4000-8000-00000000aaab": "is not an organization of the directory",
		} {
			args := append(append(append([]string{}, cmd...), "--org", org), common...)
			code, out, errOut := chatvault(t, args...)
			if code != exitUsage || !strings.Contains(errOut, want) {
				t.Errorf("%s --org %s: exit %d, want %d saying %q\n%s%s", name, org, code, exitUsage, want, out, errOut)
			}
		}
	}
	// The id as kept is still taken: the audit of the organization answers, the day exports.
	for _, name := range []string{"audit", "export", "status"} {
		args := append(append(append([]string{}, commands[name]...), "--org", acme), common...)
		if code, out, errOut := chatvault(t, args...); code != exitOK {
			t.Errorf("%s --org %s: exit %d, want 0\n%s%s", name, acme, code, out, errOut)
		}
	}
	// A directory may spell its UUIDs in upper case: such an id is taken as spelt.
	upper := copyEventLog(t)
	for _, name := range []string{"directory.json", "2026-11-22/part-0001.jsonl"} {
		p := filepath.Join(upper, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte(acme), []byte(strings.ToUpper(acme))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	upperArgs := []string{"--eventlog", upper, "--store", t.TempDir(), "--log-format", "text"}
	mustRun(t, []int{exitQuarantined}, append([]string{"run", "--date", "2026-11-22", "--org", strings.ToUpper(acme)}, upperArgs...)...)
	if code, out, errOut := chatvault(t, append([]string{"status", "--from", "2026-11-22", "--to", "2026-11-22", "--org", strings.ToUpper(acme)}, upperArgs...)...); code != exitOK || !strings.Contains(out, "sealed") {
		t.Errorf("status of an organization the directory spells in upper case: exit %d\n%s%s", code, out, errOut)
	}
	if !t.Failed() {
		reliability.Record(t, "input", "--org of run, export, audit, export-task or status in upper case, in braces, or a typo", reliability.Refused,
			"exit 2 naming the id, with the lower-case spelling meant when it is a UUID; audit --org listed no access and exited 0, run said the organization was not archiving, export that nothing was sealed, status showed every day \"not in the directory\" with exit 0")
	}
}

// TestExportDateYesterday: export takes --date yesterday, as run and status do, so that
// the nightly script that seals yesterday can export it without date arithmetic in a shell
// (BusyBox's date knows no "yesterday"). It was a usage error.
func TestExportDateYesterday(t *testing.T) {
	cleanEnv(t)
	setRunClock(t, "2026-11-23T06:00:00Z")
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text"}
	mustRun(t, []int{exitQuarantined}, append([]string{"run", "--date", "yesterday"}, common...)...)
	out := filepath.Join(t.TempDir(), "acme.jsonl")
	if code, o, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "yesterday", "-o", out}, common...)...); code != exitOK {
		t.Fatalf("export --date yesterday: exit %d\n%s%s", code, o, errOut)
	}
	want := filepath.Join(t.TempDir(), "want.jsonl")
	mustRun(t, []int{exitOK}, append([]string{"export", "--org", acme, "--date", "2026-11-22", "-o", want}, common...)...)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(want)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("export --date yesterday wrote %d bytes, --date 2026-11-22 %d", len(a), len(b))
	}
}

// TestExportTaskOutputNameWarned: export-task -o x.jsonl wrote the gzip-compressed result
// under a name that says plain JSON Lines, and a reviewer's jq read binary. The file is
// still written (it is the result, checked against its SHA-256), with a warning naming
// the extension it should have.
func TestExportTaskOutputNameWarned(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text"}
	mustRun(t, []int{exitQuarantined}, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	for name, warned := range map[string]bool{"x.jsonl": true, "x.jsonl.gz": false, "X.JSONL.GZ": false, "x.zip": true} {
		out := filepath.Join(t.TempDir(), name)
		code, o, errOut := chatvault(t, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "--format", "jsonl", "-o", out}, common...)...)
		if code != exitOK {
			t.Fatalf("-o %s: exit %d\n%s%s", name, code, o, errOut)
		}
		if b, err := os.ReadFile(out); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("-o %s: the result (gzip) was not written: %v", name, err)
		}
		if got := strings.Contains(errOut, "name it *.jsonl.gz"); got != warned {
			t.Errorf("-o %s: warned %v, want %v\n%s", name, got, warned, errOut)
		}
	}
}
