package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestPlantedHeadRefused: someone who can write to the store but holds no key copies an
// old, validly signed manifest of an organization to where its chain head is looked for:
// the next chain key of the old layout, or a layout-3 day key after every sealed day
// (d/2099/12/31.r0001.json). Head read the manifest there without checking it is the one
// sealed there, so before:
//   - `chatvault witness` recorded that old manifest as the organization's head (seq 1
//     of 4): once the copy and the days after seq 1 were deleted, verify --witness passed;
//   - the next seal built on it and committed a second seq 2, a fork that a locking store
//     keeps for good.
//
// Head now checks the manifest against its key (organization, seq, and day and revision
// or late copy) and fails, naming the key, like a manifest that does not parse: the
// witness is not written and the organization's day is not sealed (nothing committed)
// until the object is removed; verify reports it.
func TestPlantedHeadRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layout int
		minio  bool
	}{
		{"layout2", archiver.Layout2, false},
		{"layout3", archiver.Layout3, false},
		{"layout3 on MinIO with Object Lock", archiver.Layout3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layout := tc.layout
			ctx := context.Background()
			// fresh opens the store as a new process would: no head remembered.
			var fresh func() ledger.Ledger
			if tc.minio {
				if testing.Short() {
					t.Skip("MinIO (-short)")
				}
				srv := miniotest.Start(t)
				bucket := srv.Bucket(t, true)
				fresh = func() ledger.Ledger {
					st, err := s3.NewStore(t.Context(), srv.Client(), bucket, "cv", s3.Options{})
					if err != nil {
						t.Fatal(err)
					}
					return ledger.Ledger{Store: st}
				}
			} else {
				root := t.TempDir()
				fresh = func() ledger.Ledger {
					s, err := fsstore.New(root)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return ledger.Ledger{Store: s}
				}
			}
			a := sealDays(t, fresh().Store, "", 5, 0)
			a.layout = layout
			for range 4 {
				a.sealNext(t)
			}
			old, err := fresh().Latest(ctx, acme, a.days[0])
			if err != nil || old == nil || old.Seq != 1 {
				t.Fatalf("manifest of %s: %+v, %v", a.days[0], old, err)
			}
			key := archiver.ChainKey(acme, 5)
			if layout == archiver.Layout3 {
				d, _ := archiver.ParseDay("2099-12-31")
				key = archiver.DayKey3(acme, d, 1)
			}
			if err := a.store.Create(ctx, key, bytes.NewReader(old.Bytes), int64(len(old.Bytes)), sha256.Sum256(old.Bytes), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			heads, err := fresh().Heads(ctx)
			if !errors.Is(err, ledger.ErrUntrustedManifest) {
				t.Errorf("witness heads with %s planted: %+v, %v; want an error, not seq 1 as the head", key, heads, err)
			}
			// The next seal commits nothing for the organization: no second seq 2.
			l := fresh()
			day := a.next
			s := &archiver.Sealer{Source: a.src, Store: l.Store, Chain: ledger.Ledger{Store: l.Store}, Options: archiver.Options{
				Now: func() time.Time { return day.End().Add(30 * time.Minute) }, TempDir: t.TempDir(),
				SigningKey: a.key, Logger: slog.New(slog.DiscardHandler), Layout: layout}}
			res, err := s.Seal(ctx, day, a.dirBytes, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Orgs {
				if o.Org == acme && !errors.Is(o.Err, ledger.ErrUntrustedManifest) {
					t.Errorf("seal of %s with %s planted: %v, want it refused", day, key, o.Err)
				}
			}
			if m, err := fresh().Latest(ctx, acme, day); err != nil || m != nil {
				if m == nil {
					m = &archiver.StoredManifest{}
				}
				t.Errorf("%s committed for %s: %v, %v (a fork of its chain)", day, acme, m.Key, err)
			}
			if t.Failed() {
				return
			}
			reliability.Record(t, "security", "an old signed manifest copied to where the chain head is looked for", reliability.Refused,
				"Head checks the head against its key: chatvault witness fails instead of recording the old head, and the organization's next seal commits nothing instead of forking the chain")
		})
	}
}
