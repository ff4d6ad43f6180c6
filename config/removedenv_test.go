package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRemovedKeyInEnv: a configuration file of an earlier version that still sets a
// removed key is refused naming what replaced it, but the same key set in the environment
// (CHATVAULT_EXPORTS_MAXRANGEDAYS in a unit's Environment= or a Deployment's env, kept
// across an upgrade) was ignored without a word: the operator's limit silently no longer
// applied. It is refused as the file's is.
func TestRemovedKeyInEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv("CHATVAULT_EXPORTS_MAXRANGEDAYS", "31")
	_, err := Load(writeFile(t, "eventlog: ./ev\nstore: ./archive\n"), nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "CHATVAULT_EXPORTS_MAXRANGEDAYS") ||
		!strings.Contains(err.Error(), "was removed") || !strings.Contains(err.Error(), "exports.maxScanEvents") {
		t.Fatalf("Load with a removed key's variable: %v", err)
	}
	t.Setenv("CHATVAULT_EXPORTS_MAXRANGEDAYS", "")
	if _, err := Load(writeFile(t, "eventlog: ./ev\nstore: ./archive\n"), nil); err != nil {
		t.Fatalf("an empty variable sets nothing: %v", err)
	}
	reliability.Record(t, "operations", "an upgrade keeps a removed key's environment variable (CHATVAULT_EXPORTS_MAXRANGEDAYS)", reliability.Refused,
		"exit 2 naming the variable, that the key was removed and what replaced it, as for the key in the file; before, the variable was ignored without a word")
}
