package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenRefusesCountsBelowOne: `gen --orgs 0` (or -3) wrote a directory of 10
// organizations, the default, without a word; it is bad usage (exit 2) and writes nothing.
func TestGenRefusesCountsBelowOne(t *testing.T) {
	cleanEnv(t)
	for _, tt := range []struct{ flag, value string }{{"--orgs", "0"}, {"--orgs", "-3"}} {
		out := filepath.Join(t.TempDir(), "log")
		code, _, errOut := chatvault(t, "gen", "--date", "2026-11-22", "--events", "10", "--out", out, tt.flag, tt.value, "--log-format", "text")
		if code != exitUsage || !strings.Contains(errOut, tt.flag) {
			t.Errorf("gen %s %s: exit %d, stderr %q; want %d naming the flag", tt.flag, tt.value, code, errOut, exitUsage)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("gen %s %s wrote %s", tt.flag, tt.value, out)
		}
	}
}
