package kubernetes

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCronJobRunsHourly: `chatvault run` is one catch-up tick and does not wait for a
// partition to close, so a CronJob that runs once a night seals a day whose producer
// closes it after the run a whole day late. The CronJob must run at least hourly (a run
// with nothing due writes nothing and exits 0), checked on the schedule's next two days of
// run times as Kubernetes computes them (the same five-field cron syntax, robfig/cron).
func TestCronJobRunsHourly(t *testing.T) {
	m := decodeAll(t)
	if len(m.cronJobs) == 0 {
		t.Fatal("no CronJob in the manifests")
	}
	for _, cj := range m.cronJobs {
		if tz := cj.Spec.TimeZone; tz == nil || *tz != "Etc/UTC" {
			t.Errorf("CronJob/%s: timeZone %v, want Etc/UTC (chatvault's days are UTC days)", cj.Name, tz)
		}
		sched, err := cron.ParseStandard(cj.Spec.Schedule)
		if err != nil {
			t.Fatalf("CronJob/%s: schedule %q: %v", cj.Name, cj.Spec.Schedule, err)
		}
		at := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		end := at.Add(48 * time.Hour)
		var gap time.Duration
		for next := sched.Next(at); !at.After(end); at, next = next, sched.Next(next) {
			gap = max(gap, next.Sub(at))
		}
		if gap > time.Hour {
			t.Errorf("CronJob/%s: schedule %q leaves %s between runs; want at most 1h, or a day closed after the run is sealed a day late", cj.Name, cj.Spec.Schedule, gap)
		}
		if d := cj.Spec.StartingDeadlineSeconds; d == nil || time.Duration(*d)*time.Second > time.Hour {
			t.Errorf("CronJob/%s: startingDeadlineSeconds %v: want at most an hour, so a missed run is not started on top of the next", cj.Name, d)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "Kubernetes CronJob scheduled once a night (30 0 * * *)", reliability.Refused,
			"TestCronJobRunsHourly fails when the CronJob leaves more than an hour between runs: `run` does not wait for a partition to close, so a day closed after a nightly run was sealed a day late; the CronJob now runs at minute 15 of every hour")
	}
}
