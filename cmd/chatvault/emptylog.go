package main

import (
	"context"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/scheduler"
)

// dayLister is a Source that lists the days it holds a partition of (the folder and S3
// event logs).
type dayLister interface {
	Days(ctx context.Context) ([]archiver.Day, error)
}

// eventLogDays lists the event log's partitions; ok is false when its Source cannot list
// them (the checks below then have nothing to go on).
func eventLogDays(ctx context.Context, e *env, src archiver.Source) (days []archiver.Day, ok bool, err error) {
	l, ok := src.(dayLister)
	if !ok {
		return nil, false, nil
	}
	days, err = l.Days(ctx)
	if err != nil {
		return nil, true, fmt.Errorf("eventlog %s: %w", e.cfg.EventLog, err)
	}
	return days, true, nil
}

// checkEventLogHasPartitions fails a catch-up that left days pending when the event log
// holds not one partition: eventlog names the wrong folder or prefix (its parent, a
// typo, a mount not mounted), not a producer running late. Without it such a run exited
// 0 every hour with every day pending, and a host without serve's metrics never learnt
// that nothing was sealed. A log holding some partition keeps missing days pending.
func checkEventLogHasPartitions(ctx context.Context, e *env, src archiver.Source) error {
	days, ok, err := eventLogDays(ctx, e, src)
	if !ok || err != nil {
		return err
	}
	if len(days) > 0 {
		return nil
	}
	return fmt.Errorf("eventlog %s holds no partition (YYYY-MM-DD) at all while days are due: check the eventlog setting (a parent folder, a mistyped prefix, a mount not mounted)", e.cfg.EventLog)
}

// checkProducerDelivering fails a catch-up that left days pending after the event log's
// newest partition when the first of them ended scheduler.DefaultRetryFor ago or more:
// the producer has delivered nothing since, and is absent, not late. DESIGN has a
// missing partition raise an alert; serve's ChatvaultPartitionMissing and
// ChatvaultDayNotSealed do, but on a host where cron, a systemd timer or a CronJob runs
// `chatvault run` without serve's metrics, the run exited 0 every hour and nobody heard.
// What the run could seal is sealed all the same. A gap before the newest partition (a
// day skipped, a backlog before the log begins) stays pending with exit 0: the producer
// is delivering, and the pending line names the gap at every run.
func checkProducerDelivering(ctx context.Context, e *env, src archiver.Source, pending []string, now time.Time) error {
	l, ok := src.(dayLister)
	if !ok || len(pending) == 0 {
		return nil
	}
	days, err := l.Days(ctx)
	if err != nil {
		return fmt.Errorf("eventlog %s: %w", e.cfg.EventLog, err)
	}
	if len(days) == 0 {
		return nil // checkEventLogHasPartitions' case
	}
	newest := days[len(days)-1]
	var after []string
	var first archiver.Day
	for _, p := range pending {
		d, err := archiver.ParseDay(p)
		if err != nil || !d.After(newest) {
			continue
		}
		if first.IsZero() || d.Before(first) {
			first = d
		}
		after = append(after, p)
	}
	if len(after) == 0 || now.Before(first.End().Add(scheduler.DefaultRetryFor)) {
		return nil
	}
	return fmt.Errorf("eventlog %s: its newest partition is %s, and the %d day(s) due since (%s) were not delivered, the first ended %s ago: "+
		"the producer may have stopped (or this host's clock, at %s, is ahead); they are sealed once their partitions arrive",
		e.cfg.EventLog, newest, len(after), pendingDays(after), now.Sub(first.End()).Truncate(time.Minute), now.UTC().Format(time.RFC3339))
}

// checkClockBehindEventLog fails a catch-up that sealed nothing when the event log already
// holds the partition of a day that has not begun on this host's clock, by more than a
// day (a producer writes today's partition; its clock and this host's may differ by
// minutes, not days): the clock is behind (an RTC reset, a VM restored from an old
// snapshot, a node without NTP). Such a run planned the days through its yesterday,
// found them sealed or before every archivalStart, and exited 0 "0 sealed, 0 failed, 0
// pending" at every run, archiving nothing without a word. Only a run that sealed nothing
// lists the event log for it.
func checkClockBehindEventLog(ctx context.Context, e *env, src archiver.Source, now time.Time) error {
	days, ok, err := eventLogDays(ctx, e, src)
	if !ok || err != nil {
		return err
	}
	if len(days) == 0 {
		return nil
	}
	newest := days[len(days)-1]
	if !newest.Start().After(now.Add(24 * time.Hour)) {
		return nil
	}
	return fmt.Errorf("this host's clock says %s, but eventlog %s already holds the partition of %s, a day that begins %s later: "+
		"this host's clock is behind (an RTC reset, a VM restored from an old snapshot, no NTP?) or the producer's ahead; nothing is sealed until they agree",
		now.UTC().Format(time.RFC3339), e.cfg.EventLog, newest, newest.Start().Sub(now).Truncate(time.Minute))
}
