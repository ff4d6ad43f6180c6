package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// chainRow measures the chain head lookup on one long chain: one organization with
// SCALEBENCH_CHAIN_DAYS sealed days (off by default: generating and sealing years of days
// takes minutes). It times the seal of day 100 and of the last day alone, so the chain
// then holds 99 and CHAIN_DAYS-1 manifests; on S3 a lookup that lists the whole chain
// makes one more LIST per 1,000 manifests.
func (b *bench) chainRow(ctx context.Context, last time.Time) ([]row, error) {
	c := b.cfg
	days := c.chainDays
	first := last.AddDate(0, 0, 1-days)
	base := filepath.Join(c.dir, "chain")
	log, store, tmp := filepath.Join(base, "log"), filepath.Join(base, "store"), filepath.Join(base, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "scalebench: generating %d days for one organization\n", days)
	for i := 0; i < days; i++ {
		if err := b.gen(ctx, log, first.AddDate(0, 0, i), 200, 1); err != nil {
			return nil, err
		}
		if i == 0 {
			if _, err := archiveAll(log, first); err != nil {
				return nil, err
			}
		}
	}
	stores := []string{store}
	if c.s3 {
		stores = append(stores, fmt.Sprintf("s3://%s/chain", bucket))
	}
	var rows []row
	for si, st := range stores {
		var se series
		sealed := 0
		for _, k := range []int{min(100, days-1), days} {
			common := []string{"--eventlog", log, "--store", st, "--temp-dir", tmp}
			if k-1 > sealed {
				from, to := first.AddDate(0, 0, sealed), first.AddDate(0, 0, k-2)
				if _, err := b.cv(ctx, []int{3}, append([]string{"run", "--from", from.Format(dayLayout), "--to", to.Format(dayLayout)}, common...)...); err != nil {
					return nil, err
				}
			}
			r, err := b.cv(ctx, []int{3}, append([]string{"run", "--date", first.AddDate(0, 0, k-1).Format(dayLayout)}, common...)...)
			if err != nil {
				return nil, err
			}
			se.add(float64(k-1), r, fmt.Sprintf("chain of %d: %s (CPU %s)%s", k-1, dur(r.wall), dur(r.cpu), reqNote(r)))
			sealed = k
		}
		rows = append(rows, row{fmt.Sprintf("chain head lookup on one long chain: `run --date` of the next day, 1 org, %s", kindName(si)),
			se.value(), se.law("manifest in the chain")})
	}
	return rows, nil
}
