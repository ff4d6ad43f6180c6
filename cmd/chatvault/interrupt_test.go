package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunInterrupted: Ctrl-C (SIGINT) or SIGTERM during `run` printed only
// `seal failed … context canceled` for the day, then the same line for every later day of
// a --from/--to range, which went on being attempted, and no record said why the run
// ended. The signal's cause ends the run at the day it cut, in one last record naming the
// signal and what to do, with exit 1; the rerun seals the days.
func TestRunInterrupted(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	args := []string{"run", "--from", "2026-11-20", "--to", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	// What main's signal.NotifyContext gives the command once SIGINT arrives.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupt signal received"))
	var out, errOut bytes.Buffer
	if code := Main(ctx, args, &out, &errOut); code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, out.String(), errOut.String())
	}
	recs := logRecords(t, errOut.String())
	var failed int
	for _, r := range recs {
		if r["msg"] == "seal failed" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d seal failed records, want 1: the run goes on after the interruption\n%s", failed, errOut.String())
	}
	last := recs[len(recs)-1]
	if last["msg"] != "command failed" || jsonString(last["exitCode"]) != "1" ||
		!strings.Contains(jsonString(last["err"]), "interrupt signal received") || !strings.Contains(jsonString(last["err"]), "run the command again") {
		t.Fatalf("the last record does not say the run was interrupted: %v\n%s", last, errOut.String())
	}
	// The catch-up (run with no date) ends the same way.
	errOut.Reset()
	if code := Main(ctx, []string{"run", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}, &out, &errOut); code != exitFailure {
		t.Fatalf("catch-up exit %d, want %d\n%s", code, exitFailure, errOut.String())
	}
	recs = logRecords(t, errOut.String())
	if last := recs[len(recs)-1]; last["msg"] != "command failed" || !strings.Contains(jsonString(last["err"]), "interrupted (interrupt signal received) while catching up") {
		t.Fatalf("the catch-up's last record does not say it was interrupted: %v\n%s", last, errOut.String())
	}
	// The rerun is a run like any other: the sample day seals (exit 3, records quarantined);
	// the days before it have no partition (exit 1, as without the interruption).
	code, outRerun, errRerun := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json")
	if code != exitQuarantined || !strings.Contains(outRerun, "committed") {
		t.Fatalf("rerun exit %d, want %d\n%s%s", code, exitQuarantined, outRerun, errRerun)
	}
	reliability.Record(t, "operations", "run interrupted by Ctrl-C (SIGINT) or SIGTERM, then run again", reliability.Recovered,
		`the run stops at the day it cut, exit 1, its last record names the signal ("interrupted … run the command again"); it went on to every later day and said only "context canceled"; the rerun seals the day`)
}

// TestCommandInterruptedSaysSo: any other command that Ctrl-C stops ended with the error of
// whatever call it cut, "fsstore: open layout.json: context canceled" for export-task; the
// error that ends it now says it was interrupted, and by what.
func TestCommandInterruptedSaysSo(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	if code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupt signal received"))
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22",
		"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}, &out, &errOut)
	recs := logRecords(t, errOut.String())
	last := recs[len(recs)-1]
	if code != exitFailure || last["msg"] != "command failed" || !strings.HasPrefix(jsonString(last["err"]), "interrupted (interrupt signal received): ") {
		t.Fatalf("exit %d, last record %v; want 1 and the error saying the command was interrupted\n%s", code, last, errOut.String())
	}
}
