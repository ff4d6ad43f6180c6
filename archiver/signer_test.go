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

// lateRecord is a record of Acme's the sample partition lacks: adding it makes a new
// revision that only adds, which commits on its own.
const lateRecord = `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795338000500,"eventTimestamp":1795338000500,"messageId":"m-late","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"late","markdownText":"late","attachments":[]}}`

// TestRunKeepsTheChainSigned seals the sample day signed, then commits a new revision (a
// late record) with another signing setup: the cron job without signing.keyFile, as a
// careless operator would leave it, a rotated key, the same key. Manifests are never
// replaced and nothing can make a chain that goes from signed to unsigned verify again, so
// the run must refuse the unsigned commit (nothing committed, the day fails) and accept
// the ones that keep the chain verifiable; an unchanged rerun commits nothing and needs no
// key.
func TestRunKeepsTheChainSigned(t *testing.T) {
	newKey := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tests := []struct {
		name string
		// next returns the key of the second run (nil: unsigned), given the first run's;
		// it may record a rotation.
		next    func(t *testing.T, l ledger.Ledger, first ed25519.PrivateKey) ed25519.PrivateKey
		addLate bool
		want    string // the failure, or "" when the revision commits
	}{
		{"unsigned after signed", func(*testing.T, ledger.Ledger, ed25519.PrivateKey) ed25519.PrivateKey { return nil },
			true, "signed by key"},
		{"another key after keys rotate", func(t *testing.T, l ledger.Ledger, first ed25519.PrivateKey) ed25519.PrivateKey {
			k := newKey()
			if _, err := l.RecordRotation(context.Background(), first, k, "yearly", time.Now(), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			return k
		}, true, ""},
		{"the same key", func(_ *testing.T, _ ledger.Ledger, first ed25519.PrivateKey) ed25519.PrivateKey { return first },
			true, ""},
		{"unsigned rerun that changes nothing", func(*testing.T, ledger.Ledger, ed25519.PrivateKey) ed25519.PrivateKey { return nil },
			false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logDir := copyLog(t)
			f := newFixture(t, logDir)
			first := newKey()
			f.seal(t, sampleDay, archiver.Options{SigningKey: first})
			l := ledger.Ledger{Store: f.store}
			next := tt.next(t, l, first)
			if tt.addLate {
				editPartition(t, logDir, func(string) bool { return true }, lateRecord)
			}
			res := f.sealDay(t, "", archiver.Options{SigningKey: next})
			a := byName(res)["Acme"]
			if tt.want != "" {
				if a.Outcome != archiver.OutcomeFailed || a.Err == nil || !strings.Contains(a.Err.Error(), tt.want) {
					t.Fatalf("Acme: outcome %s, error %v; want failed with %q", a.Outcome, a.Err, tt.want)
				}
				if _, m := f.export(t, acme, sampleDay); m.Revision != 1 {
					t.Errorf("revision %d served, want 1: the refused revision was committed", m.Revision)
				}
			} else if a.Err != nil {
				t.Fatalf("Acme: %v", a.Err)
			}
			trusted := []ed25519.PublicKey{first.Public().(ed25519.PublicKey)}
			if next != nil {
				trusted = append(trusted, next.Public().(ed25519.PublicKey))
			}
			rep, err := verify.Run(context.Background(), l, verify.Options{TrustedKeys: trusted})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("verify after the run: %v", rep.Problems)
			}
		})
	}
	reliability.Record(t, "security", "run without the signing key on a signed chain", reliability.CleanFailure,
		"the organization's day fails, nothing committed: the chain stays verifiable")
}

// TestRunStartsNoUnsignedChainInASignedArchive: Acme's chain is signed; a run without
// the signing key then finds Globex with no chain yet (an organization that starts
// archiving that night). Its manifest 1 would be unsigned for good, and with the trusted
// public key verify reports every unsigned manifest: the run must not start it unsigned
// while it finds the other chains signed.
func TestRunStartsNoUnsignedChainInASignedArchive(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, sampleLog)
	f.sealDay(t, acme, archiver.Options{SigningKey: key})
	res := f.sealDay(t, "", archiver.Options{})
	g := byName(res)["Globex"]
	if g.Outcome != archiver.OutcomeFailed || g.Err == nil || !strings.Contains(g.Err.Error(), "signed") {
		t.Fatalf("Globex: %s %v; want failed: the archive's other chains are signed", g.Outcome, g.Err)
	}
	if a := byName(res)["Acme"]; a.Outcome != archiver.OutcomeUnchanged {
		t.Errorf("Acme: %s %v, want unchanged", a.Outcome, a.Err)
	}
	rep, err := verify.Run(t.Context(), ledger.Ledger{Store: f.store}, verify.Options{TrustedKey: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify with the trusted key: %v", rep.Problems)
	}
	reliability.Record(t, "security", "run without the signing key starting a new organization's chain in a signed archive", reliability.CleanFailure,
		"that organization's day fails, nothing committed: no chain starts unsigned beside signed ones")
}
