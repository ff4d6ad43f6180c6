package scheduler

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
)

// ledgerFake is a store's ledger as Freshness reads it, counting the reads.
type ledgerFake struct {
	mu         sync.Mutex
	sealed     map[string]bool // "org day"
	failed     map[string]bool
	accounting map[string]*archiver.StoredAccounting // key → object
	latest     int                                   // ListDays and DayKeys calls
	reads      int                                   // ReadAccounting calls
	err        error
}

func (l *ledgerFake) keys(org string, d archiver.Day) ledger.DayKeys {
	k := ledger.DayKeys{Day: d}
	if l.sealed[org+" "+d.String()] {
		k.Revision = "r"
	}
	if l.failed[org+" "+d.String()] {
		k.Failed = "f"
	}
	return k
}

func (l *ledgerFake) ListDays(_ context.Context, org string, from archiver.Day, fn func(ledger.DayKeys) error) error {
	l.mu.Lock()
	l.latest++
	if l.err != nil {
		l.mu.Unlock()
		return l.err
	}
	var days []ledger.DayKeys
	seen := map[string]bool{}
	for _, m := range []map[string]bool{l.sealed, l.failed} {
		for k := range m {
			if o, d, _ := strings.Cut(k, " "); o == org && !seen[d] && !day(d).Before(from) {
				seen[d] = true
				days = append(days, l.keys(org, day(d)))
			}
		}
	}
	l.mu.Unlock()
	slices.SortFunc(days, func(a, b ledger.DayKeys) int { return a.Day.Start().Compare(b.Day.Start()) })
	for _, k := range days {
		if err := fn(k); err != nil {
			if errors.Is(err, archiver.ErrStopListing) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (l *ledgerFake) DayKeys(_ context.Context, org string, d archiver.Day) (ledger.DayKeys, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latest++
	if l.err != nil {
		return ledger.DayKeys{}, l.err
	}
	return l.keys(org, d), nil
}

func (l *ledgerFake) AccountingKeysFrom(_ context.Context, from archiver.Day, fn func(string, archiver.Day) error) error {
	l.mu.Lock()
	var keys []string
	for k := range l.accounting {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	// Keys are "accounting/<date>/<n>": sorted as the store lists them.
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	for _, k := range keys {
		if d := day(strings.Split(k, "/")[1]); d.Before(from) {
			continue
		}
		if err := fn(k, day(strings.Split(k, "/")[1])); err != nil {
			return err
		}
	}
	return nil
}

func (l *ledgerFake) ReadAccounting(_ context.Context, key string) (*archiver.StoredAccounting, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	return l.accounting[key], nil
}

func accountingOf(date string, quarantined int64, sealedAt string) *archiver.StoredAccounting {
	return &archiver.StoredAccounting{Accounting: &archiver.Accounting{Date: date, SealedAt: sealedAt,
		Input: archiver.InputCounts{Quarantined: quarantined}}}
}

func TestFreshnessFromLedger(t *testing.T) {
	// A archives from the 18th, B from the 20th; C does not archive. Today is the 24th.
	l := &ledgerFake{
		sealed: map[string]bool{orgA + " 2026-11-18": true, orgA + " 2026-11-19": true, orgA + " 2026-11-21": true,
			orgB + " 2026-11-20": true, orgB + " 2026-11-21": true, orgB + " 2026-11-22": true, orgB + " 2026-11-23": true},
		failed: map[string]bool{orgA + " 2026-11-20": true},
		accounting: map[string]*archiver.StoredAccounting{
			"accounting/2026-11-18/1": accountingOf("2026-11-18", 0, "2026-11-19T01:00:00Z"),
			"accounting/2026-11-21/1": accountingOf("2026-11-21", 3, "2026-11-22T01:00:00Z"),
		},
	}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	dir, err := model.ParseDirectory([]byte(directory))
	if err != nil {
		t.Fatal(err)
	}
	var known []string
	f := &Freshness{Ledger: l, Directory: func(context.Context) (*model.Directory, error) { return dir, nil },
		Now: func() time.Time { return now }, OnOrgs: func(o []string) { known = o }}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f)

	// Before the ledger is read, no gauge: a zero would read as "never sealed" and page.
	for k := range scrape(t, reg) {
		if k != "chatvault_ledger_refresh_failures_total" {
			t.Errorf("%s before the first read", k)
		}
	}
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := func(d string) string { return strconv.FormatInt(day(d).Start().Unix(), 10) }
	want := map[string]string{
		`chatvault_days_failed{org="` + orgA + `"}`:                          "1",
		`chatvault_days_failed{org="` + orgB + `"}`:                          "0",
		`chatvault_days_pending{org="` + orgA + `"}`:                         "2",
		`chatvault_days_pending{org="` + orgB + `"}`:                         "0",
		`chatvault_first_unsealed_day_timestamp_seconds{org="` + orgA + `"}`: ts("2026-11-20"),
		`chatvault_first_unsealed_day_timestamp_seconds{org="` + orgB + `"}`: ts("2026-11-24"),
		`chatvault_last_sealed_day_timestamp_seconds{org="` + orgA + `"}`:    ts("2026-11-21"),
		`chatvault_last_sealed_day_timestamp_seconds{org="` + orgB + `"}`:    ts("2026-11-23"),
		`chatvault_quarantined_days`:                                         "1",
		`chatvault_quarantined_records`:                                      "3",
		`chatvault_last_quarantine_timestamp_seconds`:                        strconv.FormatInt(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC).Unix(), 10),
		`chatvault_ledger_refresh_failures_total`:                            "0",
	}
	got := scrape(t, reg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %s", k, got[k], v)
		}
	}
	if strings.Join(known, ",") != orgA+","+orgB {
		t.Errorf("OnOrgs heard %v, want the archiving organizations", known)
	}

	// Another process seals A's 22nd and 23rd (the 23rd quarantining 2 records) and
	// retries the 20th: the next read sees it, reading only the days not sealed before.
	l.mu.Lock()
	l.sealed[orgA+" 2026-11-22"], l.sealed[orgA+" 2026-11-23"], l.sealed[orgA+" 2026-11-20"] = true, true, true
	l.accounting["accounting/2026-11-23/1"] = accountingOf("2026-11-23", 2, "2026-11-24T08:59:00Z")
	l.latest, l.reads = 0, 0
	l.mu.Unlock()
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A: its gap (the 20th) looked up, and the days after its last sealed day (the 21st)
	// listed; B: the days after the 23rd listed.
	if l.latest != 3 || l.reads != 1 {
		t.Errorf("second read: %d listings and %d accounting objects read, want 3 and 1 (only what was not sealed or read)", l.latest, l.reads)
	}
	orgs := f.Orgs()
	if orgs[0].LastSealed != day("2026-11-23") || orgs[0].FirstUnsealed != day("2026-11-24") || orgs[0].Pending+orgs[0].Failed != 0 {
		t.Errorf("A after the outside seals: %+v", orgs[0])
	}
	if v := value(t, reg, "chatvault_quarantined_records"); v != 5 {
		t.Errorf("quarantined records %v, want 5", v)
	}

	// A store that cannot be read: the gauges keep the last values, the failure counts.
	now = now.AddDate(0, 0, 1)
	l.mu.Lock()
	l.err = errors.New("store down")
	l.mu.Unlock()
	if err := f.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh with the store down: no error")
	}
	if got := f.Orgs(); got[0].LastSealed != day("2026-11-23") {
		t.Errorf("after a failed read: %+v, want the previous values", got[0])
	}
	if v := value(t, reg, "chatvault_ledger_refresh_failures_total"); v != 1 {
		t.Errorf("refresh failures %v, want 1", v)
	}
}

