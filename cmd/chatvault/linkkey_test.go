package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLinkKeyFromConfig: the key that signs download links comes from exports.linkKeyFile
// and never from the store it protects (whoever could read the store could otherwise mint
// links to any result). Links survive a restart with the same file; without the key,
// serve signs with a key of its own process and stores nothing either.
func TestLinkKeyFromConfig(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	eventlog, orgs := taskArchive(t, store)
	org := orgs[0]
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(dir, "links.key")
	writeFile(t, keyFile, key)
	for k, v := range map[string]string{
		"CHATVAULT_AUTH_TOKENSFILE":  filepath.Join(dir, "tokens.json"),
		"CHATVAULT_HTTP_ADDR":        "127.0.0.1:0",
		"CHATVAULT_SCHEDULE_ENABLED": "false",
		"CHATVAULT_HTTP_TOKENRATE":   "0",
		"CHATVAULT_HTTP_CLIENTRATE":  "0",
		"CHATVAULT_EXPORT_TEMPDIR":   t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	tok := mint(t, common, org, "investigator")
	clock := scheduler.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	keysInStore := func() {
		t.Helper()
		if _, err := os.Stat(filepath.Join(store, "keys", "export-task-links.key")); err == nil {
			t.Fatal("the store holds keys/export-task-links.key: the link key was put beside what it protects")
		}
	}

	// Without exports.linkKeyFile: links work while the process lives; nothing is stored.
	x := startTaskServer(t, common, clock, nil)
	id := x.create(tok, `{"from":"2026-11-20","to":"2026-11-20","format":"jsonl"}`)
	if s := <-x.done; s != exporttask.StateCompleted {
		t.Fatalf("task ended %s", s)
	}
	ephemeral := x.status(tok, id)
	if resp, _ := x.do("GET", ephemeral.URL, "", ""); resp.StatusCode != 200 {
		t.Fatalf("download with the process's own key: %d", resp.StatusCode)
	}
	x.stop()
	keysInStore()

	// With it: the file's key signs, and a link outlives the process that made it.
	t.Setenv("CHATVAULT_EXPORTS_LINKKEYFILE", keyFile)
	x = startTaskServer(t, common, clock, nil)
	st := x.status(tok, id)
	u, err := url.Parse(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := (exporttask.Links{Key: key, Expiry: 24 * time.Hour}).Check(id, u.Query(), clock.Now()); err != nil || got != org {
		t.Fatalf("the link is not signed with exports.linkKeyFile's key: %q %v", got, err)
	}
	resp, b := x.do("GET", ephemeral.URL, "", "")
	wantError(t, resp, b, 403, "invalid_link")
	x.stop()
	x = startTaskServer(t, common, clock, nil)
	if resp, _ := x.do("GET", st.URL, "", ""); resp.StatusCode != 200 {
		t.Fatalf("a link after a restart with the same key file: %d", resp.StatusCode)
	}
	x.stop()
	keysInStore()

	// A key file that is too short, missing or empty stops serve at start.
	short := filepath.Join(dir, "short.key")
	writeFile(t, short, []byte("secret\n"))
	for _, f := range []string{short, filepath.Join(dir, "missing.key")} {
		t.Setenv("CHATVAULT_EXPORTS_LINKKEYFILE", f)
		code, _, errOut := serveMustFail(t, common...)
		if code != exitUsage || !strings.Contains(errOut, "exports.linkKeyFile") {
			t.Fatalf("serve with link key %s: exit %d %s; want %d naming exports.linkKeyFile", f, code, errOut, exitUsage)
		}
	}
	reliability.Record(t, "security", "export task link key kept in the store it protects", reliability.Refused,
		"read from exports.linkKeyFile (32+ bytes) only; a short or missing file is exit 2; no key object in the store")
}

// TestEmailNeedsBaseURL: without exports.baseURL, links are relative (never built from a
// request's Host header), which a mail cannot carry; serve with a relay and no base URL
// is a configuration error at start, not a 400 on every e-mail task later.
func TestEmailNeedsBaseURL(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"CHATVAULT_AUTH_TOKENSFILE":  filepath.Join(dir, "tokens.json"),
		"CHATVAULT_HTTP_ADDR":        "127.0.0.1:0",
		"CHATVAULT_SMTP_HOST":        "127.0.0.1",
		"CHATVAULT_SMTP_FROM":        "archive@acme.example",
		"CHATVAULT_STORE":            t.TempDir(),
		"CHATVAULT_SCHEDULE_ENABLED": "false",
	} {
		t.Setenv(k, v)
	}
	writeFile(t, filepath.Join(dir, "tokens.json"), []byte(`{"tokens":[]}`))
	code, _, errOut := serveMustFail(t, "--eventlog", "../../testdata/eventlog")
	if code != exitUsage || !strings.Contains(errOut, "exports.baseURL") {
		t.Fatalf("serve: exit %d %s; want %d naming exports.baseURL", code, errOut, exitUsage)
	}
	reliability.Record(t, "security", "e-mail delivery configured without exports.baseURL", reliability.Refused,
		"serve exits 2 at start naming exports.baseURL; links never take the request's Host")
}

// serveMustFail runs serve, which should refuse to start. Should it start after all, it
// is stopped after a while (a safety net, not a timing assumption: the test then fails
// on its exit code).
func serveMustFail(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, append([]string{"serve"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
