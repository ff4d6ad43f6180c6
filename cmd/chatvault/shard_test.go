package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestShardFlagUsage: --shard is refused as a usage error (exit 2, nothing sealed) when it
// is not I/N with 0 <= I < N, when no date is given (the catch-up's lease would be taken
// by each shard from the others) and beside --org. Given empty (--shard "$SHARD" with
// SHARD unset), it ran unsharded: one pod of a sharded Job sealed every organization of
// the day, every shard's work at once; it is refused like any shard that does not parse,
// as are an unset index ("$SHARD/4") and a $(JOB_COMPLETION_INDEX) Kubernetes left
// unexpanded (not an Indexed Job).
func TestShardFlagUsage(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--date", "2026-11-22", "--shard", "4/4"}, "0 <= i < n"},
		{[]string{"run", "--date", "2026-11-22", "--shard", "x"}, "want i/n"},
		{[]string{"run", "--shard", "0/2"}, "--shard needs --date"},
		{[]string{"run", "--date", "2026-11-22", "--shard", "0/2", "--org", "0a1c2e3f-0000-4000-8000-00000000aaaa"}, "exclude each other"},
		{[]string{"run", "--date", "2026-11-22", "--shard", ""}, "--shard is given but empty"},
		{[]string{"run", "--date", "2026-11-22", "--shard="}, "--shard is given but empty"},
		{[]string{"run", "--from", "2026-11-22", "--to", "2026-11-22", "--shard", ""}, "--shard is given but empty"},
		{[]string{"run", "--date", "2026-11-22", "--shard", "/4"}, "want i/n"},
		{[]string{"run", "--date", "2026-11-22", "--shard", "$(JOB_COMPLETION_INDEX)/4"}, "want i/n"},
	} {
		code, out, errOut := chatvault(t, append(tc.args, common...)...)
		if code != exitUsage || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d with %q\n%s%s", tc.args, code, exitUsage, tc.want, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(store, "orgs")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused runs sealed something: %s: %v", filepath.Join(store, "orgs"), err)
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "run --shard given empty (--shard \"$SHARD\" with SHARD unset), or an index that is unset or left unexpanded", reliability.Refused,
			"exit 2 naming --shard, nothing sealed; an empty --shard ran unsharded, so one pod sealed every organization of the day")
	}
	// A valid shard seals its part of the sample day and says so.
	code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22", "--shard", "0/1"}, common...)...)
	if code != exitQuarantined || !strings.Contains(out, "shard 0/1") {
		t.Fatalf("run --shard 0/1: exit %d\n%s%s", code, out, errOut)
	}
	// status sums a sharded day's shards.
	code, out, errOut = chatvault(t, append([]string{"status", "--org", "0a1c2e3f-0000-4000-8000-00000000aaaa", "--date", "2026-11-22"}, common...)...)
	if code != exitOK || !strings.Contains(out, "1 of 1 shards") {
		t.Fatalf("status of a sharded day: exit %d\n%s%s", code, out, errOut)
	}
}
