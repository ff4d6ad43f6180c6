package main

import (
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyIncrementalWithoutKeyIsUsage: verify --incremental with no trusted key at all
// (no --public-key, signing.publicKeyFile or signing.keyFile) cannot read a checkpoint: a
// configuration mistake, exit 2 like --checkpoint without signing.keyFile, before the store
// is read. It exited 1, which for verify means "the archive has a problem": an auditor's
// nightly job reported evidence trouble for a missing flag.
func TestVerifyIncrementalWithoutKeyIsUsage(t *testing.T) {
	cleanEnv(t)
	priv, _ := genKey(t, "signing")
	log := multiDayLog(t, "2026-11-21")
	store := t.TempDir()
	common := []string{"--eventlog", log, "--store", store, "--log-format", "json"}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-21"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"verify", "--checkpoint"}, common...)...)
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", "")
	code, _, stderr := chatvault(t, append([]string{"verify", "--incremental"}, common...)...)
	if code != exitUsage || !strings.Contains(stderr, "--public-key") {
		t.Fatalf("verify --incremental without a key: exit %d, want %d naming --public-key:\n%s", code, exitUsage, stderr)
	}
	reliability.Record(t, "input", "verify --incremental with no trusted public key", reliability.Refused,
		"exit 2 naming --public-key and signing.publicKeyFile, as --checkpoint without signing.keyFile; was exit 1, verify's code for a problem in the archive")
}
