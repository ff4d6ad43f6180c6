package archiver_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// downStore is a Store that goes down after its first `after` creates: from then on every
// request fails as an S3 store's does once its retries ran out against a store that does
// not answer, and is counted.
type downStore struct {
	archiver.Store
	after   int64
	creates atomic.Int64
	down    atomic.Bool
	refused atomic.Int64 // requests made while down
}

func (s *downStore) fail(key string) error {
	s.refused.Add(1)
	return fmt.Errorf("s3: %s: dial tcp 127.0.0.1:9: connect: connection refused: %w", key, archiver.ErrStoreUnreachable)
}

func (s *downStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if s.down.Load() || s.creates.Add(1) > s.after {
		s.down.Store(true)
		return s.fail(key)
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *downStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if s.down.Load() {
		return nil, s.fail(key)
	}
	return s.Store.Open(ctx, key)
}

func (s *downStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if s.down.Load() {
		return s.fail(prefix)
	}
	return s.Store.List(ctx, prefix, fn)
}

// TestStoreDownMidSeal: the store goes down while a day of 200 organizations is being
// sealed. Each failure had cost the request's full retries on S3 (up to about two
// minutes), then as much again for the failure's record, organization after organization:
// a run of 2,000 organizations against a MinIO killed 3 s in was still going 11 minutes
// later. Once a few organizations in a row find the store down, the rest are not tried:
// the seal fails at once, saying how many were committed and that a rerun seals the
// rest; the rerun, with the store back, seals them and verify passes.
func TestStoreDownMidSeal(t *testing.T) {
	const orgs = 200
	logDir := t.TempDir()
	if _, err := synth.Generate(context.Background(), logDir, synth.Options{Day: sampleDay, Events: 20 * orgs, Orgs: orgs, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, logDir)
	down := &downStore{Store: f.store, after: 20}
	opt := archiver.Options{TempDir: t.TempDir(), Now: fixedClock, Generator: "chatvault test", Workers: 2}
	s := &archiver.Sealer{Source: f.src, Store: down, Chain: ledger.Ledger{Store: down}, Options: opt}
	_, err := s.Seal(t.Context(), sampleDay, f.directory, "")
	if !errors.Is(err, archiver.ErrStoreUnreachable) || !strings.Contains(err.Error(), "store became unreachable during the seal") {
		t.Fatalf("Seal with the store down: %v; want the store's unreachability named", err)
	}
	var na *archiver.NotAttemptedError
	if !errors.As(err, &na) {
		t.Errorf("Seal's error %v names no organization left untried", err)
	}
	// Without the breaker every organization after the outage made its requests, and a
	// failure record each: over two per organization.
	if n := down.refused.Load(); n >= orgs/2 {
		t.Errorf("%d requests to the store once it was down (%d organizations); want the seal to stop trying", n, orgs)
	}
	// The store is back: a rerun seals the day whole.
	s = &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: opt}
	res, err := s.Seal(t.Context(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatalf("rerun with the store back: %v", err)
	}
	if failed := res.Failed(); len(failed) != 0 {
		t.Fatalf("rerun: %d organizations failed, the first %v", len(failed), failed[0].Err)
	}
	rep, err := verify.Run(t.Context(), ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify after the rerun: %v, %v", err, rep)
	}
	reliability.Record(t, "fault", "the store goes down in the middle of a seal of many organizations", reliability.Recovered,
		"after 8 organizations in a row find it down, the rest are not tried: the seal fails at once (fewer requests to the down store than half its 200 organizations), naming how many were committed; before, each organization waited out its retries and its failure record's (on S3 up to about two minutes each: 2,000 organizations were still going after 11 minutes); the rerun seals the rest and verify passes")
}
