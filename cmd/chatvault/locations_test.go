package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLocationsInsideTheEventLog: a spill folder (--temp-dir) inside a partition of the
// event log left chatvault.lock there; from then on every run of that day failed on an
// entry that is not an event file, with the right --temp-dir too, until someone removed
// it from the producer's folder. A store inside the event log sealed, into a folder the
// producer's clean-up owns. Both are refused at start now, before anything is written.
func TestLocationsInsideTheEventLog(t *testing.T) {
	cleanEnv(t)
	log := copyEventLog(t)
	partition := filepath.Join(log, "2026-11-22")
	before := storeFiles(t, log)
	store := filepath.Join(t.TempDir(), "archive")
	args := []string{"run", "--date", "2026-11-22", "--eventlog", log, "--log-format", "text"}

	for _, tt := range []struct {
		name, key string
		flags     []string
	}{
		{"temp dir in a partition", "export.tempDir", []string{"--store", store, "--temp-dir", partition}},
		{"temp dir is the event log", "export.tempDir", []string{"--store", store, "--temp-dir", log + "/"}},
		{"store in the event log", "store", []string{"--store", filepath.Join(log, "archive")}},
		{"store in a partition", "store", []string{"--store", filepath.Join(partition, "archive")}},
		{"store is the event log", "store", []string{"--store", log}},
	} {
		code, out, errOut := chatvault(t, append(slices.Clone(args), tt.flags...)...)
		if code != exitUsage || !strings.Contains(errOut, tt.key) || !strings.Contains(errOut, "inside the event log") && !strings.Contains(errOut, "is the event log") {
			t.Fatalf("%s: exit %d, want %d naming %s and the event log\n%s%s", tt.name, code, exitUsage, tt.key, out, errOut)
		}
		if after := storeFiles(t, log); !slices.Equal(after, before) {
			t.Fatalf("%s: the refused run changed the event log: %v, was %v", tt.name, after, before)
		}
	}
	if files := storeFiles(t, filepath.Dir(store)); len(files) != 0 {
		t.Fatalf("the refused runs wrote %v", files)
	}
	code, out, errOut := chatvault(t, append(args, "--store", store, "--temp-dir", t.TempDir())...)
	if code != exitQuarantined {
		t.Fatalf("the same day with the store and spill folder outside the event log: exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	reliability.Record(t, "operations", "export.tempDir or the store inside the event log (a partition, its root, the root itself)", reliability.Refused,
		"exit 2 at start naming the key and the event log, the event log untouched; a spill folder in a partition left chatvault.lock there and every later run of the day failed on it, whatever --temp-dir it was given")
}

// TestSecretsInsideTheStore: a signing key kept in the folder store went wherever the
// archive went (an auditor's copy, a backup, a vendor's read access), and with it the
// power to forge the manifests the archive is checked against; a tokens file there let
// whoever may write the archive mint API tokens. Refused at start, naming the key.
func TestSecretsInsideTheStore(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	key := filepath.Join(store, "signing.pem")
	mustRun(t, []int{exitOK}, "keys", "generate", "-o", key, "--log-format", "text")
	args := []string{"run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "text"}

	t.Setenv("CHATVAULT_SIGNING_KEYFILE", key)
	code, out, errOut := chatvault(t, args...)
	if code != exitUsage || !strings.Contains(errOut, "signing.keyFile") || !strings.Contains(errOut, "inside the store") {
		t.Fatalf("signing key inside the store: exit %d, want %d naming signing.keyFile\n%s%s", code, exitUsage, out, errOut)
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", "")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(store, "tokens.json"))
	code, out, errOut = chatvault(t, "token", "create", "--org", "0a1c2e3f-0000-4000-8000-00000000aaaa", "--scope", "admin:compliance:read", "--store", store, "--log-format", "text")
	if code != exitUsage || !strings.Contains(errOut, "auth.tokensFile") {
		t.Fatalf("tokens file inside the store: exit %d, want %d naming auth.tokensFile\n%s%s", code, exitUsage, out, errOut)
	}
	if files := storeFiles(t, store); !slices.Equal(files, []string{"signing.pem"}) {
		t.Fatalf("the refused commands wrote %v", files)
	}
	reliability.Record(t, "security", "signing key or tokens file kept inside the folder store (or the event log)", reliability.Refused,
		"exit 2 at start naming the key (signing.keyFile, exports.linkKeyFile, auth.tokensFile, http.tls.keyFile, smtp.passwordFile, attachments.tokenFile); the archive, and every copy of it, carried the key that forges its manifests")
}
