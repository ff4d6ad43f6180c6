package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// logRecords parses stderr as JSON log records, one a line, failing the test at the first
// line that is not one.
func logRecords(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(stderr) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a stderr line is not JSON (%v): %q\nstderr:\n%s", err, line, stderr)
		}
		recs = append(recs, rec)
	}
	return recs
}

// findRecord returns the first record with msg whose attributes include attrs (key,
// value pairs compared as printed), or nil.
func findRecord(recs []map[string]any, msg string, attrs ...string) map[string]any {
next:
	for _, r := range recs {
		if r["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if v, ok := r[attrs[i]]; !ok || jsonString(v) != attrs[i+1] {
				continue next
			}
		}
		return r
	}
	return nil
}

func jsonString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// tamperedStore seals the sample day into a new store and appends a byte to Acme's
// export, so that verify finds a problem.
func tamperedStore(t *testing.T) string {
	t.Helper()
	store := t.TempDir()
	if code, _, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-level", "error"); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	var data string
	filepath.WalkDir(filepath.Join(store, "orgs", acme), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "events-") {
			data = p
		}
		return err
	})
	if err := os.Chmod(data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(data, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	return store
}

// TestJSONLogsEveryLine: with --log-format json (or CHATVAULT_LOG_FORMAT=json) every line
// chatvault writes on stderr is a JSON record, in failing runs too: the error that ends
// the process is the last record (level ERROR, its exit code), and the operator messages
// once printed as text (a day's failure, verify's problems, status's and keys' notes) are
// records with their facts as attributes.
func TestJSONLogsEveryLine(t *testing.T) {
	cleanEnv(t)
	unread := t.TempDir()
	if err := os.CopyFS(unread, os.DirFS("../../testdata/eventlog")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(unread, "2026-11-22", "notes.txt"), []byte("side file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tampered := tamperedStore(t)
	empty := t.TempDir()
	sample := []string{"--eventlog", "../../testdata/eventlog", "--store", empty}
	tests := []struct {
		name string
		env  string // CHATVAULT_LOG_FORMAT
		args []string
		code int
		// want is a record that must be there: msg, then attribute key, value pairs.
		want []string
		// fatal: the last record is the error that ends the process.
		fatal bool
	}{
		{"run of a day whose partition is missing", "", []string{"run", "--date", "2026-11-21", "--log-format", "json"}, exitFailure,
			[]string{"seal failed", "day", "2026-11-21"}, false},
		{"run of a partition with an unread file", "", []string{"run", "--date", "2026-11-22", "--log-format", "json", "--eventlog", unread}, exitFailure,
			[]string{"seal failed", "day", "2026-11-22"}, false},
		{"invalid configuration", "", []string{"run", "--date", "2026-11-22", "--log-format", "json", "--sort-memory", "12XB"}, exitUsage,
			[]string{"usage error", "command", "chatvault run", "exitCode", "2"}, true},
		{"bad usage found by the command", "", []string{"export", "--date", "2026-11-22", "--log-format", "json"}, exitUsage,
			[]string{"usage error", "command", "chatvault export", "exitCode", "2"}, true},
		{"unknown flag", "", []string{"verify", "--log-format", "json", "--bogus"}, exitUsage,
			[]string{"usage error", "command", "chatvault verify", "err", "unknown flag: --bogus"}, true},
		{"unknown flag, format from the environment", "json", []string{"verify", "--bogus"}, exitUsage,
			[]string{"usage error", "command", "chatvault verify", "err", "unknown flag: --bogus"}, true},
		{"unknown command", "", []string{"--log-format", "json", "seal"}, exitUsage,
			[]string{"usage error", "command", "chatvault"}, true},
		{"stray argument", "", []string{"verify", "extra", "--log-format=json"}, exitUsage,
			[]string{"usage error", "err", `unexpected argument "extra"`}, true},
		{"failure found by the command", "", []string{"export", "--org", acme, "--date", "2026-11-22", "--log-format", "json", "--store", filepath.Join(empty, "nowhere")}, exitFailure,
			[]string{"command failed", "command", "chatvault export", "exitCode", "1"}, true},
		{"verify of a tampered store", "", []string{"verify", "--log-format", "json", "--store", tampered}, exitFailure,
			[]string{"verify problem"}, false},
		{"verify of an empty store", "", []string{"verify", "--log-format", "json"}, exitFailure,
			[]string{"verify problem"}, false},
		{"status of an organization never sealed", "", []string{"status", "--org", acme, "--date", "2026-11-22", "--log-format", "json"}, exitOK,
			[]string{"no manifest of the organization in the store (a mistyped --store or --org, or never sealed)", "org", acme}, false},
		{"keys generate", "", []string{"keys", "generate", "-o", filepath.Join(t.TempDir(), "k.pem"), "--log-format", "json"}, exitOK,
			[]string{"wrote the private key; its public key follows on stdout"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHATVAULT_LOG_FORMAT", tt.env)
			// The case's own flags come last, so that they override the sample's.
			args := append(append([]string{tt.args[0]}, sample...), tt.args[1:]...)
			if tt.args[0] == "--log-format" {
				args = tt.args // no command takes the flags
			}
			code, out, errOut := chatvault(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			recs := logRecords(t, errOut)
			if findRecord(recs, tt.want[0], tt.want[1:]...) == nil {
				t.Errorf("no record %q with %q:\n%s", tt.want[0], tt.want[1:], errOut)
			}
			if tt.fatal {
				last := recs[len(recs)-1]
				if last["level"] != "ERROR" || jsonString(last["exitCode"]) != jsonString(tt.code) || last["err"] == nil {
					t.Errorf("the last record is not the fatal error with exitCode %d: %v", tt.code, last)
				}
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "a failing run, a bad flag, an unknown command or an invalid config with --log-format json", reliability.CleanFailure,
			`every stderr line is a JSON record; the error that ends the process is the last, level ERROR, msg "command failed" or "usage error", with err and exitCode`)
	}
}

// TestTextLogsKeepPlainLines: with --log-format text the error that ends the process stays
// the line "chatvault CMD: ERR" a person reads.
func TestTextLogsKeepPlainLines(t *testing.T) {
	cleanEnv(t)
	code, _, errOut := chatvault(t, "run", "--date", "2026-11-22", "--log-format", "text", "--sort-memory", "12XB", "--eventlog", "../../testdata/eventlog", "--store", t.TempDir())
	if code != exitUsage || !strings.HasPrefix(errOut, "chatvault run: config: export.sortMemory") {
		t.Errorf("exit %d, stderr %q; want exit 2 and the plain line", code, errOut)
	}
	code, _, errOut = chatvault(t, "verify", "--log-format", "text", "--eventlog", "../../testdata/eventlog", "--store", tamperedStore(t))
	if code != exitFailure || !strings.Contains(errOut, "\nPROBLEM: ") && !strings.HasPrefix(errOut, "PROBLEM: ") {
		t.Errorf("verify exit %d, stderr %q; want exit 1 and PROBLEM lines", code, errOut)
	}
}

// TestLogDurationsReadable: a duration in a log record is Go's duration syntax ("1.52s"),
// never integer nanoseconds, whatever the format, in groups too, and from the commands'
// own records (export-task's "took").
func TestLogDurationsReadable(t *testing.T) {
	for _, json := range []bool{true, false} {
		var buf bytes.Buffer
		newLogger(slog.LevelInfo, json, &buf).Info("x", "took", 1519873412*time.Nanosecond, slog.Group("g", "wait", 250*time.Millisecond), "short", 1500*time.Nanosecond)
		for _, want := range []string{"1.52s", "250ms", "1.5µs"} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("json %t: %q lacks %q", json, buf.String(), want)
			}
		}
	}

	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	code, _, errOut := chatvault(t, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22"}, common...)...)
	if code != exitOK {
		t.Fatalf("export-task exit %d: %s", code, errOut)
	}
	recs := logRecords(t, errOut)
	done := findRecord(recs, "export task completed", "component", "exports")
	if done == nil {
		t.Fatalf("no export task completed record:\n%s", errOut)
	}
	took, ok := done["took"].(string)
	if !ok {
		t.Fatalf("took is %T %v, want a duration string", done["took"], done["took"])
	}
	if _, err := time.ParseDuration(took); err != nil {
		t.Errorf("took %q: %v", took, err)
	}
	for _, r := range recs {
		for k, v := range r {
			if f, ok := v.(float64); ok && f > 1e6 && k != "bytes" && k != "size" {
				t.Errorf("record %q: %s is %v, a duration in nanoseconds?", r["msg"], k, f)
			}
		}
	}
}

// TestRunSummaryLogLine: the summary run prints is also one log record, msg "run summary",
// with the day's counts as numbers, and the catch-up's totals are one "catch-up summary".
func TestRunSummaryLogLine(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitQuarantined || !strings.Contains(out, "29 events read, 13 exported, 5 excluded, 2 duplicates, 9 quarantined") {
		t.Fatalf("run exit %d:\n%s%s", code, out, errOut)
	}
	recs := logRecords(t, errOut)
	sum := findRecord(recs, "run summary", "day", "2026-11-22", "read", "29", "exported", "13", "excluded", "5", "duplicates", "2",
		"quarantined", "9", "organizations", "2", "committed", "2", "unchanged", "0", "failed", "0")
	if sum == nil {
		t.Fatalf("no run summary record with the printed counts:\n%s", errOut)
	}
	if took, _ := sum["took"].(string); took == "" {
		t.Errorf("run summary took = %v, want a duration string", sum["took"])
	}
	if jsonString(sum["quarantinedBy"]) == "null" || jsonString(sum["excludedBy"]) == "null" {
		t.Errorf("run summary lacks the reasons: %v", sum)
	}

	// The rerun's summary says unchanged.
	_, _, errOut = chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if findRecord(logRecords(t, errOut), "run summary", "committed", "0", "unchanged", "2") == nil {
		t.Errorf("no run summary of the unchanged rerun:\n%s", errOut)
	}

	setRunClock(t, "2026-11-25T00:30:00Z")
	code, _, errOut = chatvault(t, "run", "--eventlog", catchUpLog(t), "--store", t.TempDir(), "--log-format", "json")
	if code != exitQuarantined {
		t.Fatalf("catch-up exit %d:\n%s", code, errOut)
	}
	recs = logRecords(t, errOut)
	if findRecord(recs, "catch-up summary", "sealed", "2", "failed", "0", "pending", "4") == nil {
		t.Errorf("no catch-up summary record:\n%s", errOut)
	}
	if findRecord(recs, "run summary", "day", "2026-11-22") == nil {
		t.Errorf("no run summary of the day the catch-up sealed:\n%s", errOut)
	}
}
