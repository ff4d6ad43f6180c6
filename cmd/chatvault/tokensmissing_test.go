package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
