package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditChainKeepsItsSigner: someone who can write to the store but holds no key
// replaces an organization's newest audit segment (its records of their own downloads
// dropped) with one signed by a key of their own, or unsigned. With trusted keys the
// segment's signature fails; without (verify given no public key, which checks integrity
// against the keys the objects carry), a manifest chain that changes key or goes from
// signed to unsigned is still a problem, and the audit chain, "verified like the days it
// records", must be checked the same way. Before, both replacements passed a verify
// without trusted keys.
func TestAuditChainKeepsItsSigner(t *testing.T) {
	_, thief, _ := ed25519.GenerateKey(rand.Reader)
	for _, tt := range []struct {
		name string
		key  ed25519.PrivateKey
		want string // "": no problem
	}{
		{"re-signed by another key", thief, "the signing key changes from"},
		{"unsigned", nil, "goes from signed"},
		{"signed by the new key after a recorded rotation", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a := newArchive(t, 1)
			org := a.dir.Organizations[0].ID
			write := func(key ed25519.PrivateKey, at time.Duration) {
				t.Helper()
				log := &audit.Log{Store: a.store, SigningKey: key}
				if err := log.Append(ctx, audit.Record{Time: a.days[0].Start().Add(at), TokenName: "t", Org: org, Status: 200}); err != nil {
					t.Fatal(err)
				}
				if err := log.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				write(a.key, time.Duration(i+1)*time.Hour)
			}
			run := func() *Report {
				t.Helper()
				rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{Directory: a.dir, Audit: audit.Verifier{}})
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			if rep := run(); !rep.OK() {
				t.Fatalf("before: %q", rep.Problems)
			}
			if err := os.Remove(filepath.Join(rootOf(a), "audit", "orgs", org, a.days[0].String(), fmt.Sprintf("%012d.jsonl", 3))); err != nil {
				t.Fatal(err)
			}
			key := tt.key
			if tt.want == "" {
				_, key, _ = ed25519.GenerateKey(rand.Reader)
				if _, err := (ledger.Ledger{Store: a.store}).RecordRotation(ctx, a.key, key, "routine", a.next.Start(), archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			write(key, 5*time.Hour)
			rep := run()
			if tt.want == "" {
				if !rep.OK() {
					t.Fatalf("after a recorded rotation: %q", rep.Problems)
				}
				return
			}
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q, want one with %q", rep.Problems, tt.want)
			}
			reliability.Record(t, "security", "an organization's newest audit segment replaced by one "+tt.name+", verified without a trusted key", reliability.CleanFailure,
				"verify exit 1: an audit chain, like a manifest chain, must not go from signed to unsigned nor change key without a rotation statement")
		})
	}
}
