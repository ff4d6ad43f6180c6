package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenCreateListRevoke(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", path)

	code, out, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery", "--expires", "90d")
	if code != exitOK {
		t.Fatalf("create exit %d: %s", code, errOut)
	}
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, "cvt_") {
		t.Fatalf("create printed %q", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Fatal("tokens file holds the secret")
	}
	code, out, _ = chatvault(t, "token", "list")
	if code != exitOK || !strings.Contains(out, "ediscovery") || !strings.Contains(out, acme) {
		t.Fatalf("list exit %d:\n%s", code, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	if code, _, errOut := chatvault(t, "token", "revoke", "--id", id); code != exitOK {
		t.Fatalf("revoke exit %d: %s", code, errOut)
	}
	if _, out, _ = chatvault(t, "token", "list"); strings.Contains(out, id) {
		t.Fatalf("revoked token still listed:\n%s", out)
	}

	for _, args := range [][]string{
		{"token"},
		{"token", "create", "--org", acme},
		{"token", "create", "--org", "acme", "--scope", "admin:compliance:read"},
		{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--expires", "soon"},
		{"token", "revoke", "--id", "nope-nope"},
		{"token", "frobnicate"},
	} {
		if code, _, _ := chatvault(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
