package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestRetiredKeySignsNothingElse: the signing key A was rotated to B after a suspected
// compromise, and whoever stole A (and can write to the store) signs with it, after the
// rotation, what is not a manifest: an access audit segment, a rotation statement from A
// to a key of its own (which would let a chain change from A to that key), and one from a
// key of its own to A (which would make serve, trusting B, trust that key as A's
// predecessor: Ledger.RotatedTrust). Before, the retired key's limit held for manifests
// only, and all three passed. Each is reported as signed by a retired key, and the forged
// statements extend no trust; rotating back from B to A is still a rotation.
func TestRetiredKeySignsNothingElse(t *testing.T) {
	newKey := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, tt := range []struct {
		name  string
		forge func(t *testing.T, ctx context.Context, a *archive, rotatedAt time.Time) string // returns what the problem names
	}{
		{"an access audit segment", func(t *testing.T, ctx context.Context, a *archive, rotatedAt time.Time) string {
			org := a.dir.Organizations[0].ID
			at := rotatedAt.Add(archiver.RetiredSkew + time.Minute)
			log := &audit.Log{Store: a.store, SigningKey: a.key, Now: func() time.Time { return at }}
			if err := log.Append(ctx, audit.Record{Time: at, TokenName: "t", Org: org, Status: 200}); err != nil {
				t.Fatal(err)
			}
			if err := log.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			return "audit/orgs/" + org + "/"
		}},
		{"an accounting object of an old day", func(t *testing.T, ctx context.Context, a *archive, rotatedAt time.Time) string {
			// The day's own object, re-dated after the rotation and re-signed with A: the
			// manifests it names are all before the rotation's heads.
			keys, err := listKeys(ctx, a.store, archiver.AccountingPrefix+a.days[0].String()+"/")
			if err != nil || len(keys) == 0 {
				t.Fatalf("accounting of %s: %v %v", a.days[0], keys, err)
			}
			st, err := (ledger.Ledger{Store: a.store}).ReadAccounting(ctx, keys[0])
			if err != nil {
				t.Fatal(err)
			}
			acc := *st.Accounting
			acc.SealedAt = rotatedAt.Add(archiver.RetiredSkew + time.Minute).Format(time.RFC3339Nano)
			acc.Signature = nil
			body, err := json.MarshalIndent(&acc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			acc.Signature = archiver.SignBody(a.key, append(body, '\n'))
			b, err := json.MarshalIndent(&acc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			sum := sha256.Sum256(b)
			key := fmt.Sprintf("%s%s/%06d-%s.json", archiver.AccountingPrefix, a.days[0], len(keys)+1, hex.EncodeToString(sum[:]))
			if err := a.store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sum, archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			return key
		}},
		{"a rotation statement from it to a key of the thief's", func(t *testing.T, ctx context.Context, a *archive, rotatedAt time.Time) string {
			key, err := (ledger.Ledger{Store: a.store}).RecordRotation(ctx, a.key, newKey(), "forged", rotatedAt.Add(time.Hour), archiver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return key
		}},
		{"a rotation statement from a key of the thief's to it", func(t *testing.T, ctx context.Context, a *archive, rotatedAt time.Time) string {
			x := newKey()
			key, err := (ledger.Ledger{Store: a.store}).RecordRotation(ctx, x, a.key, "forged", rotatedAt.Add(time.Hour), archiver.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			trust, err := (ledger.Ledger{Store: a.store}).RotatedTrust(ctx, []ed25519.PublicKey{a.pub()})
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(trust, func(k ed25519.PublicKey) bool { return k.Equal(x.Public()) }) {
				t.Errorf("RotatedTrust extended trust to the thief's key through %s", key)
			}
			return key
		}},
		{"nothing: B rotated back to A, which signs again", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			a := sealDays(t, newFSStore(t, root), root, 3, 2)
			b := newKey()
			rotatedAt := a.next.Start()
			l := ledger.Ledger{Store: a.store}
			if _, err := l.RecordRotation(ctx, a.key, b, "suspected compromise", rotatedAt, archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			trusted := []ed25519.PublicKey{a.pub(), b.Public().(ed25519.PublicKey)}
			run := func(keys []ed25519.PublicKey) *Report {
				t.Helper()
				rep, err := Run(ctx, l, Options{TrustedKeys: keys, Directory: a.dir, Audit: audit.Verifier{}})
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			if tt.forge == nil {
				if _, err := l.RecordRotation(ctx, b, a.key, "back", rotatedAt.Add(time.Hour), archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				a.sealNext(t)
				org := a.dir.Organizations[0].ID
				log := &audit.Log{Store: a.store, SigningKey: a.key, Now: func() time.Time { return rotatedAt.Add(2 * time.Hour) }}
				if err := log.Append(ctx, audit.Record{Time: rotatedAt.Add(2 * time.Hour), TokenName: "t", Org: org, Status: 200}); err != nil {
					t.Fatal(err)
				}
				if err := log.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				if rep := run(trusted); !rep.OK() {
					t.Fatalf("after rotating back: %q", rep.Problems)
				}
				return
			}
			names := tt.forge(t, ctx, a, rotatedAt)
			// The genuine rotation still stands: serve on B trusts what A signed before.
			trust, err := l.RotatedTrust(ctx, []ed25519.PublicKey{b.Public().(ed25519.PublicKey)})
			if err != nil || !slices.ContainsFunc(trust, func(k ed25519.PublicKey) bool { return k.Equal(a.pub()) }) {
				t.Errorf("RotatedTrust from B after the forgery: %d keys, %v; want A among them", len(trust), err)
			}
			for _, keys := range [][]ed25519.PublicKey{trusted, nil} {
				rep := run(keys)
				if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, names) && strings.Contains(p, "retired") }) {
					t.Errorf("verify (%d trusted keys): problems %q; want one naming %s as signed by a retired key", len(keys), rep.Problems, names)
				}
			}
			if t.Failed() {
				return
			}
			reliability.Record(t, "security", "stolen retired signing key signs, after the rotation, "+tt.name, reliability.CleanFailure,
				"verify exit 1 naming it as signed by a key the rotation statement retired; a forged rotation statement extends no trust (serve's RotatedTrust)")
		})
	}
}
