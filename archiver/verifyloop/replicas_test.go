package verifyloop

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
)

// errCrashed is what a killed replica's store calls get: nothing it still had in flight
// (a lease release, a record) reaches the store.
var errCrashed = errors.New("replica killed")

// replicaStore is one replica's connection to the shared store. It counts the archive's
// objects the replica opens (what verification re-reads: neither leases/ nor the
// verification records), and kill cuts it.
type replicaStore struct {
	archiver.Store
	mu     sync.Mutex
	killed bool
	reads  int
}

func (s *replicaStore) alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed {
		return errCrashed
	}
	return nil
}

func (s *replicaStore) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killed = true
}

// takeReads returns the archive objects opened since the last call.
func (s *replicaStore) takeReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.reads
	s.reads = 0
	return n
}

func (s *replicaStore) Unwrap() archiver.Store { return s.Store }

func (s *replicaStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [32]byte, opt archiver.CreateOptions) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.Create(ctx, key, body, size, sum, opt)
}

func (s *replicaStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, "leases/") && !strings.HasPrefix(key, Prefix) && key != archiver.LayoutKey {
		s.mu.Lock()
		s.reads++
		s.mu.Unlock()
	}
	return s.Store.Open(ctx, key)
}

func (s *replicaStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.List(ctx, prefix, fn)
}

func (s *replicaStore) ListAfter(ctx context.Context, prefix, startAfter string, fn func(string) error) error {
	if err := s.alive(); err != nil {
		return err
	}
	return archiver.ListAfter(ctx, s.Store, prefix, startAfter, fn)
}

// verifyReplica is one serve process's continuous verification on the shared store.
type verifyReplica struct {
	*driven
	name  string
	store *replicaStore
	reg   *prometheus.Registry
	ticks chan struct{}
	tries chan struct{}
}

// startReplica starts a replica's loop with the verification lease, on clock c.
func startReplica(t *testing.T, name string, shared archiver.Store, key ed25519.PrivateKey, c *scheduler.FakeClock, interval time.Duration) *verifyReplica {
	t.Helper()
	st := &replicaStore{Store: shared}
	pub := key.Public().(ed25519.PublicKey)
	l := &Loop{Store: st, Verifier: verify.Verifier{Ledger: ledger.Ledger{Store: st}}, TrustedKeys: []ed25519.PublicKey{pub},
		Key: key, Interval: interval, Cycle: interval, Now: c.Now, After: c.After, Holder: name,
		Lease: &scheduler.Lease{Store: st, Prefix: LeasePrefix, Holder: name, TTL: LeaseTTL(interval), Clock: c}}
	r := &verifyReplica{name: name, store: st, reg: prometheus.NewRegistry(), ticks: make(chan struct{}, 1), tries: make(chan struct{}, 1)}
	l.Register(r.reg)
	l.ticked = func() { r.ticks <- struct{}{} }
	l.retried = func() { r.tries <- struct{}{} }
	r.driven = start(t, l)
	return r
}

// tickAt delivers a tick and waits until the replica has handled it (verified a slice or
// not); it returns the runs recorded meanwhile.
func (r *verifyReplica) tickAt(t *testing.T, at time.Time) []*Record {
	t.Helper()
	r.tick <- at
	select {
	case <-r.ticks:
	case <-time.After(time.Minute):
		t.Fatalf("%s: tick not handled within a minute", r.name)
	}
	return r.drainRuns()
}

// tried waits until the replica has handled a try of the lease between ticks (the clock
// reached it); it returns the runs recorded meanwhile.
func (r *verifyReplica) tried(t *testing.T) []*Record {
	t.Helper()
	select {
	case <-r.tries:
	case <-time.After(time.Minute):
		t.Fatalf("%s: try of the lease not handled within a minute", r.name)
	}
	return r.drainRuns()
}

func (r *verifyReplica) drainRuns() []*Record {
	var out []*Record
	for {
		select {
		case rec := <-r.runs:
			out = append(out, rec)
		default:
			return out
		}
	}
}

// lastSliceGauge is chatvault_verify_last_run_timestamp_seconds{kind="slice"} as the
// replica exposes it.
func (r *verifyReplica) lastSliceGauge() float64 {
	return value(r.metrics.lastRun.WithLabelValues(KindSlice))
}

