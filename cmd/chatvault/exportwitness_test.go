package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestExportWitnessReportsDeletedDays: a day sealed and witnessed (chatvault witness -o,
// kept outside the store) is deleted from the store. `chatvault export` of it said "has
// no sealed export for 2026-11-22 (see chatvault status)", and status said pending: the
// deletion read as a day never sealed, as serve and export-task once answered it. Given
// verify.witness, export fails like export-task: exit 1, naming the witness and the chain
// head the store lost. A day still in the store exports as before, and a witness that does
// not read is a configuration error (exit 2), as for serve and export-task.
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
	export := func(witnessFile string) (int, string, string) {
		t.Helper()
		t.Setenv("CHATVAULT_VERIFY_WITNESS", witnessFile)
		return chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...)
	}

	// Before the deletion: the day exports with or without the witness.
	if code, out, errOut := export(witness); code != exitOK || out == "" {
		t.Fatalf("export of the sealed day with verify.witness: exit %d, %d bytes\n%s", code, len(out), errOut)
	}
	if code, _, errOut := export(garbled); code != exitUsage || !strings.Contains(errOut, "verify.witness") {
		t.Fatalf("export with a verify.witness that does not parse: exit %d, want %d naming it\n%s", code, exitUsage, errOut)
	}

	if err := os.RemoveAll(filepath.Join(store, "orgs", acme)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		witness string
		code    int
		want    []string
	}{
		{"without verify.witness", "", exitFailure, []string{"has no sealed export for 2026-11-22"}},
		{"with verify.witness", witness, exitFailure, []string{archiver.ErrBehindWitness.Error(), "verify.witness " + witness, acme, "chatvault verify --witness"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := export(tc.witness)
			if code != tc.code || out != "" {
				t.Fatalf("exit %d, stdout %q; want %d and nothing exported\n%s", code, out, tc.code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if !t.Failed() {
		reliability.Record(t, "security", "export (CLI) of a sealed day deleted from the store, with verify.witness", reliability.CleanFailure,
			"exit 1 naming verify.witness and the chain head the store lost (as export-task), not \"has no sealed export\" as for a day never sealed")
	}
}
