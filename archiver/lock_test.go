package archiver_test

import (
	"context"
	"crypto/sha256"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// lockingStore plays a store with Object Lock over a folder store: each object is locked
// as its Create asked, and tests can then tamper with the locks and versions.
type lockingStore struct {
	archiver.Store
	mu       sync.Mutex
	locks    map[string]archiver.ObjectLock
	versions []archiver.ObjectVersion // extra versions and delete markers
}

var _ archiver.Locker = (*lockingStore)(nil)

func (s *lockingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	if err := s.Store.Create(ctx, key, body, size, sum, opt); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.locks[key]; !ok && !opt.RetainUntil.IsZero() {
		s.locks[key] = archiver.ObjectLock{Mode: archiver.ModeCompliance, RetainUntil: opt.RetainUntil}
	}
	return nil
}

func (s *lockingStore) Locking() bool { return true }

func (s *lockingStore) Lock(_ context.Context, key string) (archiver.ObjectLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locks[key], nil
}

func (s *lockingStore) SetLegalHold(_ context.Context, key string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[key]
	l.LegalHold = on
	s.locks[key] = l
	return nil
}

func (s *lockingStore) Versions(ctx context.Context, prefix string, fn func(archiver.ObjectVersion) error) error {
	var all []archiver.ObjectVersion
	if err := s.List(ctx, prefix, func(key string) error {
		all = append(all, archiver.ObjectVersion{Key: key, VersionID: "v1"})
		return nil
	}); err != nil {
		return err
	}
	for _, v := range s.versions {
		if strings.HasPrefix(v.Key, prefix) {
			all = append(all, v)
		}
	}
	slices.SortStableFunc(all, func(a, b archiver.ObjectVersion) int { return strings.Compare(a.Key, b.Key) })
	for _, v := range all {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func TestVerifyLocksAndVersions(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := &lockingStore{Store: f.store, locks: map[string]archiver.ObjectLock{}}
	s := &archiver.Sealer{Source: f.src, Store: ls, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	ledger := archiver.Ledger{Store: ls}
	rep, err := ledger.Verify(context.Background(), archiver.VerifyOptions{})
	if err != nil || !rep.OK() || len(rep.Warnings) != 0 {
		t.Fatalf("verify of a correctly locked store: %v, problems %v, warnings %v", err, rep.Problems, rep.Warnings)
	}

	acmeData := res.Orgs[0].Data.Key
	if !strings.Contains(acmeData, acme) {
		acmeData = res.Orgs[1].Data.Key
	}
	chain := "orgs/" + globex + "/manifests/000000000001.json"
	ls.locks[acmeData] = archiver.ObjectLock{Mode: archiver.ModeCompliance, RetainUntil: sampleDay.End().AddDate(0, 0, 30)}
	ls.locks[chain] = archiver.ObjectLock{Mode: "GOVERNANCE", RetainUntil: ls.locks[chain].RetainUntil}
	ls.versions = append(ls.versions,
		archiver.ObjectVersion{Key: res.Quarantine.Key, VersionID: "dm", DeleteMarker: true},
		archiver.ObjectVersion{Key: chain, VersionID: "v2"})
	rep, err = ledger.Verify(context.Background(), archiver.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		acmeData + ": retained until " + sampleDay.End().AddDate(0, 0, 30).Format(time.RFC3339),
		chain + `: lock mode "GOVERNANCE"`,
		res.Quarantine.Key + ": delete marker dm",
		chain + ": 2 versions",
	} {
		if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("verify does not report %q; problems:\n%s", want, strings.Join(rep.Problems, "\n"))
		}
	}
}

func TestHold(t *testing.T) {
	f := newFixture(t, sampleLog)
	ls := &lockingStore{Store: f.store, locks: map[string]archiver.ObjectLock{}}
	s := &archiver.Sealer{Source: f.src, Store: ls, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
	res, err := s.Seal(context.Background(), sampleDay, f.directory, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := archiver.Ledger{Store: ls}.Hold(context.Background(), acme, sampleDay, sampleDay, true)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for key, l := range ls.locks {
		if l.LegalHold {
			held = append(held, key)
		}
	}
	slices.Sort(held)
	var acmeData string
	for _, o := range res.Orgs {
		if o.Org == acme {
			acmeData = o.Data.Key
		}
	}
	want := []string{
		"orgs/" + acme + "/days/" + sampleDay.String() + "/r0001.json",
		"orgs/" + acme + "/manifests/000000000001.json",
		acmeData,
		res.Quarantine.Key,
		res.Accounting,
	}
	slices.Sort(want)
	if n != len(want) || !slices.Equal(held, want) {
		t.Errorf("Hold changed %d objects; held\n%q\nwant\n%q", n, held, want)
	}
}
