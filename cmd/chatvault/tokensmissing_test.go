package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeWarnsOfAMissingTokensFile: auth.tokensFile naming a file that does not exist
// (a typo: token.json for tokens.json) started serve with no token and only
// "tokens=0" at INFO: every request got 401 while /readyz said 200, and the tokens the
// operator minted into the right file were never read. serve still starts (the file may
// be created later and is reloaded), but warns, naming the file.
func TestServeWarnsOfAMissingTokensFile(t *testing.T) {
	cleanEnv(t)
	missing := filepath.Join(t.TempDir(), "token.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", missing)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_VERIFY_INTERVAL", "0s")
	srv := startServe(t, "--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json")
	srv.stop()
	if !strings.Contains(srv.logs.String(), `"level":"WARN","msg":"auth.tokensFile does not exist: no request is authorized until it is created (chatvault token create)","file":"`+missing+`"`) {
		t.Fatalf("no warning names the missing tokens file:\n%s", srv.logs)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("serve created the tokens file")
	}
	reliability.Record(t, "operations", "serve started with auth.tokensFile naming a file that does not exist (a typo)", reliability.Kept,
		"serve starts (the file may come later and is reloaded) and warns naming the file; it logged only tokens=0 at INFO while every request got 401")
}

// TestTokenListWarnsOfAMissingTokensFile: `token list` on a tokens file that does not
// exist (a typo, or a relative CHATVAULT_AUTH_TOKENSFILE=./tokens.json run from another
// folder) printed an empty table and exited 0, as if no token had been minted; serve warns
// of the same file. list still exits 0 (a new install has no file yet), but warns, naming
// the file by its absolute path, and creates nothing.
func TestTokenListWarnsOfAMissingTokensFile(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", "./tokens.json")
	code, out, errOut := chatvault(t, "token", "list", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	want := filepath.Join(dir, "tokens.json")
	rec := findRecord(logRecords(t, errOut), "auth.tokensFile does not exist: no token was created in it (a mistyped path, or a relative one from another folder?)", "file", want)
	if rec == nil || rec["level"] != "WARN" {
		t.Fatalf("no warning names %s:\n%s", want, errOut)
	}
	if _, err := os.Stat(want); err == nil {
		t.Fatal("token list created the tokens file")
	}
	// A file that exists gives no warning.
	if code, _, _ := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read"); code != exitOK {
		t.Fatalf("token create: exit %d", code)
	}
	if _, _, errOut := chatvault(t, "token", "list", "--log-format", "json"); strings.Contains(errOut, "does not exist") {
		t.Fatalf("warning for a tokens file that exists:\n%s", errOut)
	}
	reliability.Record(t, "operations", "token list with auth.tokensFile naming a file that does not exist (a typo, a relative path from another folder)", reliability.Kept,
		"an empty list, exit 0, and a warning naming the file's absolute path; it printed the empty list alone")
}

// TestTokenCreatedNeverExpiresLogged: a token created without --expires never expires
// (token list says "never"), but its "token created" record said
// "expires":"0001-01-01T00:00:00Z", a token that expired two thousand years ago.
func TestTokenCreatedNeverExpiresLogged(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	code, out, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if findRecord(logRecords(t, errOut), "token created", "expires", "never") == nil {
		t.Fatalf(`no "token created" record with "expires":"never":%s`, errOut)
	}
	_, _, errOut = chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read", "--expires", "1d", "--log-format", "json")
	rec := findRecord(logRecords(t, errOut), "token created")
	if rec == nil {
		t.Fatalf("no token created record:\n%s", errOut)
	}
	if exp, err := time.Parse(time.RFC3339, jsonString(rec["expires"])); err != nil || time.Until(exp) < 23*time.Hour {
		t.Fatalf("expires %v of a one-day token (%v)", rec["expires"], err)
	}
}
