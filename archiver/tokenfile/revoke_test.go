package tokenfile

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRevokeConfirmsItsResult: a writer that ignores the lock (a hand edit, a host without
// flock) can put a revoked token back right after the revocation is written. RevokeFile
// reads the file again and fails, rather than reporting a revocation that did not hold.
func TestRevokeConfirmsItsResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var f File
	secret, tok, err := f.Mint(rand.Reader, "0a1c2e3f-0000-4000-8000-00000000aaaa", "n", []string{"admin:compliance:read"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	afterRevokeWrite = func(p string) {
		if err := os.WriteFile(p, before, 0o600); err != nil { // the stale writer's rename
			t.Error(err)
		}
	}
	defer func() { afterRevokeWrite = nil }()
	_, err = RevokeFile(path, tok.ID)
	if err == nil || !strings.Contains(err.Error(), "NOT revoked") {
		t.Fatalf("RevokeFile = %v, want an error saying the token was not revoked", err)
	}
	set, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Lookup(secret, time.Now()); err != nil {
		t.Fatalf("the test's stale writer did not restore the token: %v", err)
	}

	// Without interference, the revocation holds and is confirmed.
	afterRevokeWrite = nil
	if _, err := RevokeFile(path, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := set.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Lookup(secret, time.Now()); err == nil {
		t.Fatal("revoked token still accepted")
	}
	reliability.Record(t, "security", "token revocation undone by a writer that ignores the lock", reliability.CleanFailure,
		"token revoke re-reads the file and exits 1: the token was NOT revoked")
}
