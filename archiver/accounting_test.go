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
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
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
	lg := ledger.Ledger{Store: f.store}
	pub := key.Public().(ed25519.PublicKey)
	verifyNow := func() *verify.Report {
		t.Helper()
		rep, err := verify.Run(context.Background(), lg, verify.Options{TrustedKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verifyNow(); !rep.OK() {
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
			rep := verifyNow()
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("verify does not report %q; problems: %v", tt.want, rep.Problems)
			}
		})
	}
}

// TestRerunAccountsForNewQuarantine reruns a sealed day whose partition changed only in
// lines that are no record (a bad line added or gone): every organization is unchanged,
// but the rerun's quarantine object differs from the one the day's accounting names. It
// must be named by a new accounting object (signed, verified), or the bad line delivered
// late sits in an object nothing records and nothing verifies.
func TestRerunAccountsForNewQuarantine(t *testing.T) {
	tests := []struct {
		name string
		keep func(line string) bool
		add  []string
	}{
		{"a bad line added", func(string) bool { return true }, []string{`{"eventType":"sent","broken`}},
		{"two bad lines added", func(string) bool { return true }, []string{`not json at all`, `{"eventType":"sent"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := copyLog(t)
			f := newFixture(t, logDir)
			_, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			first := f.seal(t, sampleDay, archiver.Options{SigningKey: key})
			editPartition(t, logDir, tt.keep, tt.add...)
			again := f.sealDay(t, "", archiver.Options{SigningKey: key})
			for _, o := range again.Orgs {
				if o.Outcome != archiver.OutcomeUnchanged {
					t.Fatalf("%s: outcome %s, want unchanged (only bad lines changed)", o.Name, o.Outcome)
				}
			}
			if again.Quarantine == nil || first.Quarantine != nil && again.Quarantine.Key == first.Quarantine.Key {
				t.Fatalf("the rerun's quarantine %v is the first run's %v: the test changes nothing", again.Quarantine, first.Quarantine)
			}
			if again.Accounting == "" {
				t.Fatalf("the rerun quarantined into %s but wrote no accounting object naming it", again.Quarantine.Key)
			}
			lg := ledger.Ledger{Store: f.store}
			var named bool
			if err := lg.Accountings(context.Background(), sampleDay, func(a *archiver.StoredAccounting) error {
				if a.Key == again.Accounting {
					named = a.Quarantine != nil && a.Quarantine.Key == again.Quarantine.Key && len(a.Manifests) == len(again.Orgs)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !named {
				t.Errorf("accounting object %s does not name quarantine %s and the day's manifests", again.Accounting, again.Quarantine.Key)
			}
			rep, err := verify.Run(context.Background(), lg, verify.Options{TrustedKey: key.Public().(ed25519.PublicKey)})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("verify: %v", rep.Problems)
			}
		})
	}
	reliability.Record(t, "input", "bad lines added to a sealed day's partition, records unchanged", reliability.Recovered,
		"the rerun's quarantine object is named by a new signed accounting object, verified")
}

// TestVerifyFindsDeletedOlderAccounting deletes the first of a day's two accounting
// objects (the second written by a rerun whose partition gained a bad line, and naming
// every manifest of the day again): the manifests are all still named, so only the
// objects' numbers show that the first one, and with it the record of the first run's
// quarantine, is gone.
func TestVerifyFindsDeletedOlderAccounting(t *testing.T) {
	logDir := copyLog(t)
	f := newFixture(t, logDir)
	first := f.seal(t, sampleDay, archiver.Options{})
	editPartition(t, logDir, func(string) bool { return true }, `not json at all`)
	again := f.sealDay(t, "", archiver.Options{})
	if first.Accounting == "" || again.Accounting == "" {
		t.Fatalf("accounting objects %q and %q, want two", first.Accounting, again.Accounting)
	}
	path := filepath.Join(f.storeDir, filepath.FromSlash(first.Accounting))
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	rep := verifyStore(t, f)
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "accounting objects are numbered") {
		t.Fatalf("verify after deleting %s: %v", first.Accounting, rep.Problems)
	}
	reliability.Record(t, "security", "an older accounting object of a day deleted, a later one naming the same manifests", reliability.CleanFailure,
		"verify exit 1: the day's accounting objects are numbered 1, 2, … without a gap")
}

// TestVerifyWalksSealedAt: Verify itself checks every manifest's sealedAt against its
// day (see TestVerifySealedBeforeDayEnded for the cases): a version 2 manifest rewritten
// to say it was sealed during its day is reported.
func TestVerifyWalksSealedAt(t *testing.T) {
	f := newFixture(t, sampleLog)
	f.seal(t, sampleDay, archiver.Options{Layout: archiver.Layout2})
	for _, p := range []string{
		filepath.Join(f.storeDir, "orgs", acme, "manifests", "000000000001.json"),
		filepath.Join(f.storeDir, "orgs", acme, "days", sampleDay.String(), "r0001.json"),
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.Replace(string(b), `"sealedAt": "2026-11-23T00:30:00Z"`, `"sealedAt": "2026-11-22T21:00:00Z"`, 1))
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, b)
	}
	rep := verifyStore(t, f)
	if !strings.Contains(strings.Join(rep.Problems, "\n"), "sealed at 2026-11-22T21:00:00Z, before its day ended") {
		t.Fatalf("verify: %q", rep.Problems)
	}
}
