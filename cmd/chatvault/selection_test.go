package main

import (
	"archive/zip"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/reliability"
)

// readZipFile returns the named file of the ZIP archive at path.
func readZipFile(t *testing.T, path, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportTaskSelectionFlags: --message, --term, --since and --until reach the task,
// and the result's own index (html's index.html, rsmf's export.json) carries the term
// report, or says plainly that nothing matched.
func TestExportTaskSelectionFlags(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-level", "error"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	out := t.TempDir()
	task := func(name string, args ...string) exporttask.Status {
		t.Helper()
		args = append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "-o", filepath.Join(out, name)}, args...)
		code, stdout, errOut := chatvault(t, append(args, common...)...)
		if code != exitOK {
			t.Fatalf("export-task %v: exit %d: %s", args, code, errOut)
		}
		var st exporttask.Status
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	// m-001 was sent ("Morning! Standup at 9:30?") and edited ("… 9:45?") that day.
	st := task("terms.zip", "--message", "m-001", "--term", "STANDUP", "--term", "9:45", "--format", "html")
	want := []exporttask.TermCount{{Term: "STANDUP", Records: 2, Chats: 1, Custodians: 1, Unique: 1}, {Term: "9:45", Records: 1, Chats: 1, Custodians: 1, Unique: 0}}
	if st.Result.Events != 2 || !slices.Equal(st.TermReport, want) {
		t.Fatalf("events %d, termReport %+v; want 2 and %+v", st.Result.Events, st.TermReport, want)
	}
	index := readZipFile(t, filepath.Join(out, "terms.zip"), "index.html")
	if !strings.Contains(index, "Search term report") || !strings.Contains(index, "<td>STANDUP</td><td>2</td><td>1</td><td>1</td><td>1</td>") {
		t.Fatalf("index.html has no term report:\n%s", index)
	}

	st = task("none.zip", "--term", "zeppelin", "--since", "2026-11-22T12:00:00Z", "--format", "rsmf")
	if st.Result.Events != 0 || !strings.Contains(st.NoMatch, `terms ["zeppelin"]`) || !strings.Contains(st.NoMatch, "since 2026-11-22T12:00:00Z") {
		t.Fatalf("events %d, noMatch %q", st.Result.Events, st.NoMatch)
	}
	var info struct {
		NoMatch string `json:"noMatch"`
	}
	if err := json.Unmarshal([]byte(readZipFile(t, filepath.Join(out, "none.zip"), "export.json")), &info); err != nil || info.NoMatch != st.NoMatch {
		t.Fatalf("export.json noMatch %q (%v), want %q", info.NoMatch, err, st.NoMatch)
	}
	st = task("none.html.zip", "--term", "zeppelin", "--format", "html")
	if index := readZipFile(t, filepath.Join(out, "none.html.zip"), "index.html"); !strings.Contains(index, "no record matched") {
		t.Fatalf("index.html of an empty result does not say so:\n%s", index)
	}

	code, _, errOut := chatvault(t, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "--until", "yesterday"}, common...)...)
	if code != exitUsage || !strings.Contains(errOut, "--until") {
		t.Fatalf("--until yesterday: exit %d: %s", code, errOut)
	}
	reliability.Record(t, "input", "export-task whose filters match nothing (html, rsmf)", reliability.Kept,
		"events 0; noMatch names the filters and days in the status, index.html and export.json")
}
