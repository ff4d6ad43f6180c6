package main

import (
	"context"
	"time"

	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/model"
)

// ledgerRefreshInterval is how often serve re-reads the store's ledger for the freshness
// metrics (scheduler.Freshness): a day sealed by another process (a CronJob's `chatvault
// run`, another replica) shows within it. Each read after the first makes one listing per
// organization, past its last sealed day, a lookup per earlier gap, and reads only the
// accounting objects not read yet (scheduler.Freshness).
const ledgerRefreshInterval = time.Minute

// runFreshness reads the ledger at once, then every ledgerRefreshInterval (or at each
// serveHooks.ledgerRefresh in tests), until ctx is done. A failed read is logged and
// counted (chatvault_ledger_refresh_failures_total); the gauges keep what was read before.
func runFreshness(ctx context.Context, e *env, f *scheduler.Freshness) {
	var tick <-chan time.Time = serveHooks.ledgerRefresh
	if tick == nil {
		t := time.NewTicker(ledgerRefreshInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		refreshFreshness(ctx, e, f)
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

func refreshFreshness(ctx context.Context, e *env, f *scheduler.Freshness) {
	err := f.Refresh(ctx)
	if err != nil && ctx.Err() == nil {
		e.log.Error("cannot read the store's ledger for the freshness metrics; they keep the last values read", "err", err)
	}
	if serveHooks.ledgerRefreshed != nil {
		serveHooks.ledgerRefreshed(err)
	}
}

// archivingOrgs returns the ids of the organizations that archive.
func archivingOrgs(dir *model.Directory) []string {
	var ids []string
	for _, o := range dir.Organizations {
		if o.Archival {
			ids = append(ids, o.ID)
		}
	}
	return ids
}
