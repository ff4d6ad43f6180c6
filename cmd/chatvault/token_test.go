package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/tokenfile"
	"github.com/chatvault/chatvault/internal/reliability"
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

// TestTokenExpiresOverflow: a lifetime in days is multiplied into a time.Duration, which
// holds at most about 292 years; 213504d used to wrap around into a token expiring within
// the hour. Lifetimes beyond the documented maximum (maxTokenLifetime) are bad usage.
func TestTokenExpiresOverflow(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", path)
	for _, tc := range []struct {
		expires string
		ok      bool
	}{
		{"213504d", false},
		{"106752d", false},
		{"9223372036854775807d", false},
		{"99999999999999999999d", false},
		{"3651d", false},
		{"87601h", false},
		{"2562047h", false},
		{"3650d", true},
		{"87600h", true},
		{"1d", true},
	} {
		t.Run(tc.expires, func(t *testing.T) {
			code, _, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read", "--expires", tc.expires)
			if !tc.ok {
				if code != exitUsage || !strings.Contains(errOut, "--expires") || !strings.Contains(errOut, "3650d") {
					t.Fatalf("exit %d, stderr %q; want %d naming --expires and the maximum", code, errOut, exitUsage)
				}
				return
			}
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}
	// Every token minted expires where it was asked to: never within a day.
	f, err := tokenfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tokens) != 3 {
		t.Fatalf("%d tokens in the file, want the 3 valid ones", len(f.Tokens))
	}
	for _, tok := range f.Tokens {
		if life := tok.Expires.Sub(tok.Created); life < 24*time.Hour || life > 3650*24*time.Hour {
			t.Errorf("token %s lives %s", tok.ID, life)
		}
	}
	reliability.Record(t, "input", "token create --expires 213504d (duration overflow)", reliability.Refused,
		"exit 2: --expires beyond the maximum of 3650d; no token written")
}

// TestTokenConcurrentCreateRevoke: token create and token revoke in separate processes at
// the same time used to lose one another's write (read, modify, rename), so a revoke
// reported success while the token kept working. 20 revokes and 20 creates run at once:
// every revoked token must be gone and every created one present.
func TestTokenConcurrentCreateRevoke(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", path)
	const n = 20
	var revokeSecrets []string
	for range n {
		code, out, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "old")
		if code != exitOK {
			t.Fatalf("create exit %d: %s", code, errOut)
		}
		revokeSecrets = append(revokeSecrets, strings.TrimSpace(out))
	}
	f, err := tokenfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tok := range f.Tokens {
		ids = append(ids, tok.ID)
	}

	type result struct {
		args         []string
		code         int
		out, errText string
	}
	results := make(chan result, 2*n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 * n {
		args := []string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", fmt.Sprintf("new-%d", i/2)}
		if i%2 == 0 {
			args = []string{"token", "revoke", "--id", ids[i/2]}
		}
		wg.Go(func() {
			<-start
			code, out, errText := reexecMain(t, args...)
			results <- result{args, code, out, errText}
		})
	}
	close(start)
	wg.Wait()
	close(results)

	var created []string
	for r := range results {
		if r.code != exitOK {
			t.Errorf("%v: exit %d: %s", r.args, r.code, r.errText)
			continue
		}
		if r.args[1] == "create" {
			created = append(created, strings.TrimSpace(r.out))
		}
	}
	set, err := tokenfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	alive := 0
	for _, s := range revokeSecrets {
		if _, err := set.Lookup(s, now); err == nil {
			alive++
		}
	}
	lost := 0
	for _, s := range created {
		if _, err := set.Lookup(s, now); err != nil {
			lost++
		}
	}
	if alive > 0 || lost > 0 || len(created) != n || set.Len() != n {
		t.Fatalf("%d of %d revoked tokens still work, %d of %d created tokens lost; the file holds %d tokens, want %d",
			alive, n, lost, len(created), set.Len(), n)
	}
	reliability.Record(t, "security", "20 token revokes and 20 creates in concurrent processes", reliability.Refused,
		"writers serialized by a lock file; every revoked token is refused, every created one works")
}

// TestTokenOrgCanonical: token create takes the organization as the seal writes it, the
// UUID's canonical lower-case spelling. uuid.Validate alone also took upper case (as
// .NET and Windows tools print GUIDs), braces, a urn:uuid: prefix: the token was written,
// and every request with it answered "no archive for this organization", its key space
// (orgs/<org>/) being another folder than the organization's.
func TestTokenOrgCanonical(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", path)
	for _, org := range []string{
		strings.ToUpper(acme),
		"{" + acme + "}",
		"urn:uuid:" + acme,
		strings.ReplaceAll(acme, "-", ""),
		" " + acme,
	} {
		t.Run(org, func(t *testing.T) {
			code, out, errOut := chatvault(t, "token", "create", "--org", org, "--scope", "admin:compliance:read")
			if code != exitUsage || out != "" || !strings.Contains(errOut, "is not a UUID") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and no secret", code, out, errOut, exitUsage)
			}
			if f, err := tokenfile.Read(path); err == nil && len(f.Tokens) != 0 {
				t.Fatalf("%d tokens written", len(f.Tokens))
			}
		})
	}
	if code, _, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read"); code != exitOK {
		t.Fatalf("canonical id: exit %d: %s", code, errOut)
	}
	reliability.Record(t, "input", "token create --org in upper case, in braces, with urn:uuid: or without hyphens", reliability.Refused,
		"exit 2: not a UUID in its canonical form (the message names it); no token written (such a token reached another key space than the organization's: every request answered \"no archive for this organization\")")
}
