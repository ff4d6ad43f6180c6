package verify

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestVerifyDateReadsOnlyTheDay: verify --date D reads day D's objects and the chain link
// of its manifests (the previous manifest by key), not every manifest of the store: the
// requests are the same on a store of 3 days and of 9.
func TestVerifyDateReadsOnlyTheDay(t *testing.T) {
	ctx := context.Background()
	measure := func(n int) (requests, *Report) {
		a := newArchive(t, n)
		c := count(a.store)
		d := a.days[1] // a day with a day before it and one after
		rep, err := Run(ctx, ledger.Ledger{Store: c}, Options{From: d, To: d, TrustedKey: a.pub(), Directory: a.dir})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Manifests == 0 {
			t.Fatalf("%d days: problems %q, %d manifests", n, rep.Problems, rep.Manifests)
		}
		return c.requests(), rep
	}
	small, smallRep := measure(3)
	large, largeRep := measure(9)
	t.Logf("verify --date on 3 days: %+v, %d manifests; on 9 days: %+v, %d manifests", small, smallRep.Manifests, large, largeRep.Manifests)
	if large != small {
		t.Fatalf("verify --date made %+v requests on a store of 9 days, %+v on one of 3: it grows with the history", large, small)
	}
	if largeRep.Manifests != smallRep.Manifests || largeRep.Objects != smallRep.Objects {
		t.Fatalf("verify --date checked %d manifests, %d objects on 9 days, %d, %d on 3", largeRep.Manifests, largeRep.Objects, smallRep.Manifests, smallRep.Objects)
	}
	reliability.Record(t, "operations", "verify --date D on a store of many days", reliability.Kept,
		"reads only day D's objects and the previous manifest of each of its manifests: the same requests whatever the history")
}

// TestVerifyDateFindsTampering: a verification of one day still finds what was done to
// that day: a changed export, a rewritten link to the day before, a deleted chain entry,
// an organization's day folder removed.
func TestVerifyDateFindsTampering(t *testing.T) {
	const acme = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	tests := []struct {
		name   string
		tamper func(t *testing.T, a *archive, d archiver.Day)
		want   string
	}{
		{"export changed", func(t *testing.T, a *archive, d archiver.Day) {
			rewrite(t, a.root, findKey(t, a.root, archiver.DayPrefix(acme, d)+"events-"), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}, "events-"},
		{"the manifest before rewritten", func(t *testing.T, a *archive, d archiver.Day) {
			m := readManifest(t, a, archiver.DayPrefix(acme, d)+"r0001.json")
			rewrite(t, a.root, archiver.ChainKey(acme, m.Seq-1), func(b []byte) []byte { return append(b, ' ') })
		}, "previous is"},
		{"chain entry deleted", func(t *testing.T, a *archive, d archiver.Day) {
			m := readManifest(t, a, archiver.DayPrefix(acme, d)+"r0001.json")
			remove(t, a.root, archiver.ChainKey(acme, m.Seq))
		}, "chain entry"},
		{"day folder deleted", func(t *testing.T, a *archive, d archiver.Day) {
			remove(t, a.root, archiver.DayPrefix(acme, d))
		}, "organization " + acme + " (Acme): no committed manifest for " + "2026-11-02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newArchive(t, 3)
			d := a.days[1]
			tt.tamper(t, a, d)
			rep, err := Run(context.Background(), ledger.Ledger{Store: a.store}, Options{From: d, To: d, TrustedKey: a.pub(), Directory: a.dir})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q, want one with %q", rep.Problems, tt.want)
			}
		})
	}
	reliability.Record(t, "fault", "verify --date D on a day whose export, link to the day before, chain entry or folder was changed", reliability.CleanFailure,
		"verify reads only day D's objects and the manifest before each of its manifests, and reports each change as a problem")
}

func readManifest(t *testing.T, a *archive, key string) *archiver.StoredManifest {
	t.Helper()
	m, err := ledger.Ledger{Store: a.store}.ReadManifest(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// findKey returns the one key under root that begins with prefix.
func findKey(t *testing.T, root, prefix string) string {
	t.Helper()
	dir, base := path.Split(prefix)
	entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base) {
			return dir + e.Name()
		}
	}
	t.Fatalf("no key %s*", prefix)
	return ""
}

func rewrite(t *testing.T, root, key string, fn func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(key))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, root, key string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(key, "/")))
	filepath.WalkDir(p, func(q string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	os.Chmod(filepath.Dir(p), 0o700)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}
