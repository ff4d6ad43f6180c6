package verifyloop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// newerRecord stores, under its own key, a slice record as a newer chatvault writes it: a
// field this version does not know (storeOrgDaysMost was one, added while replicas of
// the version before it still ran), signed over the record's encoding without the
// signature, the signature last. change, when set, alters the stored bytes after signing.
func newerRecord(t *testing.T, s archiver.Store, key ed25519.PrivateKey, finished time.Time, change func([]byte) []byte) string {
	t.Helper()
	r := Record{Version: 1, Kind: KindSlice, Holder: "newer", Started: finished.Add(-time.Second), Finished: finished,
		Ranges: []Range{{Org: "acme", From: "2026-11-22", To: "2026-11-22", Days: 1}}, OrgDays: 1,
		Cursor: &Position{Org: "acme", Day: "2026-11-22"}, CycleStarted: finished, StoreOrgDays: 1}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	body := append(bytes.TrimSuffix(b, []byte("}")), []byte(`,"futureField":{"kept":[1,2]}}`)...)
	sig, err := json.Marshal(archiver.SignBody(key, body))
	if err != nil {
		t.Fatal(err)
	}
	stored := append(bytes.TrimSuffix(body, []byte("}")), []byte(`,"signature":`)...)
	stored = append(append(stored, sig...), "}\n"...)
	if change != nil {
		stored = change(stored)
	}
	k := recordKey(finished, KindSlice)
	if err := s.Create(context.Background(), k, bytes.NewReader(stored), int64(len(stored)), sha256.Sum256(stored), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRecordOfANewerVersionReads: in a rolling upgrade (or after a roll-back) replicas of
// two versions share the store's verification records. A record of the newer one, with a
// field this version does not know, signed by the trusted key, is read: the signature is
// checked over the bytes stored, not over the record decoded and encoded again, which
// dropped the field. Before, Read answered "signature does not verify" for a good record:
// the older replica skipped the newer one's slices (restarting the pass elsewhere) and
// `chatvault verifications` failed as if a record had been forged. A newer record
// changed after signing still fails.
func TestRecordOfANewerVersionReads(t *testing.T) {
	ctx := context.Background()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	trusted := []ed25519.PublicKey{pub}
	finished := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	key := newerRecord(t, s, priv, finished, nil)

	r, err := Read(ctx, s, key, trusted)
	if err != nil {
		t.Fatalf("a newer version's signed record: %v", err)
	}
	if r.Cursor == nil || *r.Cursor != (Position{Org: "acme", Day: "2026-11-22"}) || !r.Finished.Equal(finished) || r.Key != key {
		t.Fatalf("read back: %+v", r)
	}
	hist, err := History(ctx, s, archiver.Day{}, trusted)
	if err != nil || len(hist) != 1 {
		t.Fatalf("History: %d records, %v", len(hist), err)
	}
	l := &Loop{Store: s, TrustedKeys: trusted, Cycle: time.Hour, Now: func() time.Time { return finished.Add(time.Minute) },
		Logger: slog.New(slog.DiscardHandler)}
	last, err := l.lastSlice(ctx)
	if err != nil || last == nil || last.Key != key {
		t.Fatalf("lastSlice does not carry on from the newer replica's slice: %+v, %v", last, err)
	}

	// Its own record, written by this version, still reads.
	own := &Record{Version: 1, Kind: KindSlice, Started: finished, Finished: finished.Add(time.Second), Ranges: []Range{}}
	if err := write(ctx, s, own, priv); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(ctx, s, own.Key, trusted); err != nil {
		t.Fatalf("this version's record: %v", err)
	}

	// The newer field changed after signing: refused.
	forged := newerRecord(t, s, priv, finished.Add(2*time.Second), func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"kept":[1,2]`), []byte(`"kept":[1,3]`), 1)
	})
	if _, err := Read(ctx, s, forged, trusted); !errors.Is(err, archiver.ErrBadSignature) {
		t.Fatalf("a newer record changed after signing: %v", err)
	}
	// A member of the record itself changed: refused too.
	moved := newerRecord(t, s, priv, finished.Add(3*time.Second), func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"day":"2026-11-22"}`), []byte(`"day":"2026-11-01"}`), 1)
	})
	if _, err := Read(ctx, s, moved, trusted); !errors.Is(err, archiver.ErrBadSignature) {
		t.Fatalf("a newer record's cursor moved after signing: %v", err)
	}
	reliability.Record(t, "operations", "a verification record written by a newer chatvault (a field this version does not know), read by a replica of this version in a rolling upgrade or after a roll-back", reliability.Kept,
		"read and trusted, its signature checked over the bytes stored; before, the re-encoded record failed its signature: the older replica skipped the newer one's slices and `chatvault verifications` failed as if it had been forged; one changed after signing is still refused")
}
