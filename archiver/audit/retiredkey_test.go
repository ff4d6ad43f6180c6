package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditRefusesARetiredKey: serve runs on key A, and keys rotate records a statement
// from A to B while it does (serve is restarted on B after). Verify accepts A's segments
// whose records are at most archiver.RetiredSkew after the statement (two hosts' clocks),
// and reports later ones as signed by a retired key, for good. Before, the writer signed
// them all. With RefuseRetired (serve's), it reads the statements as it writes and
// signs nothing verify would report: those records wait in memory, retried, the flush
// failing with an error naming the key and the statement; what it wrote verifies.
func TestAuditRefusesARetiredKey(t *testing.T) {
	ctx := context.Background()
	_, a, _ := ed25519.GenerateKey(rand.Reader)
	_, b, _ := ed25519.GenerateKey(rand.Reader)
	store, _ := newAuditStore(t)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	log := &audit.Log{Store: store, Now: clk.Now, SigningKey: a, RefuseRetired: true}
	write := func() error {
		t.Helper()
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200}); err != nil {
			t.Fatal(err)
		}
		return log.Flush(ctx)
	}
	if err := write(); err != nil {
		t.Fatal(err)
	}
	stmt, err := ledger.Ledger{Store: store}.RecordRotation(ctx, a, b, "yearly", clk.Now(), archiver.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(archiver.RetiredSkew / 2) // within the skew: verify accepts it
	if err := write(); err != nil {
		t.Fatalf("within %s of the rotation: %v", archiver.RetiredSkew, err)
	}
	clk.Add(archiver.RetiredSkew)
	err = write()
	if !errors.Is(err, ledger.ErrRetiredKey) || !strings.Contains(err.Error(), stmt) || !strings.Contains(err.Error(), archiver.KeyID(a.Public().(ed25519.PublicKey))) {
		t.Fatalf("past the skew: Flush = %v, want %v naming the key and %s", err, ledger.ErrRetiredKey, stmt)
	}
	if n := len(auditKeys(t, store)); n != 2 {
		t.Fatalf("%d segments, want the 2 written before the refusal", n)
	}
	if st := log.Stats(); st.Pending != 1 {
		t.Fatalf("pending %d, want the refused record waiting in memory", st.Pending)
	}
	trusted := []ed25519.PublicKey{a.Public().(ed25519.PublicKey), b.Public().(ed25519.PublicKey)}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{TrustedKeys: trusted, Audit: audit.Verifier{}})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %q", err, rep.Problems)
	}
	reliability.Record(t, "security", "serve's audit writer still on a signing key a keys rotate retired while it runs", reliability.Refused,
		"segments of records more than an hour after the rotation statement (what verify reports as signed by a retired key) are not signed: the flush fails naming the key and the statement, the records wait in memory; before, they were written and verify reported them for good")
}
