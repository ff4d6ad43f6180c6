// Package scripts_test checks the shell scripts of scripts/.
package scripts_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// numeric matches a line that reads or writes decimal numbers through the locale: awk
// (mawk reads "12.40" as 12 under LC_NUMERIC=de_DE.UTF-8 and prints "%.2f" as "12,00")
// or a numeric sort (GNU sort -n takes '.' for de_DE's thousands separator).
var numeric = regexp.MustCompile(`\bawk\b|\bsort\b[^|]*-[a-zA-Z0-9]*n`)

// TestScriptsPinTheNumericLocale: under LC_ALL=de_DE.UTF-8, shardbench.sh's per-run line
// "12.40 21.40 200" became "12,00 21,00 200" and the shards' CPU total lost every
// fraction (39,00 instead of 40.00); bench.sh's and exportbench.sh's tables printed
// decimal commas. Each script that computes with awk or sorts numbers sets LC_ALL=C before
// its first such line, so that its figures do not depend on the developer's locale.
func TestScriptsPinTheNumericLocale(t *testing.T) {
	paths, err := filepath.Glob("*.sh")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	checked := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pinned := false
		for i, line := range strings.Split(string(b), "\n") {
			code := strings.TrimSpace(line)
			if strings.HasPrefix(code, "#") {
				continue
			}
			if code == "export LC_ALL=C" {
				pinned = true
			}
			if numeric.MatchString(code) && p != "fuzz.sh" { // fuzz.sh's awk reads Go source, no numbers
				checked++
				if !pinned {
					t.Errorf("%s:%d computes with the locale's numbers and no export LC_ALL=C precedes it: %s", p, i+1, code)
					break
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no script line matched: the pattern is wrong")
	}
	reliability.Record(t, "operations", "benchmark scripts (bench.sh, exportbench.sh, shardbench.sh) run under LC_ALL=de_DE.UTF-8", reliability.Kept,
		"they set LC_ALL=C: mawk read GNU time's 12.40 as 12 and printed 12,00, so the shards' CPU total lost its fractions and the tables had decimal commas")
}
