package main

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyCheckpointIncremental: verify --checkpoint writes a signed checkpoint;
// verify --incremental then checks only the day sealed since (with the public key alone
// it reads the checkpoint, and writes none), and --resume after a complete verification
// starts a new one. The flags verify the whole store: not with --org or --date.
func TestVerifyCheckpointIncremental(t *testing.T) {
	cleanEnv(t)
	priv, pub := genKey(t, "signing")
	log := multiDayLog(t, "2026-11-21", "2026-11-22")
	store := t.TempDir()
	common := []string{"--eventlog", log, "--store", store, "--log-format", "json"}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-21"}, common...)...)

	out := mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--checkpoint"}, common...)...)
	if !strings.Contains(out, "checkpoint written: verifications/checkpoints/") || !strings.Contains(out, "2 manifests") {
		t.Fatalf("verify --checkpoint: %s", out)
	}
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	t.Setenv("CHATVAULT_VERIFY_SAMPLE", "0")
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", "") // an examiner: the public key only
	out = mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--incremental"}, common...)...)
	if !strings.Contains(out, "from checkpoint verifications/checkpoints/") || !strings.Contains(out, "2 manifests") || strings.Contains(out, "checkpoint written") {
		t.Fatalf("verify --incremental (public key only): %s", out)
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
	out = mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--incremental"}, common...)...)
	if !strings.Contains(out, "checkpoint written") {
		t.Fatalf("verify --incremental (signing key): %s", out)
	}
	out = mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--incremental"}, common...)...)
	if !strings.Contains(out, " 0 manifests") || strings.Contains(out, "PROBLEM") {
		t.Fatalf("verify --incremental with nothing new: %s", out)
	}
	out = mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--resume"}, common...)...)
	if !strings.Contains(out, "4 manifests") {
		t.Fatalf("verify --resume after a complete verification: %s", out)
	}
	for _, args := range [][]string{{"--incremental", "--org", "x"}, {"--checkpoint", "--date", "2026-11-22"}, {"--resume", "--incremental"}} {
		if code, _, _ := chatvault(t, append(append([]string{"verify", "--public-key", pub}, args...), common...)...); code != exitUsage {
			t.Errorf("verify %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	reliability.Record(t, "operations", "chatvault verify --incremental after verify --checkpoint", reliability.Kept,
		"only the days sealed since the signed checkpoint are verified; the public key alone reads the checkpoint")
}
