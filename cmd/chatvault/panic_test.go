package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// panicEnv makes the chatvault process of reexecMain open its store through panicStore
// (see TestMain).
const panicEnv = "CHATVAULT_TEST_PANIC_ON_OPEN"

// panicStore is a store whose Open panics: a bug anywhere under a command, injected.
type panicStore struct{ archiver.Store }

func (panicStore) Open(context.Context, string) (io.ReadCloser, error) {
	panic("injected: a bug under Open")
}

// TestPanicExitsFailure: a panic (a bug) ended chatvault with the Go runtime's status 2,
// the exit code of bad usage or configuration, on which the Kubernetes Jobs
// (deploy/kubernetes) fail at once instead of retrying as for a failure; and the operator
// went looking for a configuration error. Main recovers the panic of the command's
// goroutine: exit 1 (a failure: nothing is committed but by a manifest written last), the
// panic's value and stack logged, in the log's format. Both in-process and in a process of
// its own (the exit status the container reports).
func TestPanicExitsFailure(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	export := append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)
	inProcess := func(args ...string) (int, string, string) {
		wrapStore = func(s archiver.Store) archiver.Store { return panicStore{s} }
		defer func() { wrapStore = nil }()
		return chatvault(t, args...)
	}
	process := func(args ...string) (int, string, string) {
		t.Setenv(panicEnv, "1")
		defer os.Unsetenv(panicEnv)
		return reexecMain(t, args...)
	}
	for _, tc := range []struct {
		name string
		run  func(args ...string) (int, string, string)
		json bool
	}{
		{"in-process, JSON log", inProcess, true},
		{"in-process, text log", inProcess, false},
		{"process, JSON log", process, true},
		{"process, text log", process, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := map[bool]string{true: "json", false: "text"}[tc.json]
			code, out, errOut := tc.run(append(export, "--log-format", format)...)
			if code != exitFailure || out != "" {
				t.Fatalf("exit %d, stdout %q; want %d and nothing written\n%s", code, out, exitFailure, errOut)
			}
			if !tc.json {
				for _, want := range []string{"chatvault export: panic: injected: a bug under Open", "panicStore", "goroutine "} {
					if !strings.Contains(errOut, want) {
						t.Errorf("stderr lacks %q:\n%s", want, errOut)
					}
				}
				return
			}
			var rec struct {
				Level, Msg, Command, Err, Stack string
				ExitCode                        int
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil {
				t.Fatalf("last line of stderr is not a JSON log record: %v\n%s", err, errOut)
			}
			if rec.Level != "ERROR" || rec.Command != "chatvault export" || rec.Err != "panic: injected: a bug under Open" ||
				!strings.Contains(rec.Stack, "panicStore") || rec.ExitCode != exitFailure {
				t.Errorf("log record %+v: want ERROR of chatvault export naming the panic, its stack through panicStore, exitCode 1\n%s", rec, errOut)
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "fault", "a panic (a bug) under a command, in its own goroutine", reliability.CleanFailure,
			"exit 1 as any failure, the panic and its stack logged (JSON or text); the Go runtime's exit 2 read as a configuration error, and the Kubernetes Jobs failed at once on it instead of retrying")
	}
}
