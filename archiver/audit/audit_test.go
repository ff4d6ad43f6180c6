package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

const (
	auditOrgA = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	auditOrgB = "0b1c2e3f-0000-4000-8000-00000000bbbb"
)

// fakeNow is a clock the test moves by hand.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeNow) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// auditKeys lists the segment keys (audit/orgs/), not the day index beside them.
func auditKeys(t *testing.T, s archiver.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), "audit/orgs/", func(k string) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func newAuditStore(t *testing.T) (*fsstore.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// TestAuditWrittenInSegments: 200 requests over 200 seconds of a fake clock make a few
// segments per organization (one per flush interval), not 200 objects, and read back in
// order, each organization only its own.
func TestAuditWrittenInSegments(t *testing.T) {
	store, _ := newAuditStore(t)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 23, 58, 30, 0, time.UTC)}
	log := &audit.Log{Store: store, Now: clk.Now}
	ctx := context.Background()
	for i := range 200 {
		org := auditOrgA
		if i%4 == 3 {
			org = auditOrgB
		}
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: org, TokenName: "t", Status: 200, Date: "2026-11-22"}); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := auditKeys(t, store)
	// 200 s from 23:58:30 cross midnight: at most one segment per minute and day, per org.
	if len(keys) < 4 || len(keys) > 12 {
		t.Fatalf("%d audit objects for 200 requests, want a few segments: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "audit/orgs/"+auditOrgA+"/") && !strings.HasPrefix(k, "audit/orgs/"+auditOrgB+"/") {
			t.Errorf("segment %s is not under its organization", k)
		}
	}
	from, _ := archiver.ParseDay("2026-11-23")
	to, _ := archiver.ParseDay("2026-11-24")
	for org, want := range map[string]int{auditOrgA: 150, auditOrgB: 50} {
		var n int
		var last time.Time
		if err := log.List(ctx, org, from, to, func(r audit.Record) error {
			if r.Org != org {
				t.Errorf("%s's listing holds a record of %s", org, r.Org)
			}
			if r.Time.Before(last) {
				t.Errorf("out of order: %s after %s", r.Time, last)
			}
			last = r.Time
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d records, want %d", org, n, want)
		}
	}
	// The range is honoured: the 24th alone holds what came after midnight.
	var n int
	if err := log.List(ctx, auditOrgA, to, to, func(r audit.Record) error {
		if archiver.DayOf(r.Time) != to {
			t.Errorf("record of %s listed for %s", r.Time, to)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n == 0 || n == 150 {
		t.Errorf("%d records of the 24th", n)
	}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	reliability.Record(t, "security", "200 audited requests over 200 s", reliability.Kept,
		"a few hash-chained segments per organization (audit.flushInterval), not one object per request")
}

// TestAuditSegmentsVerified: a segment changed, deleted or re-signed is a verify problem.
func TestAuditSegmentsVerified(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, dir string, keys []string)
		want   string
	}{
		{"one byte of a record changed", func(t *testing.T, dir string, keys []string) {
			rewrite(t, filepath.Join(dir, keys[1]), func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"status":200`, `"status":404`, 1))
			})
		}, "records"},
		{"a segment deleted", func(t *testing.T, dir string, keys []string) {
			if err := os.Remove(filepath.Join(dir, keys[1])); err != nil {
				t.Fatal(err)
			}
		}, "gap"},
		{"the first segment deleted", func(t *testing.T, dir string, keys []string) {
			if err := os.Remove(filepath.Join(dir, keys[0])); err != nil {
				t.Fatal(err)
			}
		}, "gap"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, dir := newAuditStore(t)
			clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
			log := &audit.Log{Store: store, Now: clk.Now, SigningKey: key}
			ctx := context.Background()
			for range 5 {
				for range 3 {
					if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200}); err != nil {
						t.Fatal(err)
					}
				}
				if err := log.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				clk.Add(time.Minute)
			}
			keys := auditKeys(t, store)
			if len(keys) != 5 {
				t.Fatalf("%d segments, want 5: %v", len(keys), keys)
			}
			rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{TrustedKey: key.Public().(ed25519.PublicKey), Audit: audit.Verifier{}})
			if err != nil || !rep.OK() {
				t.Fatalf("before tampering: %v %v", err, rep.Problems)
			}
			tt.tamper(t, dir, keys)
			rep, err = verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{TrustedKey: key.Public().(ed25519.PublicKey), Audit: audit.Verifier{}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), tt.want) {
				t.Fatalf("verify after %s: problems %v, want one about %q", tt.name, rep.Problems, tt.want)
			}
			reliability.Record(t, "security", "audit segment tampered: "+tt.name, reliability.Refused,
				"verify reports a problem ("+tt.want+")")
		})
	}
}

func rewrite(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// downStore fails every Create while down is set.
type downStore struct {
	archiver.Store
	down atomic.Bool
}

func (s *downStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if s.down.Load() {
		return errors.New("store unreachable")
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestAuditStoreDown: while the store refuses writes, records wait in memory; once they
// have waited twice the flush interval (or fill the buffer), Admit refuses new requests,
// and when the store is back everything buffered is written, nothing lost.
func TestAuditStoreDown(t *testing.T) {
	fs, _ := newAuditStore(t)
	store := &downStore{Store: fs}
	clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	log := &audit.Log{Store: store, Now: clk.Now, FlushInterval: time.Minute, MaxPending: 100}
	ctx := context.Background()
	store.down.Store(true)
	appended := 0
	for range 30 {
		if err := log.Admit(); err != nil {
			t.Fatalf("refused after %d while within the bound: %v", appended, err)
		}
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200}); err != nil {
			t.Fatal(err)
		}
		appended++
		clk.Add(3 * time.Second)
	}
	// 90 s: the flush was due and failed; the records are still within 2 minutes.
	if log.Stats().FlushFailures == 0 {
		t.Fatal("no flush was attempted")
	}
	clk.Add(31 * time.Second)
	// Writable (readiness) says what Admit will, without counting a refused request.
	if err := log.Writable(); !errors.Is(err, audit.ErrUnavailable) || log.Stats().Refused != 0 {
		t.Fatalf("writable with records waiting 2 min on a down store: %v, %d refused", err, log.Stats().Refused)
	}
	if err := log.Admit(); !errors.Is(err, audit.ErrUnavailable) || log.Stats().Refused != 1 {
		t.Fatalf("admit with records waiting 2 min on a down store: %v, %d refused", err, log.Stats().Refused)
	}
	store.down.Store(false)
	clk.Add(10 * time.Second) // past the retry pause
	// The probe itself writes what waits: the log is writable again before any request.
	if err := log.Writable(); err != nil || log.Stats().Pending != 0 {
		t.Fatalf("writable once the store is back: %v, %d pending", err, log.Stats().Pending)
	}
	if err := log.Admit(); err != nil {
		t.Fatalf("admit once the store is back: %v", err)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	from, _ := archiver.ParseDay("2026-11-23")
	n := 0
	if err := log.List(ctx, auditOrgA, from, from, func(audit.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != appended {
		t.Fatalf("%d records stored, want %d", n, appended)
	}
	reliability.Record(t, "fault", "audit store down", reliability.Recovered,
		"records wait in memory; requests refused once they wait 2×audit.flushInterval; all written when the store is back")
}

// TestAuditSegmentLocks: segments are created with the organization's retention, and a
// segment whose lock is shorter than its header says is a verify problem.
func TestAuditSegmentLocks(t *testing.T) {
	fs, _ := newAuditStore(t)
	ls := storetest.NewLockingStore(fs)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	log := &audit.Log{Store: ls, Now: clk.Now, RetentionDays: func(org string) int {
		return map[string]int{auditOrgA: 2557, auditOrgB: 10}[org]
	}}
	ctx := context.Background()
	for _, org := range []string{auditOrgA, auditOrgB} {
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: org, Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := auditKeys(t, ls)
	if len(keys) != 2 {
		t.Fatalf("segments %v", keys)
	}
	end := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for _, k := range keys {
		want := end.AddDate(0, 0, 2557)
		if strings.Contains(k, auditOrgB) {
			want = end.AddDate(0, 0, 10)
		}
		if l, _ := ls.Lock(ctx, k); l.Mode != archiver.ModeCompliance || !l.RetainUntil.Equal(want) {
			t.Errorf("%s locked %+v, want COMPLIANCE until %s", k, l, want)
		}
	}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: ls}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	l, _ := ls.Lock(ctx, keys[0])
	l.RetainUntil = l.RetainUntil.AddDate(-1, 0, 0)
	ls.SetLock(keys[0], l)
	rep, err = verify.Run(ctx, ledger.Ledger{Store: ls}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "retained until") {
		t.Fatalf("verify with a shortened lock: %v %v", err, rep.Problems)
	}
}

// TestAuditReplicasShareChains: two serve replicas (two logs on one store) extending the
// same organization's chain in turn and at once keep one gapless chain that verifies.
func TestAuditReplicasShareChains(t *testing.T) {
	store, _ := newAuditStore(t)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	logs := []*audit.Log{{Store: store, Now: clk.Now}, {Store: store, Now: clk.Now}}
	ctx := context.Background()
	total := 0
	for round := range 4 {
		var wg sync.WaitGroup
		for i, log := range logs {
			if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200 + i}); err != nil {
				t.Fatal(err)
			}
			total++
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := log.Flush(ctx); err != nil {
					t.Errorf("round %d, replica %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
		clk.Add(time.Minute)
	}
	if keys := auditKeys(t, store); len(keys) != 8 {
		t.Fatalf("%d segments, want 8: %v", len(keys), keys)
	}
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Audit: audit.Verifier{}})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	day, _ := archiver.ParseDay("2026-11-23")
	n := 0
	if err := logs[0].List(ctx, auditOrgA, day, day, func(audit.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != total {
		t.Fatalf("%d records, want %d", n, total)
	}
}

// failOrgStore fails every Create under one organization's audit folder.
type failOrgStore struct {
	archiver.Store
	org string
}

func (s *failOrgStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if strings.HasPrefix(key, "audit/orgs/"+s.org+"/") {
		return errors.New("access denied")
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

// TestAuditOneOrganizationFailing: when one organization's segments cannot be written, the
// others' still are, and its records wait (none lost) for the next write.
func TestAuditOneOrganizationFailing(t *testing.T) {
	fs, _ := newAuditStore(t)
	store := &failOrgStore{Store: fs, org: auditOrgA}
	clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	log := &audit.Log{Store: store, Now: clk.Now}
	ctx := context.Background()
	for _, org := range []string{auditOrgA, auditOrgB, auditOrgA} {
		if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: org, Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: "../x", Status: 200}); err == nil {
		t.Fatal("a record whose organization cannot name a key was accepted")
	}
	if err := log.Flush(ctx); err == nil {
		t.Fatal("flush reported no error")
	}
	keys := auditKeys(t, fs)
	if len(keys) != 1 || !strings.Contains(keys[0], auditOrgB) {
		t.Fatalf("segments %v, want globex's only", keys)
	}
	if s := log.Stats(); s.Pending != 2 {
		t.Fatalf("%d records waiting, want acme's 2", s.Pending)
	}
	store.org = ""
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := auditKeys(t, fs); len(keys) != 2 {
		t.Fatalf("segments %v", keys)
	}
}

// TestAuditListRefusesForgedSegments: GET /v1/audit and chatvault audit show an
// organization's records from the store; whoever can write to the store could add a
// segment of invented records (signed by a key of their own) or edit one. Listing checks
// what verify checks of each segment it reads (its place, its records against its header,
// and with trusted keys its signature) and fails rather than show such records as the
// organization's access history.
func TestAuditListRefusesForgedSegments(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, ctx context.Context, store archiver.Store, dir string, clk *fakeNow)
		want   string
	}{
		{"one byte of a record changed", func(t *testing.T, _ context.Context, store archiver.Store, dir string, _ *fakeNow) {
			keys := auditKeys(t, store)
			rewrite(t, filepath.Join(dir, keys[0]), func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"status":200`, `"status":404`, 1))
			})
		}, "records"},
		{"a segment of invented records signed by another key", func(t *testing.T, ctx context.Context, store archiver.Store, _ string, clk *fakeNow) {
			forged := &audit.Log{Store: store, Now: clk.Now, SigningKey: forger}
			if err := forged.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200, TokenName: "nobody"}); err != nil {
				t.Fatal(err)
			}
			if err := forged.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}, "untrusted key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, dir := newAuditStore(t)
			clk := &fakeNow{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
			ctx := context.Background()
			log := &audit.Log{Store: store, Now: clk.Now, SigningKey: key}
			if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200}); err != nil {
				t.Fatal(err)
			}
			if err := log.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Minute)
			tt.tamper(t, ctx, store, dir, clk)
			reader := &audit.Log{Store: store, Now: clk.Now, TrustedKeys: trusted}
			day := archiver.DayOf(clk.Now())
			var shown int
			err := reader.List(ctx, auditOrgA, day, day, func(audit.Record) error {
				shown++
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("list after %s: %d records, error %v; want an error about %q", tt.name, shown, err, tt.want)
			}
			reliability.Record(t, "security", "audit listing of a store holding a forged segment: "+tt.name, reliability.Refused,
				"GET /v1/audit and chatvault audit fail (500) rather than show the records: "+tt.want)
		})
	}
}
