package main

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRetiredSigningKeyRefused: the signing key A was rotated to B (keys rotate), and a
// process is still configured with A (a replica or cron job not switched, an old copy of
// the configuration). Before, only the seal refused, each organization's manifest, after
// it had stored the day's quarantine and failure records; serve signed audit segments
// (and its scheduler's seals' records) with A, and export-task its audit segment and
// completion, all of which verify then reports as signed by a retired key. Each now stops
// at start, exit 1, naming the key and the statement, with nothing written to the store;
// on B they run.
func TestRetiredSigningKeyRefused(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	keys := t.TempDir()
	keyA, keyB := filepath.Join(keys, "a.pem"), filepath.Join(keys, "b.pem")
	common := []string{"--eventlog", copyEventLog(t), "--store", store, "--log-format", "json", "--log-level", "error"}
	for _, k := range []string{keyA, keyB} {
		mustRun(t, []int{exitOK}, append([]string{"keys", "generate", "-o", k}, common...)...)
	}
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", keyA)
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"keys", "rotate", "--new-key", keyB, "--reason", "yearly"}, common...)...)
	files := func() []string {
		var out []string
		filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
		slices.Sort(out)
		return out
	}
	before := files()
	task := filepath.Join(t.TempDir(), "task.jsonl.gz")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "--date", "2026-11-23"}},
		{"export-task", []string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "-o", task}},
		{"serve", []string{"serve"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var errOut string
			if tc.name == "serve" {
				// A serve that starts listening is stopped at once, and fails the test.
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				serveHooks.listening = func(string) { stop() }
				t.Cleanup(func() { serveHooks.listening = nil })
				var stderr strings.Builder
				code = Main(ctx, append(tc.args, common...), io.Discard, &stderr)
				errOut = stderr.String()
			} else {
				code, _, errOut = chatvault(t, append(tc.args, common...)...)
			}
			if code != exitFailure || !strings.Contains(errOut, "keys/rotations/") || !strings.Contains(errOut, "retired") {
				t.Fatalf("%s on the retired key: exit %d, %s; want 1 naming the key and the rotation statement", tc.name, code, errOut)
			}
			if after := files(); !slices.Equal(before, after) {
				t.Fatalf("%s on the retired key wrote to the store: %v", tc.name, after[len(before):])
			}
		})
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", keyB)
	mustRun(t, sealed, append([]string{"run", "--date", "2026-11-23"}, common...)...)
	mustRun(t, []int{exitOK}, append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-23", "-o", task + ".b"}, common...)...)
	reliability.Record(t, "security", "run, serve or export-task configured with a signing key a keys rotate retired", reliability.Refused,
		"exit 1 at start naming the key and the rotation statement, nothing written to the store; before, serve and export-task signed audit segments with it (verify reported them) and run stored the day's quarantine and failure records before each organization's manifest failed")
}
