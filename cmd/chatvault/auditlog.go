package main

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
)

// newAuditLog is the access audit as configured (audit.*): segments signed with key (when
// set, never past its retirement: audit.Log.RefuseRetired), locked for the organization's retentionDays from dir, or audit.retentionDays for
// an organization the directory gives none.
func (e *env) newAuditLog(store archiver.Store, key ed25519.PrivateKey, dir func() (*model.Directory, error), now func() time.Time) *audit.Log {
	return &audit.Log{
		Store:      store,
		SigningKey: key,
		// A rotation recorded while serve runs on the old key: nothing verify would
		// report as signed by a retired key (the start refused one already retired).
		RefuseRetired: true,
		FlushInterval: e.cfg.Audit.FlushInterval,
		MaxPending:    e.cfg.Audit.MaxPending,
		Now:           now,
		Logger:        e.log.With("component", "audit"),
		RetentionDays: func(org string) int {
			if dir != nil {
				// An unreadable directory falls back to the configured retention: the
				// segment is written all the same, locked at least that long.
				if d, err := dir(); err == nil {
					for _, o := range d.Organizations {
						if o.ID == org && o.RetentionDays > 0 {
							return o.RetentionDays
						}
					}
				}
			}
			return e.cfg.Audit.RetentionDays
		},
	}
}

// runAuditFlusher writes the audit's buffer every audit.flushInterval until stop closes.
// Records also go out when a request finds them due; this covers quiet periods.
func runAuditFlusher(e *env, log *audit.Log, stop <-chan struct{}) {
	t := time.NewTicker(e.cfg.Audit.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			// A failure is logged and counted by the log itself; its records wait.
			_ = log.Flush(context.Background())
		}
	}
}

// registerAuditMetrics exposes the audit log's counters.
func registerAuditMetrics(reg prometheus.Registerer, log *audit.Log) {
	stat := func(f func(audit.Stats) float64) func() float64 {
		return func() float64 { return f(log.Stats()) }
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chatvault_audit_segments_total",
			Help: "Audit segments written."}, stat(func(s audit.Stats) float64 { return float64(s.Segments) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chatvault_audit_records_total",
			Help: "Access records written to audit segments."}, stat(func(s audit.Stats) float64 { return float64(s.Records) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chatvault_audit_flush_failures_total",
			Help: "Audit segment writes that failed (their records wait in memory and are retried)."},
			stat(func(s audit.Stats) float64 { return float64(s.FlushFailures) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chatvault_audit_refused_total",
			Help: "Requests refused because the audit could not be written beyond its bound."},
			stat(func(s audit.Stats) float64 { return float64(s.Refused) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatvault_audit_pending_records",
			Help: "Access records waiting in memory for their segment."}, stat(func(s audit.Stats) float64 { return float64(s.Pending) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatvault_audit_oldest_pending_seconds",
			Help: "How long the oldest record waiting in memory has waited."},
			stat(func(s audit.Stats) float64 { return s.OldestPending.Seconds() })),
	)
}
