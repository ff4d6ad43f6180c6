package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRetiredKeyAfterRotation: the signing key A was rotated to B after a suspected
// compromise; whoever stole A (and can write to the store) appends to each organization's
// chain a manifest signed by A, after the rotation. The chains are still signed by A at
// their heads (no seal with B yet), so no change of key shows. The rotation statement,
// signed by both keys, fixes each organization's chain head when it was made: A may sign
// up to there and never after, so verify reports every manifest the thief appended, and
// still accepts what A signed before.
func TestRetiredKeyAfterRotation(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a := sealDays(t, newFSStore(t, root), root, 3, 2)
	// The thief's copy of the store, taken before the rotation: what it seals there
	// with A is what it plants in the store afterwards (the writer, which knows the
	// statement, would refuse to seal with A: a thief writes the objects itself).
	thief := t.TempDir()
	if err := os.CopyFS(thief, os.DirFS(a.root)); err != nil {
		t.Fatal(err)
	}
	_, newKey, _ := ed25519.GenerateKey(rand.Reader)
	l := ledger.Ledger{Store: a.store}
	if _, err := l.RecordRotation(ctx, a.key, newKey, "suspected compromise", a.next.Start(), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	trusted := []ed25519.PublicKey{a.pub(), newKey.Public().(ed25519.PublicKey)}
	verifyAll := func() *Report {
		t.Helper()
		rep, err := Run(ctx, l, Options{TrustedKeys: trusted, Directory: a.dir})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verifyAll(); !rep.OK() {
		t.Fatalf("after the rotation, before the thief: %q", rep.Problems)
	}
	ta := &archive{store: newFSStore(t, thief), root: thief, dir: a.dir, dirBytes: a.dirBytes, src: a.src, key: a.key, next: a.next}
	ta.sealNext(t)
	var planted []string
	if err := filepath.WalkDir(thief, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(thief, p)
		dst := filepath.Join(a.root, rel)
		if _, err := os.Stat(dst); err == nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		// The thief's accounting object, naming those manifests, is signed past the
		// heads too (TestRetiredKeySignsNothingElse).
		if strings.Contains(rel, "manifests") || strings.Contains(rel, "/d/") || strings.HasPrefix(filepath.ToSlash(rel), "accounting/") {
			planted = append(planted, filepath.ToSlash(rel))
		}
		return os.WriteFile(dst, b, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if len(planted) == 0 {
		t.Fatal("the thief's seal wrote no manifest")
	}
	rep := verifyAll()
	var retired []string
	for _, p := range rep.Problems {
		if strings.Contains(p, "retired") {
			retired = append(retired, p)
		}
	}
	// One problem per planted manifest (and accounting object), naming it; nothing A
	// signed before the rotation.
	if len(retired) != len(planted) || len(rep.Problems) != len(planted) {
		t.Fatalf("problems naming the retired key: %q (all problems %q); want one per planted manifest %q", retired, rep.Problems, planted)
	}
	for _, k := range planted {
		if !slices.ContainsFunc(retired, func(p string) bool { return strings.HasPrefix(p, k+":") }) {
			t.Errorf("planted %s not reported: %q", k, retired)
		}
	}
	reliability.Record(t, "security", "stolen retired signing key signs a manifest appended after the rotation", reliability.CleanFailure,
		"verify exit 1: the rotation statement (signed by both keys) fixes each organization's chain head when it was made; the old key signs nothing after it")
}
