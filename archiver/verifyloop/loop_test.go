package verifyloop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const (
	acme   = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	globex = "0b1c2e3f-0000-4000-8000-00000000bbbb"
)

func day(t *testing.T, s string) archiver.Day {
	t.Helper()
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// clock is a time that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// archive is a folder store with the sample day sealed as the 22nd and again as the 23rd
// (same partitions) for both archiving organizations, signed.
type archive struct {
	root  string
	store *fsstore.Store
	src   archiver.Source
	dir   []byte
	key   ed25519.PrivateKey
	// layout is the store layout seal writes (0: the default, layout 3).
	layout int
}

func newArchive(t *testing.T, days ...string) *archive {
	t.Helper()
	logDir := t.TempDir()
	for _, d := range []string{"2026-11-22", "2026-11-23", "2026-11-24"} {
		if err := os.CopyFS(filepath.Join(logDir, d), os.DirFS("../../testdata/eventlog/2026-11-22")); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	a := &archive{root: root, store: store, src: src, dir: dir, key: key}
	for _, d := range days {
		a.seal(t, d)
	}
	return a
}

func (a *archive) seal(t *testing.T, d string) {
	t.Helper()
	day := day(t, d)
	s := &archiver.Sealer{Source: a.src, Store: a.store, Chain: ledger.Ledger{Store: a.store}, Options: archiver.Options{
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

// tamper flips a byte in the middle of the day's export of org, as someone with write
// access to the folder could.
func (a *archive) tamper(t *testing.T, org, d string) string {
	t.Helper()
	pattern := filepath.Join(a.root, "orgs", org, "d", d[:4], d[5:7], d[8:]+".events-*.jsonl.gz")
	if a.layout == archiver.Layout2 {
		pattern = filepath.Join(a.root, "orgs", org, "days", d, "events-*.jsonl.gz")
	}
	matches, err := filepath.Glob(pattern)
	if err != nil || len(matches) != 1 {
		t.Fatalf("export of %s %s: %v %v", org, d, matches, err)
	}
	p := matches[0]
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(a.root, p)
	return filepath.ToSlash(rel)
}

// driven is a Loop run in a goroutine, driven by ticks, whose runs the test receives.
type driven struct {
	*Loop
	t    *testing.T
	tick chan time.Time
	runs chan *Record
	logs *syncBuffer
	stop func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, l *Loop) *driven {
	t.Helper()
	d := &driven{Loop: l, t: t, tick: make(chan time.Time), runs: make(chan *Record, 16), logs: &syncBuffer{}}
	l.Logger = slog.New(slog.NewJSONHandler(d.logs, nil))
	l.OnRun = func(r *Record) { d.runs <- r }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ready := make(chan struct{})
	l.started = func() { close(ready) }
	go func() {
		defer close(done)
		l.Run(ctx, d.tick)
	}()
	d.stop = func() { cancel(); <-done }
	t.Cleanup(d.stop)
	// Run decides at start whether a slice is due from the clock: the test moves the clock
	// only after that decision, or a restart "within the interval" could see the next hour.
	select {
	case <-ready:
	case <-done:
	}
	return d
}

// next returns the next run's record.
func (d *driven) next() *Record {
	d.t.Helper()
	select {
	case r := <-d.runs:
		return r
	case <-time.After(time.Minute):
		d.t.Fatal("no verification run within a minute")
		return nil
	}
}

// slice ticks and returns the slice's record, and the sealed-days run before it if any.
func (d *driven) slice(at time.Time) (*Record, *Record) {
	d.t.Helper()
	d.tick <- at
	r := d.next()
	if r.Kind == KindSealed {
		return d.next(), r
	}
	return r, nil
}

func newLoop(a *archive, c *clock, interval, cycle time.Duration) *Loop {
	pub := a.key.Public().(ed25519.PublicKey)
	return &Loop{Store: a.store, Verifier: verify.Verifier{Ledger: ledger.Ledger{Store: a.store}}, TrustedKeys: []ed25519.PublicKey{pub},
		Key: a.key, Interval: interval, Cycle: cycle, Now: c.Now, Holder: "test"}
}

// TestSliceFindsTampering: a byte changed in a sealed export is found by the next slice:
// the run's record (in the store, signed, readable back) names the problem, the
// problems gauge counts it, a log line says it, and the runs counter has a problems run.
func TestSliceFindsTampering(t *testing.T) {
	a := newArchive(t, "2026-11-22", "2026-11-23")
	c := &clock{now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	l := newLoop(a, c, time.Hour, time.Hour) // one slice is the whole store
	reg := prometheus.NewRegistry()
	l.Register(reg)
	d := start(t, l)

	first := d.next()
	if first.Kind != KindSlice || !first.OK() || first.OrgDays != 4 || first.Objects == 0 || first.Bytes == 0 {
		t.Fatalf("first slice: %+v", first)
	}
	if got := value(l.metrics.problems); got != 0 {
		t.Fatalf("problems %v before tampering", got)
	}

	key := a.tamper(t, globex, "2026-11-23")
	rec, _ := d.slice(c.add(time.Hour))
	if rec.Problems == 0 || rec.Result() != "problems" || !slices.ContainsFunc(rec.ProblemDetails, func(p string) bool { return strings.Contains(p, key) }) {
		t.Fatalf("slice after tampering with %s: %+v", key, rec)
	}
	if got := value(l.metrics.problems); got != float64(rec.Problems) {
		t.Fatalf("chatvault_verify_problems %v, want %d", got, rec.Problems)
	}
	if got := value(l.metrics.runs.WithLabelValues(KindSlice, "problems")); got != 1 {
		t.Fatalf("problem runs %v", got)
	}
	if logs := d.logs.String(); !strings.Contains(logs, `"msg":"verification found a problem"`) || !strings.Contains(logs, key) {
		t.Fatalf("no log line names %s:\n%s", key, logs)
	}
	hist, err := History(context.Background(), a.store, archiver.Day{}, l.TrustedKeys)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1].Key != rec.Key || hist[1].Problems != rec.Problems || hist[1].Signature == nil || hist[0].Problems != 0 {
		t.Fatalf("history %+v", hist)
	}
	// A restarted process reads the problem back from the records: it still counts.
	d.stop()
	again := newLoop(a, c, time.Hour, time.Hour)
	if err := again.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := again.Problems(); got != rec.Problems {
		t.Fatalf("after a restart, %d problems, want %d", got, rec.Problems)
	}
	reliability.Record(t, "security", "a sealed export changed in the store after its seal, found by serve's continuous verification", reliability.CleanFailure,
		"the next slice re-hashes it: chatvault_verify_problems counts it (also after a restart, from the stored records), a log line names the object, and the signed run record under verifications/ lists it")
}

// TestSealedDayVerifiedAtOnce: a day the scheduler seals is verified right away, not at
// the next slice; a day another process sealed is verified at the slice after the one
// that noticed it.
func TestSealedDayVerifiedAtOnce(t *testing.T) {
	a := newArchive(t, "2026-11-22")
	c := &clock{now: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)}
	d := start(t, newLoop(a, c, time.Hour, 7*24*time.Hour))
	if r := d.next(); r.Kind != KindSlice || r.StoreOrgDays != 2 {
		t.Fatalf("first slice: %+v", r)
	}

	a.seal(t, "2026-11-23")
	key := a.tamper(t, acme, "2026-11-23") // what the check must catch, not a formality
	d.Sealed(acme, day(t, "2026-11-23"))
	r := d.next() // no tick: the announcement alone runs it
	want := []Range{{Org: acme, From: "2026-11-23", To: "2026-11-23", Days: 1}}
	if r.Kind != KindSealed || !slices.Equal(r.Ranges, want) || r.Problems == 0 || !strings.Contains(strings.Join(r.ProblemDetails, "\n"), key) {
		t.Fatalf("run after the seal: %+v", r)
	}

	// Sealed by another process (a CronJob): noticed by the next slice, verified by the one after.
	a.seal(t, "2026-11-24")
	if rec, sealed := d.slice(c.add(time.Hour)); sealed != nil || rec.StoreOrgDays != 6 {
		t.Fatalf("slice that notices the 24th: %+v, sealed run %+v", rec, sealed)
	}
	_, sealed := d.slice(c.add(time.Hour))
	// globex's 23rd was sealed with acme's but never announced: noticed the same way.
	want = []Range{{Org: acme, From: "2026-11-24", To: "2026-11-24", Days: 1}, {Org: globex, From: "2026-11-23", To: "2026-11-24", Days: 2}}
	if sealed == nil || !slices.Equal(sealed.Ranges, want) || !sealed.OK() {
		t.Fatalf("the 24th, sealed elsewhere, verified as %+v", sealed)
	}
	reliability.Record(t, "security", "a day tampered with right after its seal", reliability.CleanFailure,
		"serve verifies each day its scheduler seals at once (and days another process sealed one interval after they appear): the problem is reported before the next slice")
}

// countingVerifier records the days each Verify call covers, against the store's days.
type countingVerifier struct {
	mu    sync.Mutex
	err   error // when set, Verify fails (the store cannot be read)
	days  map[OrgDay]bool
	calls map[OrgDay]int
}

func (v *countingVerifier) Verify(_ context.Context, opt verify.Options) (*verify.Report, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return nil, v.err
	}
	for d := opt.From; !d.After(opt.To); d = d.Next() {
		if od := (OrgDay{opt.Org, d}); v.days[od] {
			v.calls[od]++
		}
	}
	return &verify.Report{Orgs: 1}, nil
}

// TestCycleCoversEveryOrgDay: over cycle/interval slices, every sealed organization-day
// of the store is verified exactly once; the pass then starts again; and a restarted
// loop carries on from the stored position instead of starting over.
func TestCycleCoversEveryOrgDay(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	store, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v := &countingVerifier{days: map[OrgDay]bool{}, calls: map[OrgDay]int{}}
	put := func(key string) {
		b := []byte("{}\n")
		if err := store.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, org := range []string{"org-a", "org-a-b", "org-c"} {
		for n := range 10 + i {
			d := day(t, "2026-01-01")
			for range n * 2 { // every other day: gaps are not days
				d = d.Next()
			}
			v.days[OrgDay{org, d}] = true
			put(fmt.Sprintf("orgs/%s/days/%s/r0001.json", org, d))
			if n == 3 {
				put(fmt.Sprintf("orgs/%s/days/%s/r0002.json", org, d)) // a second revision is the same day
			}
		}
		put(fmt.Sprintf("orgs/%s/manifests/000000000001.json", org))
	}
	const slicesPerCycle = 7
	c := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	l := &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: slicesPerCycle * time.Hour, Now: c.Now}
	d := start(t, l)
	var pass []*Record
	pass = append(pass, d.next())
	for len(pass) < slicesPerCycle {
		r, sealed := d.slice(c.add(time.Hour))
		if sealed != nil {
			t.Fatalf("nothing was sealed, yet %+v", sealed)
		}
		pass = append(pass, r)
	}
	for od := range v.days {
		if v.calls[od] != 1 {
			t.Errorf("%s %s verified %d times in one cycle", od.Org, od.Day, v.calls[od])
		}
	}
	if len(v.calls) != len(v.days) || len(v.days) != 33 {
		t.Fatalf("%d days verified of %d", len(v.calls), len(v.days))
	}
	for i, r := range pass {
		if !r.OK() || r.StoreOrgDays != 33 || !r.CycleStarted.Equal(pass[0].Started) || (i < 6 && r.OrgDays != 5) {
			t.Fatalf("slice %d: %+v", i, r)
		}
	}

	// A restart: the new loop takes the slice after the last stored one.
	d.stop()
	clear(v.calls)
	c.add(time.Hour)
	d = start(t, &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: slicesPerCycle * time.Hour, Now: c.Now})
	r := d.next()
	if r.OrgDays != 5 || !r.CycleStarted.Equal(r.Started) {
		// the last pass ended with its 7th slice: a new one starts at the first day
		t.Fatalf("slice after the restart: %+v", r)
	}
	if first := (OrgDay{"org-a", day(t, "2026-01-01")}); v.calls[first] != 1 {
		t.Fatalf("the new pass did not start at the first organization-day: %v", v.calls)
	}
	d.stop()
	clear(v.calls)
	c.add(time.Hour)
	d = start(t, &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: slicesPerCycle * time.Hour, Now: c.Now})
	r = d.next()
	if !r.CycleStarted.Equal(pass[0].Started.Add(slicesPerCycle*time.Hour)) || v.calls[OrgDay{"org-a", day(t, "2026-01-01")}] != 0 || r.OrgDays != 5 {
		t.Fatalf("a second restart started the pass again: %+v %v", r, v.calls)
	}

	// A restart within the interval of the last slice waits for the tick: one run, not two.
	d.stop()
	before, err := History(ctx, store, archiver.Day{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d = start(t, &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: slicesPerCycle * time.Hour, Now: c.Now})
	if r, _ := d.slice(c.add(time.Hour)); r.Cursor == nil || r.OrgDays != 5 {
		t.Fatalf("slice after a restart within the interval: %+v", r)
	}
	if after, err := History(ctx, store, archiver.Day{}, nil); err != nil || len(after) != len(before)+1 {
		t.Fatalf("%d records after a restart and a tick, want %d (%v)", len(after), len(before)+1, err)
	}
	reliability.Record(t, "operations", "continuous verification over a cycle, with restarts", reliability.Recovered,
		"every sealed organization-day is verified exactly once per verify.cycle; a restart carries on from the position in the stored records")
}

// value reads a gauge's or counter's value.
func value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestPositionSurvivesFailuresAndForgeries: a slice that cannot complete (the store
// fails) is recorded as an error, counted, and taken again by the next slice; a record
// forged into the store (unsigned, claiming the pass is over) neither moves the position
// nor stops the slices.
func TestPositionSurvivesFailuresAndForgeries(t *testing.T) {
	ctx := context.Background()
	store, v := fourDayStore(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	l := &Loop{Store: store, Verifier: v, Interval: time.Hour, Cycle: 4 * time.Hour, Now: c.Now, Key: key,
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	reg := prometheus.NewRegistry()
	l.Register(reg)
	d := start(t, l)
	if r := d.next(); r.Cursor == nil || r.Cursor.Day != "2026-02-01" {
		t.Fatalf("first slice: %+v", r)
	}

	v.mu.Lock()
	v.err = fmt.Errorf("store unreachable")
	v.mu.Unlock()
	failed, _ := d.slice(c.add(time.Hour))
	if failed.Result() != "error" || !strings.Contains(failed.Error, "store unreachable") || failed.Cursor != nil {
		t.Fatalf("failed slice: %+v", failed)
	}
	if got := value(l.metrics.runs.WithLabelValues(KindSlice, "error")); got != 1 {
		t.Fatalf("error runs %v", got)
	}
	if got := value(l.metrics.lastRun.WithLabelValues(KindSlice)); got != float64(c.Now().Add(-time.Hour).Unix()) {
		t.Fatalf("last completed run %v: a failed run counted as one", got)
	}
	v.mu.Lock()
	v.err = nil
	v.mu.Unlock()

	forged := []byte(`{"version":1,"kind":"slice","started":"2026-03-01T01:30:00Z","finished":"2026-03-01T01:30:00Z","ranges":[],"orgDays":4,"manifests":0,"objects":0,"bytes":0,"problems":0,"cursor":{"org":"org","day":"2026-02-04"},"cycleStarted":"2026-03-01T00:00:00Z"}` + "\n")
	if err := store.Create(ctx, Prefix+"2026-03-01/013000.000000000-slice-00000000.json", bytes.NewReader(forged), int64(len(forged)), sha256.Sum256(forged), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clear(v.calls)
	r, _ := d.slice(c.add(time.Hour))
	if !r.OK() || r.Cursor == nil || r.Cursor.Day != "2026-02-02" || v.calls[OrgDay{"org", day(t, "2026-02-02")}] != 1 {
		t.Fatalf("slice after a failed one and a forged record: %+v, verified %v", r, v.calls)
	}
	if !strings.Contains(d.logs.String(), "verification record skipped") {
		t.Fatalf("the forged record was not logged:\n%s", d.logs.String())
	}
	reliability.Record(t, "fault", "the store fails during a verification slice", reliability.Recovered,
		"the run is recorded as an error (chatvault_verify_runs_total{result=\"error\"}, no last-run update, so ChatvaultVerifyStalled can fire) and the next slice takes the same days again")
	reliability.Record(t, "security", "a verification record forged into the store to skip the rest of the pass", reliability.Refused,
		"its signature does not verify against the trusted key: skipped (logged), and the position stays where the last genuine slice left it")
}

// fourDayStore returns a folder store with one organization's days 2026-02-01 to
// 2026-02-04, and a verifier that finds each of them good.
func fourDayStore(t *testing.T) (*fsstore.Store, *countingVerifier) {
	t.Helper()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v := &countingVerifier{days: map[OrgDay]bool{}, calls: map[OrgDay]int{}}
	d0 := day(t, "2026-02-01")
	for i := range 4 {
		b := []byte("{}\n")
		d := archiver.DayOf(d0.Start().AddDate(0, 0, i))
		v.days[OrgDay{"org", d}] = true
		if err := store.Create(context.Background(), fmt.Sprintf("orgs/org/days/%s/r0001.json", d), bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return store, v
}
