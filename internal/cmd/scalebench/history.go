package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// history measures the rows that grow with stored days: a store of H organizations is
// sealed day after day, and at each size of SCALEBENCH_HIST_DAYS (K days) it times the
// seal of the K-th day alone (every organization's chain then holds K-1 manifests), a
// full verify and a verify of one day, and counts objects and folders; at the last size,
// it times `status` over a 31-day and a 366-day range.
func (b *bench) history(ctx context.Context, last time.Time) ([]row, error) {
	c := b.cfg
	days := c.histDays[len(c.histDays)-1]
	first := last.AddDate(0, 0, 1-days)
	base := filepath.Join(c.dir, "hist")
	log, store, tmp := filepath.Join(base, "log"), filepath.Join(base, "store"), filepath.Join(base, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "scalebench: generating %d days of %d events for %d orgs\n", days, c.histEvents, c.histOrgs)
	var ids []string
	for i := 0; i < days; i++ {
		if err := b.gen(ctx, log, first.AddDate(0, 0, i), c.histEvents, c.histOrgs); err != nil {
			return nil, err
		}
		if i == 0 {
			var err error
			if ids, err = archiveAll(log, first); err != nil {
				return nil, err
			}
		}
	}
	org := ids[0]
	stores := []string{store}
	if c.s3 {
		stores = append(stores, fmt.Sprintf("s3://%s/hist", bucket))
	}
	var (
		head, verify, verifyDay, status [2]series
		objs                            []point
		objVals                         []string
		prevObjs                        treeCount
		prevOrgDays                     int
	)
	sealed := 0
	for _, k := range c.histDays {
		kday := first.AddDate(0, 0, k-1)
		orgDays := k * c.histOrgs
		for si, st := range stores {
			kind := "folder"
			if si == 1 {
				kind = "S3"
			}
			common := []string{"--eventlog", log, "--store", st}
			if k-1 > sealed {
				from, to := first.AddDate(0, 0, sealed), first.AddDate(0, 0, k-2)
				args := append([]string{"run", "--from", from.Format(dayLayout), "--to", to.Format(dayLayout), "--temp-dir", tmp}, common...)
				if _, err := b.cv(ctx, []int{3}, args...); err != nil {
					return nil, err
				}
			}
			r, err := b.cv(ctx, []int{3}, append([]string{"run", "--date", kday.Format(dayLayout), "--temp-dir", tmp}, common...)...)
			if err != nil {
				return nil, err
			}
			head[si].add(float64(k-1), r, fmt.Sprintf("%s, after %d days: %s (CPU %s)%s", kind, k-1, dur(r.wall), dur(r.cpu), perOrgRequests(r, c.histOrgs)))

			var bytes int64
			if tc, err := countTree(store); err == nil {
				bytes = tc.bytes
			}
			r, err = b.cv(ctx, nil, append([]string{"verify"}, common...)...)
			if err != nil {
				return nil, err
			}
			verify[si].add(float64(orgDays), r, fmt.Sprintf("%s, %d days × %d orgs: %s (CPU %s), %.0f org-days/s, %.1f MB/s%s", kind, k, c.histOrgs,
				dur(r.wall), dur(r.cpu), float64(orgDays)/r.wall.Seconds(), float64(bytes)/1e6/r.wall.Seconds(), reqNote(r)))

			mid := first.AddDate(0, 0, k/2)
			r, err = b.cv(ctx, nil, append([]string{"verify", "--date", mid.Format(dayLayout)}, common...)...)
			if err != nil {
				return nil, err
			}
			verifyDay[si].add(float64(k), r, fmt.Sprintf("%s, 1 of %d days × %d orgs: %s (CPU %s)%s", kind, k, c.histOrgs, dur(r.wall), dur(r.cpu), reqNote(r)))

			if k == c.histDays[len(c.histDays)-1] {
				for _, span := range []int{31, 366} {
					from := last.AddDate(0, 0, 1-span)
					r, err = b.cv(ctx, nil, append([]string{"status", "--org", org, "--from", from.Format(dayLayout), "--to", last.Format(dayLayout)}, common...)...)
					if err != nil {
						return nil, err
					}
					status[si].add(float64(span), r, fmt.Sprintf("%s, %d-day range (%d sealed): %s (CPU %s)%s", kind, span, min(span, k), dur(r.wall), dur(r.cpu), reqNote(r)))
				}
			}
		}
		sealed = k
		tc, err := countTree(filepath.Join(store, "orgs"))
		if err != nil {
			return nil, err
		}
		v := fmt.Sprintf("%d org-days: %d objects, %d folders under orgs/", orgDays, tc.files, tc.dirs)
		if prevOrgDays > 0 {
			d := float64(orgDays - prevOrgDays)
			v += fmt.Sprintf(" (%.2f objects and %.2f folders per added org-day)", float64(tc.files-prevObjs.files)/d, float64(tc.dirs-prevObjs.dirs)/d)
			objs = append(objs, point{float64(tc.files-prevObjs.files) / d, float64(tc.dirs-prevObjs.dirs) / d})
		}
		objVals = append(objVals, v)
		prevObjs, prevOrgDays = tc, orgDays
	}
	objLaw := "one size only: no law"
	if len(objs) > 0 {
		p := objs[len(objs)-1]
		objLaw = fmt.Sprintf("%.2f objects + %.2f folders per org-day: %.0f M objects and %.0f M folders at 25.55 M org-days (10,000 orgs × 7 years)",
			p.x, p.y, p.x*25.55, p.y*25.55)
	}
	rows := []row{{fmt.Sprintf("objects and folders as history grows (folder store, %d orgs)", c.histOrgs), strings.Join(objVals, "; "), objLaw}}
	for si := range stores {
		rows = append(rows,
			row{fmt.Sprintf("`verify` (every day, every org), %s", kindName(si)), verify[si].value(), verify[si].law("org-day")},
			row{fmt.Sprintf("`verify --date` of one day, %s", kindName(si)), verifyDay[si].value(), verifyDay[si].law("sealed day")},
			row{fmt.Sprintf("chain head lookup: `run --date` of one new day after K sealed days, %d orgs, %s", c.histOrgs, kindName(si)),
				head[si].value(), head[si].law("sealed day")},
			row{fmt.Sprintf("`status` of one org over a 31- and a 366-day range, %s", kindName(si)), status[si].value(), status[si].law("day of the range")},
		)
	}
	if c.auditOrgs > 0 {
		audit, err := b.auditRows(ctx, log, ids, first, last)
		if err != nil {
			return nil, err
		}
		rows = append(rows, audit...)
	}
	if c.s3 && len(c.tasks) > 0 && c.tasks[0] > 0 {
		j, err := b.janitorRow(ctx, log, ids, last)
		if err != nil {
			return nil, err
		}
		rows = append(rows, j)
	}
	return rows, nil
}

func kindName(si int) string {
	if si == 1 {
		return "S3 (MinIO)"
	}
	return "folder store"
}

func reqNote(r result) string {
	if r.requests == nil {
		return ""
	}
	return ", " + requestsNote(r)
}

func perOrgRequests(r result, orgs int) string {
	if r.requests == nil {
		return ""
	}
	return fmt.Sprintf(", %s, %.1f per org", requestsNote(r), float64(r.totalRequests())/float64(orgs))
}