// TestOneReplicaVerifiesPerInterval: two serve replicas on one store. Exactly one of them
// verifies each interval's slice (the store's objects are re-read once, not once per
// replica); the other re-reads nothing, yet exposes the last slice's time and result, read
// from the signed records. When the verifying replica is killed (it stops without
// releasing the lease), the other takes over once the lease has run out, and not before.
func TestOneReplicaVerifiesPerInterval(t *testing.T) {
	for _, kind := range []string{"folder", "minio"} {
		t.Run(kind, func(t *testing.T) {
			a := newArchive(t)
			var shared archiver.Store = a.store
			if kind == "minio" {
				srv := miniotest.Start(t)
				s, err := s3.NewStore(t.Context(), srv.Client(), srv.Bucket(t, false), "archive", s3.Options{PartSize: s3.MinPartSize, Concurrency: 2})
				if err != nil {
					t.Fatal(err)
				}
				shared = s
				a.store = nil
			}
			sealOn(t, a, shared, "2026-11-22", "2026-11-23")
			const interval = time.Hour
			c := scheduler.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))

			// A starts first: it takes the lease and verifies the slice due at start.
			ra := startReplica(t, "a", shared, a.key, c, interval)
			first := ra.next()
			if first.Kind != KindSlice || !first.OK() || first.OrgDays != 4 {
				t.Fatalf("a's first slice: %+v", first)
			}
			perSlice := ra.store.takeReads()
			if perSlice == 0 {
				t.Fatal("a slice read no archive object")
			}
			// B starts within the interval: it verifies nothing and shows a's slice.
			rb := startReplica(t, "b", shared, a.key, c, interval)
			if n := rb.store.takeReads(); n != 0 {
				t.Fatalf("b read %d archive objects at start", n)
			}
			if got, want := rb.lastSliceGauge(), float64(first.Finished.Unix()); got != want {
				t.Fatalf("b's last slice %v at start, want a's %v", got, want)
			}

			// Every interval, both tick: exactly one slice in all, and the store's objects
			// read once.
			var last *Record
			for i := range 3 {
				c.Add(interval)
				if runs := rb.tried(t); len(runs) != 0 { // b tries the lease between ticks
					t.Fatalf("interval %d: b took the lease a holds: %s", i+1, describe(runs))
				}
				runs := append(ra.tickAt(t, c.Now()), rb.tickAt(t, c.Now())...)
				if len(runs) != 1 || runs[0].Kind != KindSlice || runs[0].Holder != "a" {
					t.Fatalf("interval %d: runs %s (a read %d archive objects, b %d); want one slice, by a", i+1, describe(runs), ra.store.takeReads(), rb.store.takeReads())
				}
				last = runs[0]
				if ar, br := ra.store.takeReads(), rb.store.takeReads(); ar != perSlice || br != 0 {
					t.Fatalf("interval %d: a read %d archive objects, b %d; want %d and 0", i+1, ar, br, perSlice)
				}
				// B reports the slice a verified, not its own (stale) start.
				if got, want := rb.lastSliceGauge(), float64(last.Finished.Unix()); got != want {
					t.Fatalf("interval %d: b's last slice %v, want a's %v", i+1, got, want)
				}
			}

			if kind == "folder" {
				// A finds a tampered export: b, which verifies nothing, reports it too.
				key := a.tamper(t, globex, "2026-11-23")
				c.Add(interval)
				rb.tried(t)
				runs := append(ra.tickAt(t, c.Now()), rb.tickAt(t, c.Now())...)
				if len(runs) != 1 || runs[0].Holder != "a" || runs[0].Problems == 0 {
					t.Fatalf("slice after tampering with %s: %s", key, describe(runs))
				}
				last = runs[0]
				if got, want := value(rb.metrics.problems), value(ra.metrics.problems); got != want || got == 0 {
					t.Fatalf("b's chatvault_verify_problems %v, a's %v", got, want)
				}
				if n := rb.store.takeReads(); n != 0 {
					t.Fatalf("b read %d archive objects", n)
				}
				ra.store.takeReads()
			}

			// A is killed: its store connection is cut, then it stops; its lease is not
			// released. B, trying the lease every tenth of an interval on the clock, waits
			// until the lease has run out (a renewed it at its last slice), then takes it
			// and verifies the slice due.
			ra.store.kill()
			ra.stop()
			expires := last.Finished.Add(LeaseTTL(interval) + scheduler.DefaultMaxSkew) // expired by the clock skew the lease allows
			var runs []*Record
			for tries := 1; ; tries++ {
				at, ok := c.Next()
				if !ok {
					t.Fatal("b waits on nothing: it would never take the lease over")
				}
				c.Set(at)
				runs = rb.tried(t)
				if at.Before(expires) {
					if len(runs) != 0 || rb.store.takeReads() != 0 {
						t.Fatalf("try %d, %v before a's lease ran out: b verified %s", tries, expires.Sub(at), describe(runs))
					}
					continue
				}
				if late := at.Sub(expires); late > interval/10 {
					t.Fatalf("b took over %v after a's lease ran out", late)
				}
				if gap := at.Sub(last.Finished); gap >= 2*interval {
					t.Fatalf("no slice for %v: ChatvaultVerifyStalled would fire", gap)
				}
				break
			}
			if len(runs) != 1 || runs[0].Kind != KindSlice || runs[0].Holder != "b" || runs[0].Error != "" || runs[0].OrgDays != 4 {
				t.Fatalf("after a's lease ran out, b's runs %s; want b's slice", describe(runs))
			}
			if n := rb.store.takeReads(); n < perSlice {
				t.Fatalf("b's slice read %d archive objects, want %d or more", n, perSlice)
			}
			if got, want := rb.lastSliceGauge(), float64(runs[0].Finished.Unix()); got != want {
				t.Fatalf("b's last slice %v, want its own %v", got, want)
			}
			// B's own tick, soon after, does not verify a second slice; the next one does.
			if runs := rb.tickAt(t, c.Now().Add(interval/20)); len(runs) != 0 {
				t.Fatalf("b's tick right after its takeover: %s", describe(runs))
			}
			c.Add(interval)
			if runs := rb.tickAt(t, c.Now()); len(runs) != 1 || runs[0].Holder != "b" {
				t.Fatalf("b's next tick: %s; want its slice", describe(runs))
			}
			reliability.Record(t, "operations", "two serve replicas on one store ("+kind+"), continuous verification", reliability.Recovered,
				"one replica at a time holds the verification lease (leases/verify/) and verifies each interval's slice, so the store is re-read once, not once per replica; the others read only the signed run records, so their verification metrics show the last slice and its problems; when the holder is killed, another takes over within a tenth of an interval of its lease running out, before the staleness alert would fire")
		})
	}
}

