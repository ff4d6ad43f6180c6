package archiver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRunRefusesARetiredKey: the key was rotated from A to B and B signed the chain's
// head; a run still signing with A (a replica or cron job not switched yet, or one started
// before the rotation) must not append a manifest signed by A: the change back from B to A
// has no statement, and verify would report the chain for good. The day fails, nothing is
// committed, and the run on B commits it.
func TestRunRefusesARetiredKey(t *testing.T) {
	f, l, a, b, logDir := rotatedWithALateRecord(t, "yearly")
	if r := byName(f.sealDay(t, "", archiver.Options{SigningKey: b}))["Acme"]; r.Err != nil {
		t.Fatalf("run on the new key: %v", r.Err)
	}
	editPartition(t, logDir, func(string) bool { return true }, strings.Replace(lateRecord, "m-late", "m-later", 1))
	r := byName(f.sealDay(t, "", archiver.Options{SigningKey: a}))["Acme"]
	if r.Outcome != archiver.OutcomeFailed || r.Err == nil || !strings.Contains(r.Err.Error(), "rotated") {
		t.Fatalf("run on the retired key: outcome %s, error %v; want failed naming the rotation", r.Outcome, r.Err)
	}
	if r := byName(f.sealDay(t, "", archiver.Options{SigningKey: b}))["Acme"]; r.Err != nil || r.Revision != 3 {
		t.Fatalf("run on the new key after the refusal: revision %d, %v", r.Revision, r.Err)
	}
	verifyBothKeys(t, l, a, b)
	reliability.Record(t, "security", "run signing with a key already rotated away, on a chain the new key signs", reliability.CleanFailure,
		"the organization's day fails naming the rotation statement, nothing committed: the chain never changes back to the retired key")
}

// TestRunOnAKeyRotatedBackTo: A was rotated to B, then B back to A: a run on A after B
// signed the head commits, since a statement accounts for the change.
func TestRunOnAKeyRotatedBackTo(t *testing.T) {
	f, l, a, b, logDir := rotatedWithALateRecord(t, "yearly")
	if r := byName(f.sealDay(t, "", archiver.Options{SigningKey: b}))["Acme"]; r.Err != nil {
		t.Fatalf("run on the new key: %v", r.Err)
	}
	if _, err := l.RecordRotation(context.Background(), b, a, "back", time.Now(), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	editPartition(t, logDir, func(string) bool { return true }, strings.Replace(lateRecord, "m-late", "m-later", 1))
	if r := byName(f.sealDay(t, "", archiver.Options{SigningKey: a}))["Acme"]; r.Err != nil || r.Revision != 3 {
		t.Fatalf("run on the key rotated back to: revision %d, %v", r.Revision, r.Err)
	}
	verifyBothKeys(t, l, a, b)
}

// TestRunRefusesARetiredKeyOnItsOwnChain: the key was rotated from A to B and no run on B
// has sealed yet, so the chain's head is still A's. A run still signing with A must not
// append to it: the statement fixed the chain's head when it was made, and verify reports
// a manifest A signs after it (what a thief of A would write). The day fails naming the
// statement, nothing is committed, and the run on B commits it; verify finds nothing.
func TestRunRefusesARetiredKeyOnItsOwnChain(t *testing.T) {
	f, l, a, b, _ := rotatedWithALateRecord(t, "suspected compromise")
	r := byName(f.sealDay(t, "", archiver.Options{SigningKey: a}))["Acme"]
	if r.Outcome != archiver.OutcomeFailed || r.Err == nil || !strings.Contains(r.Err.Error(), "rotated away") {
		t.Fatalf("run on the retired key: outcome %s, error %v; want failed naming the rotation", r.Outcome, r.Err)
	}
	if r := byName(f.sealDay(t, "", archiver.Options{SigningKey: b}))["Acme"]; r.Err != nil || r.Revision != 2 {
		t.Fatalf("run on the new key after the refusal: revision %d, %v", r.Revision, r.Err)
	}
	verifyBothKeys(t, l, a, b)
	reliability.Record(t, "security", "run signing with a key already rotated away, on a chain it still signs", reliability.CleanFailure,
		"the organization's day fails naming the rotation statement, nothing committed: the old key signs nothing past the chain heads its statement fixed")
}

// rotatedWithALateRecord seals the sample day signed by a key A, records a rotation from A
// to a key B for reason, and adds a late record to the day's partition, so that the day's
// next run has something to commit (in the partition under logDir).
func rotatedWithALateRecord(t *testing.T, reason string) (f *fixture, l ledger.Ledger, a, b ed25519.PrivateKey, logDir string) {
	t.Helper()
	newKey := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	logDir = copyLog(t)
	f = newFixture(t, logDir)
	a, b = newKey(), newKey()
	f.seal(t, sampleDay, archiver.Options{SigningKey: a})
	l = ledger.Ledger{Store: f.store}
	if _, err := l.RecordRotation(context.Background(), a, b, reason, time.Now(), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	editPartition(t, logDir, func(string) bool { return true }, lateRecord)
	return f, l, a, b, logDir
}

// verifyBothKeys runs verify over l trusting a and b, and fails the test on any problem.
func verifyBothKeys(t *testing.T, l ledger.Ledger, a, b ed25519.PrivateKey) {
	t.Helper()
	rep, err := verify.Run(context.Background(), l, verify.Options{TrustedKeys: []ed25519.PublicKey{a.Public().(ed25519.PublicKey), b.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
}
