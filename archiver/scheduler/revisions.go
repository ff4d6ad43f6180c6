package scheduler

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/prometheus/client_golang/prometheus"
)

// RevisionLedger is what the revision metrics read of the store (ledger.Ledger).
type RevisionLedger interface {
	SupersessionKeys(ctx context.Context, fn func(key string) error) error
	Supersession(ctx context.Context, key string) (archiver.SupersessionRecord, bool, error)
	RefusedRevisions(ctx context.Context, fn func(at time.Time) error) error
}

// RevisionCollector exposes the store's record of revisions that drop records: those an
// operator superseded (run --supersede) and those refused. Supersessions are committed by
// `chatvault run`, a separate process with no metrics of its own, so the numbers are
// derived from the store at every scrape, not counted in this process: they are the same
// whichever replica is scraped, and survive restarts.
//
// They are gauges, not counters: a record's retention may end, and a count that falls
// must not read as a counter reset. Alert on the timestamps instead (deploy/prometheus).
// No metric carries an organization: which one is in the store and the logs, for the
// operator, not in a metric another organization might read.
type RevisionCollector struct {
	Ledger RevisionLedger
	Logger *slog.Logger
	// Timeout bounds one scrape's reading of the store (default 10s).
	Timeout time.Duration

	mu sync.Mutex
	// committed caches the supersession records already found committed: they are
	// immutable, so each is read once. Records not (yet) committed are read again.
	committed map[string]archiver.SupersessionRecord
}

var (
	descSuperseded = prometheus.NewDesc("chatvault_revisions_superseded",
		"Revisions in the store committed by an operator's supersession (run --supersede): each drops records of the revision it follows.", nil, nil)
	descSupersededDropped = prometheus.NewDesc("chatvault_revisions_superseded_dropped_records",
		"Records dropped by the superseding revisions in the store.", nil, nil)
	descSupersededLast = prometheus.NewDesc("chatvault_revisions_superseded_last_timestamp_seconds",
		"When the latest superseding revision was sealed (Unix time; 0: never).", nil, nil)
	descRefused = prometheus.NewDesc("chatvault_revisions_refused",
		"New revisions refused because they would drop records of the committed one (the day failed; the revision before stays served).", nil, nil)
	descRefusedLast = prometheus.NewDesc("chatvault_revisions_refused_last_timestamp_seconds",
		"When a new revision was last refused for dropping records (Unix time; 0: never).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *RevisionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSuperseded, descSupersededDropped, descSupersededLast, descRefused, descRefusedLast} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. When the store cannot be read, the metrics it
// could not derive are left out of the scrape (and the error logged): reported as zero,
// an outage would look like "no supersession"; reported as an error, it would fail the
// scrape of every other metric.
func (c *RevisionCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if c.committed == nil {
		c.committed = map[string]archiver.SupersessionRecord{}
	}
	err := c.Ledger.SupersessionKeys(ctx, func(key string) error {
		if _, ok := c.committed[key]; ok {
			return nil
		}
		r, ok, err := c.Ledger.Supersession(ctx, key)
		if err != nil || !ok {
			return err
		}
		c.committed[key] = r
		return nil
	})
	if err != nil {
		c.invalid(err)
	} else {
		var n, dropped float64
		var last time.Time
		// A revision counts once, however many records name it.
		counted := map[string]bool{}
		for _, r := range c.committed {
			rev := r.Org + " " + r.Date + " " + strconv.Itoa(r.Revision)
			if counted[rev] {
				continue
			}
			counted[rev] = true
			n++
			dropped += float64(r.Supersedes.Dropped)
			if r.SealedAt.After(last) {
				last = r.SealedAt
			}
		}
		ch <- prometheus.MustNewConstMetric(descSuperseded, prometheus.GaugeValue, n)
		ch <- prometheus.MustNewConstMetric(descSupersededDropped, prometheus.GaugeValue, dropped)
		ch <- prometheus.MustNewConstMetric(descSupersededLast, prometheus.GaugeValue, unixSeconds(last))
	}

	var refused float64
	var lastRefused time.Time
	err = c.Ledger.RefusedRevisions(ctx, func(at time.Time) error {
		refused++
		if at.After(lastRefused) {
			lastRefused = at
		}
		return nil
	})
	if err != nil {
		c.invalid(err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.GaugeValue, refused)
	ch <- prometheus.MustNewConstMetric(descRefusedLast, prometheus.GaugeValue, unixSeconds(lastRefused))
}

func (c *RevisionCollector) invalid(err error) {
	if c.Logger != nil {
		c.Logger.Error("revision metrics: cannot read the store", "err", err)
	}
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