// sealOn seals days of a's event log into store (a's folder store or another).
func sealOn(t *testing.T, a *archive, store archiver.Store, days ...string) {
	t.Helper()
	for _, d := range days {
		day := day(t, d)
		s := &archiver.Sealer{Source: a.src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			Now: func() time.Time { return day.End().Add(30 * time.Minute) }, TempDir: t.TempDir(),
			SigningKey: a.key, Logger: slog.New(slog.DiscardHandler), Layout: a.layout}}
		res, err := s.Seal(context.Background(), day, a.dir, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Orgs {
			if o.Err != nil {
				t.Fatalf("seal %s %s: %v", d, o.Org, o.Err)
			}
		}
	}
}

// describe names runs by kind and holder.
func describe(runs []*Record) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range runs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s by %s (%d org-days, %s)", r.Kind, r.Holder, r.OrgDays, r.Result())
	}
	b.WriteString("]")
	return b.String()
}

// TestDaySealedOnAnotherReplicaVerifiedOnce: a day the scheduler of a replica that does
// not hold the verification lease seals is verified by that replica at once; the holder,
// which notices the day in the store, reads that replica's record and does not verify the
// day again one interval later.
func TestDaySealedOnAnotherReplicaVerifiedOnce(t *testing.T) {
	a := newArchive(t, "2026-11-22")
	const interval = time.Hour
	c := scheduler.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	ra := startReplica(t, "a", a.store, a.key, c, interval)
	if r := ra.next(); r.Kind != KindSlice || r.OrgDays != 2 {
		t.Fatalf("a's first slice: %+v", r)
	}
	rb := startReplica(t, "b", a.store, a.key, c, interval)
	ra.store.takeReads()

	// B's scheduler seals the 23rd: b verifies it at once.
	a.seal(t, "2026-11-23")
	rb.Sealed(acme, day(t, "2026-11-23"))
	rb.Sealed(globex, day(t, "2026-11-23"))
	// One run or two (the first announcement may wake b before the second).
	for n := 0; n < 2; {
		sealed := rb.next()
		if sealed.Kind != KindSealed || sealed.Holder != "b" || !sealed.OK() {
			t.Fatalf("b's run after its seal: %+v", sealed)
		}
		n += sealed.OrgDays
	}
	perDays := rb.store.takeReads()

	// Two intervals: a notices the days, then would verify them; it must not.
	var runs []*Record
	var reads int
	for range 2 {
		c.Add(interval)
		rb.tried(t)
		runs = append(runs, ra.tickAt(t, c.Now())...)
		runs = append(runs, rb.tickAt(t, c.Now())...)
		reads += ra.store.takeReads()
	}
	slicesOnly := true
	for _, r := range runs {
		slicesOnly = slicesOnly && r.Kind == KindSlice && r.Holder == "a"
	}
	// One slice each interval, of the whole store (Cycle is the interval): 4 org-days.
	if len(runs) != 2 || !slicesOnly {
		t.Fatalf("runs over two intervals: %s; want two slices by a, no sealed run of the days b verified", describe(runs))
	}
	t.Logf("b's sealed run read %d archive objects; a's two slices %d", perDays, reads)
	reliability.Record(t, "operations", "a day sealed by a replica that does not hold the verification lease", reliability.Recovered,
		"that replica verifies it at once; the lease holder reads its signed record and does not verify the day again when it notices it in the store (it is re-verified by the slices, once per cycle)")
}

