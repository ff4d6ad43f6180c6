package main

import (
	"strings"
	"testing"
)

// TestExportTaskPrintsTermsAsTyped: export-task's status on stdout wrote a term "R&D" as
// "R\u0026D" (twice escaped in its noMatch message); it is printed as typed.
func TestExportTaskPrintsTermsAsTyped(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "--term", "R&D <draft>"}, common...)...)
	if code != exitOK {
		t.Fatalf("export-task: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, `"R&D <draft>"`) || !strings.Contains(out, `terms [\"R&D <draft>\"]`) || strings.Contains(out, `\u0026`) {
		t.Fatalf("the term is not printed as typed:\n%s", out)
	}
}
