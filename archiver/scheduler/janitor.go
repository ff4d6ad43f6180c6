package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// The scheduler's janitor deletes its own state that no lookup reads again, where the
// store lets it (archiver.Deletable): the lease's links of the epochs before its last two
// (Lease.Prune) and the watermarks older than watermarkKeep days. A tick that holds the
// lease runs it, at most once a day per process. A store that cannot delete, or refuses
// (an S3 bucket whose Object Lock keeps every object), keeps them: the lookups stay
// bounded by the key layouts all the same (lease_epochs.go, watermark.go), and the
// janitor says so once a day in the log.

// watermarkKeep is the age in days past which a watermark is deleted: a week more than
// the window a process reads (watermarkWindow), so that no process whose clock is behind
// by less than a week can still be reading it.
const watermarkKeep = watermarkWindow + 7

// janitor runs the janitor when it has not run today in this process. A last run's day
// after today was a clock's that ran ahead (stepped back since): waiting for today to
// pass it stopped the janitor, in this process, for as long as the step.
func (s *Scheduler) janitor(ctx context.Context) {
	today := archiver.DayOf(s.Clock.Now())
	if s.janitorDay == today {
		return
	}
	s.janitorDay = today
	if s.Lease != nil {
		if n, err := s.Lease.Prune(ctx); err != nil {
			s.Logger.Warn("the seal lease's old links are kept", "deleted", n, "err", err)
		}
	}
	if s.Watermarks != nil {
		if n, err := pruneWatermarks(ctx, s.Watermarks, today); err != nil {
			s.Logger.Warn("the scheduler's old watermarks are kept", "deleted", n, "err", err)
		}
	}
}

// pruneWatermarks deletes the watermarks written more than watermarkKeep days before
// today: one listing, stopped at the first younger one, and a request per deletion.
func pruneWatermarks(ctx context.Context, st archiver.Store, today archiver.Day) (int, error) {
	d, ok := st.(archiver.Deleter)
	if !ok {
		return 0, fmt.Errorf("prune %s: %w", watermarkPrefix, errNoDelete)
	}
	cutoff := archiver.DayOf(today.Start().Add(-watermarkKeep * 24 * time.Hour))
	var old []string
	err := st.List(ctx, watermarkPrefix, func(k string) error {
		date, _, _ := strings.Cut(strings.TrimPrefix(k, watermarkPrefix), "/")
		day, err := archiver.ParseDay(date)
		if err != nil {
			return nil // not a watermark of ours: left alone
		}
		if !day.Before(cutoff) {
			return archiver.ErrStopListing // keys sort by date: the rest are younger
		}
		old = append(old, k)
		return nil
	})
	if err != nil && !errors.Is(err, archiver.ErrStopListing) {
		return 0, fmt.Errorf("prune %s: %w", watermarkPrefix, err)
	}
	n := 0
	for _, k := range old {
		if err := d.Delete(ctx, k); err != nil && !errors.Is(err, archiver.ErrNotFound) {
			return n, fmt.Errorf("prune %s: %w", watermarkPrefix, err)
		}
		n++
	}
	return n, nil
}
