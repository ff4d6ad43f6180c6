package archiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// TestSealDirectoryMatchesSeal seals the sample once from the snapshot's bytes and once
// from a Directory loaded as it streamed (what `run` does now), into two stores: every
// object must be the same, the recorded directory SHA-256 that of the bytes.
func TestSealDirectoryMatchesSeal(t *testing.T) {
	a := newFixture(t, sampleLog)
	resA := a.seal(t, sampleDay, archiver.Options{})

	b := newFixture(t, sampleLog)
	dir, err := archiver.LoadDirectory(bytes.NewReader(b.directory))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.directory)
	if dir.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("loaded directory SHA-256 %s, want %x", dir.SHA256, sum)
	}
	s := &archiver.Sealer{Source: b.src, Store: b.store, Chain: ledger.Ledger{Store: b.store}, Options: archiver.Options{Now: fixedClock, Generator: "chatvault test", TempDir: t.TempDir()}}
	resB, err := s.SealDirectory(context.Background(), sampleDay, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if resA.DirectorySHA256 != resB.DirectorySHA256 {
		t.Errorf("directory SHA-256 %s from bytes, %s loaded", resA.DirectorySHA256, resB.DirectorySHA256)
	}
	fa, fb := storeFiles(t, a.storeDir), storeFiles(t, b.storeDir)
	if len(fa) != len(fb) {
		t.Fatalf("%d objects sealed from bytes, %d from the loaded directory", len(fa), len(fb))
	}
	for k, v := range fa {
		if fb[k] != v {
			t.Errorf("%s differs between the two seals", k)
		}
	}
}
