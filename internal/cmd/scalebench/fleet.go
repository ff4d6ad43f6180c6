package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fleet measures the rows that grow with organizations: one large day over N orgs, a rerun
// of that sealed day, the scheduler's catch-up (`run` with no date) when nothing can be
// sealed, and the objects and folders an organization-day costs.
func (b *bench) fleet(ctx context.Context, day time.Time) ([]row, error) {
	c := b.cfg
	start := day.AddDate(0, 0, 1-c.lookback)
	var seal, rerun, tick, s3seal, s3tick series
	var rssV []string
	var rss []point
	var objects string
	for _, n := range c.fleetOrgs {
		base := filepath.Join(c.dir, fmt.Sprintf("fleet-%d", n))
		log, store, tmp := filepath.Join(base, "log"), filepath.Join(base, "store"), filepath.Join(base, "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return nil, err
		}
		if err := b.gen(ctx, log, day, c.fleetEvents, n); err != nil {
			return nil, err
		}
		if _, err := archiveAll(log, start); err != nil {
			return nil, err
		}
		common := []string{"--eventlog", log, "--temp-dir", tmp}
		r, err := b.cv(ctx, []int{3}, append([]string{"run", "--date", day.Format(dayLayout), "--store", store}, common...)...)
		if err != nil {
			return nil, err
		}
		x := float64(n)
		rss = append(rss, point{x, float64(r.maxRSS)})
		seal.add(x, r, fmt.Sprintf("%d orgs: %s (%.0f events/s, CPU %s, RSS %s)", n, dur(r.wall),
			float64(c.fleetEvents)/r.wall.Seconds(), dur(r.cpu), mib(r.maxRSS)))
		rssV = append(rssV, fmt.Sprintf("%d orgs: %s", n, mib(r.maxRSS)))
		if n == c.fleetOrgs[len(c.fleetOrgs)-1] {
			if objects, err = objectsPerOrgDay(store); err != nil {
				return nil, err
			}
		}

		r, err = b.cv(ctx, []int{3}, append([]string{"run", "--date", day.Format(dayLayout), "--store", store}, common...)...)
		if err != nil {
			return nil, err
		}
		rerun.add(x, r, fmt.Sprintf("%d orgs: %s (CPU %s)", n, dur(r.wall), dur(r.cpu)))

		r, err = b.cv(ctx, []int{3}, append([]string{"run", "--store", store}, common...)...)
		if err != nil {
			return nil, err
		}
		tick.add(x, r, fmt.Sprintf("%d orgs: %s (CPU %s)", n, dur(r.wall), dur(r.cpu)))

		if c.s3 && slices.Contains(c.s3FleetOrgs, n) {
			s3store := fmt.Sprintf("s3://%s/fleet-%d", bucket, n)
			r, err := b.cv(ctx, []int{3}, append([]string{"run", "--date", day.Format(dayLayout), "--store", s3store}, common...)...)
			if err != nil {
				return nil, err
			}
			s3seal.add(x, r, fmt.Sprintf("%d orgs: %s, %s", n, dur(r.wall), requestsNote(r)))
			r, err = b.cv(ctx, []int{3}, append([]string{"run", "--store", s3store}, common...)...)
			if err != nil {
				return nil, err
			}
			s3tick.add(x, r, fmt.Sprintf("%d orgs: %s, %s", n, dur(r.wall), requestsNote(r)))
		}
		// The fleet's stores are large; only the last size's is kept for a look afterwards.
		if n != c.fleetOrgs[len(c.fleetOrgs)-1] {
			if err := os.RemoveAll(base); err != nil {
				return nil, err
			}
		}
	}
	look := fmt.Sprintf("%d-day look-back", c.lookback)
	rows := []row{
		{fmt.Sprintf("scheduler tick (`run`, no date) over N orgs with 1 sealed day, %s, nothing to seal (folder store)", look),
			tick.value(), tick.law("org")},
		{"`run --date` of the day already sealed (reads the partition again, commits nothing), N orgs (folder store)",
			rerun.value(), rerun.law("org")},
	}
	if len(s3tick.val) > 0 {
		rows = append(rows,
			row{fmt.Sprintf("scheduler tick on S3 (MinIO), %s, nothing to seal", look), s3tick.value(), s3tick.law("org")},
			row{"seal of one day on S3 (MinIO): requests", s3seal.value(), s3seal.law("org")})
	}
	rows = append(rows,
		row{fmt.Sprintf("one day of %d events over N orgs (`run --date`, folder store)", c.fleetEvents), seal.value(), seal.law("org")},
		row{"peak RSS of that seal", strings.Join(rssV, "; "), bytesLaw(rss, "org")},
		row{fmt.Sprintf("objects and folders per org-day (folder store, the %d-org day)", c.fleetOrgs[len(c.fleetOrgs)-1]), objects,
			"× 25.55 M org-days (10,000 orgs × 7 years): see the history row for the marginal cost"},
	)
	return rows, nil
}

// bytesLaw describes how a byte count grows with a size.
func bytesLaw(pts []point, unit string) string {
	slope, intercept, exp, ok := fit(pts)
	if !ok {
		return "one size only: no law"
	}
	return fmt.Sprintf("%+.1f KiB per %s (fixed %s)%s", slope/1024, unit, mib(int64(intercept)), exponentNote(exp))
}

// objectsPerOrgDay splits the organizations of a one-day store into those whose day is
// empty and those with records, and reports the files and folders under orgs/<org>/ of
// each (the organization's own folder included), with the day-level objects beside.
func objectsPerOrgDay(store string) (string, error) {
	orgs, err := perOrg(store)
	if err != nil {
		return "", err
	}
	var empty, full struct{ n, files, dirs int }
	for _, od := range orgs {
		t := &full
		if od.days > 0 && od.records == 0 {
			t = &empty
		}
		t.n++
		t.files += od.files
		t.dirs += od.dirs
	}
	all, err := countTree(store)
	if err != nil {
		return "", err
	}
	orgTree, err := countTree(filepath.Join(store, "orgs"))
	if err != nil {
		return "", err
	}
	avg := func(a, n int) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(a)/float64(n))
	}
	return fmt.Sprintf("empty day (%d orgs): %s objects + %s folders; non-empty (%d orgs): %s objects + %s folders; plus %d day-level objects (accounting, quarantine) for the whole day",
		empty.n, avg(empty.files, empty.n), avg(empty.dirs, empty.n), full.n, avg(full.files, full.n), avg(full.dirs, full.n),
		all.files-orgTree.files), nil
}
