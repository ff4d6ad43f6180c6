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
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestNearMissSecretsRefused: a guesser who has all but one character right gets nothing
// more than one who has none. Timing is not measured (it never decides a test); what makes
// timing useless is structural and checked here: the set keeps only SHA-256 digests, so
// the only comparison a presented secret reaches is the map's, of its digest, and a digest
// sharing a prefix with a stored one says nothing about the secret.
func TestNearMissSecretsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var f File
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	secret, _, err := f.Mint(rand.Reader, org, "", []string{archiver.ScopeComplianceRead}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), strings.TrimPrefix(secret, Prefix)) {
		t.Fatal("the tokens file holds the secret")
	}
	set, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(Prefix); i < len(secret); i++ {
		c := byte('A')
		if secret[i] == c {
			c = 'B'
		}
		guess := secret[:i] + string(c) + secret[i+1:]
		if _, err := set.Lookup(guess, now); !errors.Is(err, archiver.ErrInvalidToken) {
			t.Fatalf("secret with character %d changed: %v, want ErrInvalidToken", i, err)
		}
	}
	for _, guess := range []string{secret + "x", secret[:len(secret)-1], strings.ToUpper(secret), " " + secret} {
		if _, err := set.Lookup(guess, now); !errors.Is(err, archiver.ErrInvalidToken) {
			t.Fatalf("Lookup(%q): %v, want ErrInvalidToken", guess, err)
		}
	}
	if _, err := set.Lookup(secret, now); err != nil {
		t.Fatalf("the real secret: %v", err)
	}
	reliability.Record(t, "security", "token guessed character by character (timing)", reliability.Refused,
		"lookup by SHA-256 map key, no secret compared; every near miss is invalid_token")
}

// TestReloadRefusesForeignOrganization: a hand-edited tokens file whose organization is not
// a UUID (it would become part of store keys: orgs/<org>/…) is refused as a whole, and the
// previous tokens stay in force.
func TestReloadRefusesForeignOrganization(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var f File
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	secret, _, err := f.Mint(rand.Reader, org, "", []string{archiver.ScopeComplianceRead}, now, 0)
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
	for _, bad := range []string{"../../etc", org + "/../" + org, "", "a/b", org + "\x00"} {
		evil := f
		evil.Tokens = []archiver.Token{f.Tokens[0]}
		evil.Tokens[0].Org = bad
		if err := evil.Write(path); err != nil {
			t.Fatal(err)
		}
		if err := set.Reload(); err == nil || !strings.Contains(err.Error(), "organization is not a UUID") {
			t.Fatalf("org %q: Reload = %v, want a refusal", bad, err)
		}
		tok, err := set.Lookup(secret, now)
		if err != nil || tok.Org != org {
			t.Fatalf("org %q: previous token lost: %+v %v", bad, tok, err)
		}
	}
	reliability.Record(t, "security", "tokens file with organization ../ or a/b (hand-edited)", reliability.Refused,
		"reload refused: organization is not a UUID; previous tokens kept")
}