// TestReleasedLeaseTakenAtNextTry: a replica that stops cleanly (serve's shutdown) gives
// the verification lease back; another takes it at its next try, a tenth of an interval
// later, without verifying a slice out of turn (one completed within the interval), and
// verifies the slices from its next tick.
func TestReleasedLeaseTakenAtNextTry(t *testing.T) {
	a := newArchive(t, "2026-11-22")
	const interval = time.Hour
	c := scheduler.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	ra := startReplica(t, "a", a.store, a.key, c, interval)
	ra.next()
	rb := startReplica(t, "b", a.store, a.key, c, interval)
	c.Add(interval)
	rb.tried(t)
	if runs := append(ra.tickAt(t, c.Now()), rb.tickAt(t, c.Now())...); len(runs) != 1 || runs[0].Holder != "a" {
		t.Fatalf("runs %s; want a's slice", describe(runs))
	}
	if got := value(rb.metrics.leader); got != 0 {
		t.Fatalf("b's chatvault_verify_lease_held %v while a holds it", got)
	}

	ra.stop() // releases the lease
	at, ok := c.Next()
	if !ok || at.Sub(c.Now()) > interval/10 {
		t.Fatalf("b's next try at %v (%v): want within a tenth of an interval", at, ok)
	}
	c.Set(at)
	if runs := rb.tried(t); len(runs) != 0 {
		t.Fatalf("b verified %s right after taking the lease; a's slice was %v ago", describe(runs), interval/10)
	}
	if got := value(rb.metrics.leader); got != 1 {
		t.Fatalf("b's chatvault_verify_lease_held %v after a released the lease", got)
	}
	c.Add(interval)
	if runs := rb.tickAt(t, c.Now()); len(runs) != 1 || runs[0].Holder != "b" || runs[0].Kind != KindSlice {
		t.Fatalf("b's next tick: %s; want its slice", describe(runs))
	}
	reliability.Record(t, "operations", "the serve replica that verifies the slices shuts down cleanly", reliability.Recovered,
		"it gives the verification lease back; another replica takes it at its next try (a tenth of verify.interval) and verifies the slices from its next tick, without a slice out of turn")
}

// TestLeaseTryDoesNotGrowWithTheLease: the verification lease is a chain of links, one
// more at each renewal (one an interval, 8,760 a year with hourly slices), and the other
// replicas try it every tenth of an interval. A try reads the last link: after its first,
// it lists only the links added since, not the whole chain.
func TestLeaseTryDoesNotGrowWithTheLease(t *testing.T) {
	for _, links := range []int{10, 100} {
		t.Run(fmt.Sprint(links), func(t *testing.T) {
			store, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			c := scheduler.NewFakeClock(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
			ttl := LeaseTTL(time.Hour)
			holder := &scheduler.Lease{Store: store, Prefix: LeasePrefix, Holder: "a", TTL: ttl, Clock: c}
			counting := storetest.NewCounting(store)
			other := &scheduler.Lease{Store: counting, Prefix: LeasePrefix, Holder: "b", TTL: ttl, Clock: c}
			ctx := t.Context()
			for range links {
				if err := holder.Acquire(ctx); err != nil {
					t.Fatal(err)
				}
				c.Add(time.Hour)
			}
			if err := other.Acquire(ctx); !errors.Is(err, scheduler.ErrLeaseHeld) {
				t.Fatalf("first try: %v", err)
			}
			for i := range 3 {
				if err := holder.Acquire(ctx); err != nil {
					t.Fatal(err)
				}
				c.Add(time.Hour / 10)
				counting.Reset()
				if err := other.Acquire(ctx); !errors.Is(err, scheduler.ErrLeaseHeld) {
					t.Fatalf("try %d: %v", i+2, err)
				}
				n := counting.Counts()
				t.Logf("%d links: a try listed %d keys in %d requests", links+i+1, n["Keys"], n.Requests())
				if n["Keys"] > 2 {
					t.Fatalf("%d links: a try listed %d keys; want the last link and the one added since", links+i+1, n["Keys"])
				}
			}
			// Once the holder stops renewing, the other takes it over at its expiry.
			c.Add(ttl)
			if err := other.Acquire(ctx); err != nil {
				t.Fatalf("try after the lease ran out: %v", err)
			}
			reliability.Record(t, "operations", fmt.Sprintf("a replica tries the verification lease, a chain of %d links", links), reliability.Kept,
				"a try lists the links added since its last try (at most two keys), not the whole chain: its cost does not grow with the lease's history")
		})
	}
}
