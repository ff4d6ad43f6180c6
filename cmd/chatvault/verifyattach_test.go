package main

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyDateChecksAttachments: after run captured the sample day's file and verify
// --checkpoint recorded the indexes, `verify --date` of the day, like a whole-store verify,
// exits 1 naming the key when the captured file's bytes were edited, and when the day's
// attachment index was deleted (which, without the checkpoint's record, looks like a
// capture that never ran).
func TestVerifyDateChecksAttachments(t *testing.T) {
	cleanEnv(t)
	priv, pub := genKey(t, "signing")
	const contract = "%PDF the contract"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/d/3" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(contract))
	}))
	t.Cleanup(srv.Close)
	logDir := sampleLogCopy(t)
	linkTo(t, logDir, srv.URL)
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir, "--log-format", "json"}
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", priv)
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--checkpoint"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"verify", "--public-key", pub, "--date", "2026-11-22"}, common...)...)

	file := attach.FileKey(acme, sha256.Sum256([]byte(contract)))
	day, _ := archiver.ParseDay("2026-11-22")
	index := attach.IndexPrefix(acme, day) + "0001"
	path := func(key string) string { return filepath.Join(storeDir, filepath.FromSlash(key)) }
	original, err := os.ReadFile(path(file))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path(file), 0o600)
	if err := os.WriteFile(path(file), []byte("%PDF another contract"), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(what, want string) {
		t.Helper()
		for _, args := range [][]string{{"--date", "2026-11-22"}, {}} {
			code, out, errOut := chatvault(t, append(append([]string{"verify", "--public-key", pub}, args...), common...)...)
			if code != exitFailure || !strings.Contains(out+errOut, want) {
				t.Fatalf("verify %v with %s: exit %d, want %d and a problem naming %s\n%s%s", args, what, code, exitFailure, want, out, errOut)
			}
		}
	}
	check("the file's bytes edited", file+": bytes hash to")
	if err := os.WriteFile(path(file), original, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := filepath.Glob(path(index) + "*")
	if err != nil || len(keys) != 1 {
		t.Fatalf("index %s: %q, %v", index, keys, err)
	}
	os.Chmod(filepath.Dir(keys[0]), 0o700)
	if err := os.Remove(keys[0]); err != nil {
		t.Fatal(err)
	}
	check("the day's index deleted", index)
	reliability.Record(t, "security", "chatvault verify --date of a day whose captured file was edited, or whose attachment index was deleted", reliability.CleanFailure,
		"exit 1 with a problem naming the file or the index key (the deletion told from a capture not run by the checkpoint's record)")
}
