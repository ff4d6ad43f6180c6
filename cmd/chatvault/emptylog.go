package main

import (
	"context"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
)

// dayLister is a Source that lists the days it holds a partition of (the folder and S3
// event logs).
type dayLister interface {
	Days(ctx context.Context) ([]archiver.Day, error)
}

// checkEventLogHasPartitions fails a catch-up that left days pending when the event log
// holds not one partition: eventlog names the wrong folder or prefix (its parent, a
// typo, a mount not mounted), not a producer running late. Without it such a run exited
// 0 every hour with every day pending, and a host without serve's metrics never learnt
// that nothing was sealed. A log holding some partition keeps missing days pending.
func checkEventLogHasPartitions(ctx context.Context, e *env, src archiver.Source) error {
	l, ok := src.(dayLister)
	if !ok {
		return nil
	}
	days, err := l.Days(ctx)
	if err != nil {
		return fmt.Errorf("eventlog %s: %w", e.cfg.EventLog, err)
	}
	if len(days) > 0 {
		return nil
	}
	return fmt.Errorf("eventlog %s holds no partition (YYYY-MM-DD) at all while days are due: check the eventlog setting (a parent folder, a mistyped prefix, a mount not mounted)", e.cfg.EventLog)
}
