package reliability

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestRecordLoadSplice(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvOut, dir)
	Record(t, "security", "b | pipe", Refused, "401")
	Record(t, "input", "a", Quarantined, "syntax")
	Record(t, "input", "a", Quarantined, "syntax") // a repeat collapses
	rows, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Area != "input" || rows[1].Case != "b | pipe" {
		t.Fatalf("rows = %+v", rows)
	}
	table := Markdown(rows)
	if !strings.Contains(table, `b \| pipe`) {
		t.Fatalf("pipe not escaped:\n%s", table)
	}
	doc := "intro\n" + BeginMarker + "\nold\n" + EndMarker + "\nafter\n"
	got, err := Splice(doc, table)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "old") || !strings.HasSuffix(got, EndMarker+"\nafter\n") || !strings.Contains(got, "| input | a |") {
		t.Fatalf("splice:\n%s", got)
	}
	if _, err := Splice("no markers", table); err == nil {
		t.Fatal("splice without markers succeeded")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "rows-*.jsonl")); len(m) != 1 {
		t.Fatalf("files = %v", m)
	}
}
