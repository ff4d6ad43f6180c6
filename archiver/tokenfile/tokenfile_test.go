package tokenfile

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

const org = "0b5e1c1e-3a51-4d2b-9a44-1f2d3c4b5a69"

func TestMintWriteLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	secret, tok, err := f.Mint(rand.Reader, org, "ediscovery", []string{archiver.ScopeComplianceRead}, now, 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	short, _, err := f.Mint(rand.Reader, org, "short", []string{archiver.ScopeComplianceRead}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, Prefix) || len(secret) < len(Prefix)+43 {
		t.Fatalf("secret %q: want cvt_ and 32 random bytes", secret)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), secret) {
		t.Fatal("the file holds the secret")
	}

	set, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret string
		at     time.Time
		ok     bool
	}{
		{"valid", secret, now, true},
		{"valid until expiry", secret, now.Add(90*24*time.Hour - time.Second), true},
		{"expired", short, now.Add(time.Hour), false},
		{"no prefix", strings.TrimPrefix(secret, Prefix), now, false},
		{"unknown", Prefix + "AAAA", now, false},
		{"empty", "", now, false},
		{"oversized", Prefix + strings.Repeat("a", 300), now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := set.Lookup(tt.secret, tt.at)
			if tt.ok {
				if err != nil || got.ID != tok.ID || got.Org != org {
					t.Fatalf("Lookup = %+v, %v; want %s", got, err, tok.ID)
				}
				return
			}
			if !errors.Is(err, archiver.ErrInvalidToken) {
				t.Fatalf("Lookup err = %v, want ErrInvalidToken", err)
			}
		})
	}

	// Revoke, write, and the reloaded set refuses the token.
	if set.Changed() {
		t.Fatal("Changed before any change")
	}
	if _, err := f.Revoke(tok.ID[:8]); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	if !set.Changed() {
		t.Fatal("Changed missed the rewrite")
	}
	if err := set.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Lookup(secret, now); !errors.Is(err, archiver.ErrInvalidToken) {
		t.Fatalf("revoked token: err = %v", err)
	}
}

func TestMintRefuses(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name, org string
		scopes    []string
	}{
		{"org not uuid", "acme", []string{archiver.ScopeComplianceRead}},
		{"no scope", org, nil},
		{"unknown scope", org, []string{"admin:everything"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f File
			if _, _, err := f.Mint(rand.Reader, tt.org, "", tt.scopes, now, 0); err == nil {
				t.Fatal("Mint succeeded")
			}
			if len(f.Tokens) != 0 {
				t.Fatal("a refused token was added")
			}
		})
	}
}

func TestReloadKeepsTokensOnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var f File
	secret, _, err := f.Mint(rand.Reader, org, "", []string{archiver.ScopeComplianceRead}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	set, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := set.Reload(); err == nil {
		t.Fatal("Reload accepted a broken file")
	}
	if _, err := set.Lookup(secret, time.Now()); err != nil {
		t.Fatalf("previous tokens dropped: %v", err)
	}
}