// scrape returns every series of reg, by name and labels as in the exposition format,
// with its value formatted as an integer when it is one.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range fams {
		for _, m := range f.Metric {
			name := f.GetName()
			if len(m.Label) > 0 {
				var ls []string
				for _, l := range m.Label {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				name += "{" + strings.Join(ls, ",") + "}"
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[name] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return out
}

// value returns the value of the one series of the named family in reg.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.Metric) == 1 {
			m := f.Metric[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no single series %s", name)
	return 0
}

// TestCountersExistFromZero: every counter an alert rule takes increase() of is there at
// zero before anything happened, per organization once serve knows them, so that the
// first failure after a restart shows as an increase.
func TestCountersExistFromZero(t *testing.T) {
	s := &Scheduler{}
	reg := prometheus.NewRegistry()
	s.Register(reg)
	s.KnownOrgs([]string{orgA, orgB})
	got := scrape(t, reg)
	for _, name := range []string{
		`chatvault_seal_failures_total{org="` + orgA + `"}`,
		`chatvault_seal_failures_total{org="` + orgB + `"}`,
		`chatvault_seal_failures_total{org="all"}`,
		`chatvault_scheduler_runs_total{result="failed"}`,
		`chatvault_scheduler_runs_total{result="ok"}`,
		`chatvault_events_total{outcome="quarantined"}`,
		`chatvault_partition_missing_total`,
	} {
		if got[name] != "0" {
			t.Errorf("%s = %q at start, want 0", name, got[name])
		}
	}
}
