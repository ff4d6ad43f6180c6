package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// janitorRow measures the export-task janitor, which no CLI command runs: serve runs it
// once at start and then hourly. With T stored tasks (made with `chatvault export-task`,
// one day each) it starts serve on the S3 store and counts the requests under tasks/ until
// they stop for two seconds; on S3 that count is the janitor's work (task creation is
// done by then; nothing else of serve's start reads tasks/).
func (b *bench) janitorRow(ctx context.Context, log string, ids []string, day time.Time) (row, error) {
	c := b.cfg
	store := fmt.Sprintf("s3://%s/hist", bucket)
	env := append(append([]string(nil), b.env...), "CHATVAULT_AUTH_TOKENSFILE="+c.dir+"/tokens.json")
	made := 0
	var pts []point
	var vals []string
	for _, t := range c.tasks {
		for ; made < t; made++ {
			if _, err := b.cv(ctx, nil, "export-task", "--org", ids[made%len(ids)], "--from", day.Format(dayLayout), "--to", day.Format(dayLayout),
				"--format", "jsonl", "--store", store, "--eventlog", log); err != nil {
				return row{}, err
			}
		}
		b.proxy.reset()
		start := time.Now()
		s, err := b.startServe(ctx, env, store, log)
		if err != nil {
			return row{}, err
		}
		last, lastAt := -1, time.Now()
		for time.Since(lastAt) < 2*time.Second {
			time.Sleep(200 * time.Millisecond)
			if n := b.proxy.countMatching("tasks/"); n != last {
				last, lastAt = n, time.Now()
			}
		}
		took := lastAt.Sub(start)
		if err := s.stop(); err != nil {
			return row{}, fmt.Errorf("serve: %v (see %s)", err, s.log)
		}
		pts = append(pts, point{float64(t), float64(last)})
		vals = append(vals, fmt.Sprintf("%d tasks: %d requests under tasks/ (serve start to the last: %s)", t, last, dur(took)))
	}
	return row{"export-task janitor (runs in `serve` at start and hourly), S3 (MinIO)", strings.Join(vals, "; "),
		countLaw(pts, "task") + " requests per pass"}, nil
}
