package archiver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// TestAccountingVerified seals the sample day with a signing key and checks the day-level
// accounting object verify walks: its quarantine object, the manifests it lists, its own
// bytes and signature. A rerun that changes nothing writes no second one.
func TestAccountingVerified(t *testing.T) {
	f := newFixture(t, sampleLog)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	res := f.seal(t, sampleDay, archiver.Options{SigningKey: key})
	if res.Accounting == "" || res.Quarantine == nil {
		t.Fatalf("accounting %q, quarantine %v", res.Accounting, res.Quarantine)
	}
	if again := f.seal(t, sampleDay, archiver.Options{SigningKey: key}); again.Accounting != "" {
		t.Errorf("an unchanged rerun wrote accounting %s", again.Accounting)
	}
	ledger := archiver.Ledger{Store: f.store}
	pub := key.Public().(ed25519.PublicKey)
	verify := func() *archiver.VerifyReport {
		t.Helper()
		rep, err := ledger.Verify(context.Background(), archiver.VerifyOptions{TrustedKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(); !rep.OK() {
		t.Fatalf("untouched store: %v", rep.Problems)
	}
	path := func(key string) string { return filepath.Join(f.storeDir, filepath.FromSlash(key)) }
	accPath := path(res.Accounting)
	acc, err := os.ReadFile(accPath)
	if err != nil {
		t.Fatal(err)
	}
	quarantine, err := os.ReadFile(path(res.Quarantine.Key))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(acc, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["signature"] == nil || len(doc["manifests"].([]any)) != 2 {
		t.Fatalf("accounting object: %s", acc)
	}

	for _, tt := range []struct {
		name   string
		tamper func()
		want   string
	}{
		{"quarantine object deleted", func() { os.Remove(path(res.Quarantine.Key)) }, res.Quarantine.Key},
		{"accounting object rewritten", func() {
			writeFile(t, accPath, []byte(strings.Replace(string(acc), `"read": 29`, `"read": 30`, 1)))
		}, "not to the SHA-256 in its name"},
		{"accounting object in a wrong folder", func() {
			other := strings.Replace(accPath, sampleDay.String(), "2026-11-21", 1)
			os.MkdirAll(filepath.Dir(other), 0o755)
			writeFile(t, other, acc)
		}, "accounting of 2026-11-22 under the day 2026-11-21"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.tamper()
			defer func() {
				os.RemoveAll(filepath.Join(f.storeDir, "accounting", "2026-11-21"))
				writeFile(t, accPath, acc)
				writeFile(t, path(res.Quarantine.Key), quarantine)
			}()
			rep := verify()
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("verify does not report %q; problems: %v", tt.want, rep.Problems)
			}
		})
	}
}
