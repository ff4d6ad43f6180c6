package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestExportWitnessReportsDeletedDays: a day sealed and witnessed (chatvault witness -o,
// kept outside the store) is deleted from the store. `chatvault export` of it said "has
// no sealed export for 2026-11-22 (see chatvault status)", and status listed it pending
// and exited 0: the deletion read as a day never sealed, as serve and export-task once
// answered it. Given verify.witness, both fail like export-task and serve's listing: exit
// 1, naming the witness and the chain head the store lost. A day still in the store
// exports and lists as before, and a witness that does not read is a configuration error
// (exit 2), as for serve and export-task.
func TestExportWitnessReportsDeletedDays(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	witness := filepath.Join(t.TempDir(), "witness.json")
	mustRun(t, []int{exitOK}, append([]string{"witness", "-o", witness}, common...)...)
	garbled := filepath.Join(t.TempDir(), "garbled.json")
	if err := os.WriteFile(garbled, []byte(`{"version":`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(command, witnessFile string) (int, string, string) {
		t.Helper()
		t.Setenv("CHATVAULT_VERIFY_WITNESS", witnessFile)
		return chatvault(t, append([]string{command, "--org", acme, "--date", "2026-11-22"}, common...)...)
	}

	// Before the deletion: the day exports and lists sealed with the witness.
	if code, out, errOut := run("export", witness); code != exitOK || out == "" {
		t.Fatalf("export of the sealed day with verify.witness: exit %d, %d bytes\n%s", code, len(out), errOut)
	}
	if code, out, errOut := run("status", witness); code != exitOK || !strings.Contains(out, "2026-11-22  sealed") {
		t.Fatalf("status of the sealed day with verify.witness: exit %d\n%s%s", code, out, errOut)
	}
	for _, command := range []string{"export", "status"} {
		if code, _, errOut := run(command, garbled); code != exitUsage || !strings.Contains(errOut, "verify.witness") {
			t.Fatalf("%s with a verify.witness that does not parse: exit %d, want %d naming it\n%s", command, code, exitUsage, errOut)
		}
	}

	if err := os.RemoveAll(filepath.Join(store, "orgs", acme)); err != nil {
		t.Fatal(err)
	}
	witnessed := []string{ledger.ErrBehindWitness.Error(), "verify.witness " + witness, acme, "chatvault verify --witness"}
	for _, tc := range []struct {
		command, witness string
		code             int
		stdout           string // what stdout holds; "" for nothing
		want             []string
	}{
		{"export", "", exitFailure, "", []string{"has no sealed export for 2026-11-22"}},
		{"export", witness, exitFailure, "", witnessed},
		{"status", "", exitOK, "2026-11-22  pending", []string{"no manifest of the organization in the store"}},
		{"status", witness, exitFailure, "", witnessed},
	} {
		name := tc.command + " without verify.witness"
		if tc.witness != "" {
			name = tc.command + " with verify.witness"
		}
		t.Run(name, func(t *testing.T) {
			code, out, errOut := run(tc.command, tc.witness)
			if code != tc.code || (tc.stdout == "") != (out == "") || !strings.Contains(out, tc.stdout) {
				t.Fatalf("exit %d, stdout %q; want %d and %q\n%s", code, out, tc.code, tc.stdout, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "security", "export and status (CLI) of a sealed day deleted from the store, with verify.witness", reliability.CleanFailure,
			"exit 1 naming verify.witness and the chain head the store lost (as export-task and serve's listing), not \"has no sealed export\" and a pending day as for one never sealed")
	}
}
