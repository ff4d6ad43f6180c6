package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCronNeverFiringRefused: a schedule.cron that names no real time (February 30th,
// April 31st) made robfig/cron's Next return the zero time, so serve's scheduler computed
// a negative wait and ticked again at once, forever: every organization listed in a tight
// loop, and the nightly run never "scheduled". It is refused at load, naming the key.
func TestCronNeverFiringRefused(t *testing.T) {
	for _, spec := range []string{"0 0 30 2 *", "30 0 31 4 *", "CRON_TZ=Europe/Paris 0 1 31 11 *"} {
		c := withLocations("./events", "./archive")
		c.Schedule.Cron = spec
		err := c.Validate()
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "schedule.cron" {
			t.Fatalf("Validate() with cron %q = %v, want a schedule.cron error", spec, err)
		}
		if !strings.Contains(err.Error(), "never") {
			t.Errorf("Validate() with cron %q = %q, want it to say the schedule never fires", spec, err)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate() error %v is not ErrInvalid (exit 2)", err)
		}
	}
	// A schedule that fires rarely but does fire (a leap day) is the operator's choice.
	c := withLocations("./events", "./archive")
	c.Schedule.Cron = "0 0 29 2 *"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() with a leap-day cron: %v", err)
	}
	reliability.Record(t, "operations", "schedule.cron naming no real time (0 0 30 2 *: February 30th)", reliability.Refused,
		"exit 2 at load: schedule.cron never fires; before, serve's scheduler got a zero next time and ticked in a tight loop")
}

// TestCronDSTGapNotSkipped: with CRON_TZ in a zone with daylight saving, a nightly time
// inside the hour the clocks skip (02:15 in Paris on the last Sunday of March) does not
// exist that night. robfig/cron skips the night, so the day before was sealed a day late
// and ChatvaultDayNotSealed fired; the schedule now fires at that wall time of the
// offset before the change (03:15 summer time), and every other night as written.
func TestCronDSTGapNotSkipped(t *testing.T) {
	tests := []struct {
		cron     string
		from     time.Time
		want     time.Time // the next firing
		thenWant time.Time // and the one after
	}{
		// Paris, 2027-03-28: 02:00 CET becomes 03:00 CEST.
		{"CRON_TZ=Europe/Paris 15 2 * * *", time.Date(2027, 3, 27, 1, 15, 0, 0, time.UTC),
			time.Date(2027, 3, 28, 1, 15, 0, 0, time.UTC), time.Date(2027, 3, 29, 0, 15, 0, 0, time.UTC)},
		// New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
		{"CRON_TZ=America/New_York 30 2 * * *", time.Date(2026, 3, 7, 7, 30, 0, 0, time.UTC),
			time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), time.Date(2026, 3, 9, 6, 30, 0, 0, time.UTC)},
		// Lord Howe Island moves by half an hour: 02:00 becomes 02:30.
		// (2026-10-04; 02:15 at +10:30 is 15:45 UTC the day before).
		{"CRON_TZ=Australia/Lord_Howe 15 2 * * *", time.Date(2026, 10, 3, 14, 0, 0, 0, time.UTC),
			time.Date(2026, 10, 3, 15, 45, 0, 0, time.UTC), time.Date(2026, 10, 4, 15, 15, 0, 0, time.UTC)},
		// The autumn change repeats an hour: the schedule fires on both, as before (the
		// second tick finds nothing to seal).
		{"CRON_TZ=America/New_York 30 1 * * *", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC),
			time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC)},
		// UTC and times outside the skipped hour are unchanged.
		{"30 0 * * *", time.Date(2027, 3, 27, 1, 0, 0, 0, time.UTC),
			time.Date(2027, 3, 28, 0, 30, 0, 0, time.UTC), time.Date(2027, 3, 29, 0, 30, 0, 0, time.UTC)},
		{"CRON_TZ=Europe/Paris 30 0 * * *", time.Date(2027, 3, 27, 1, 0, 0, 0, time.UTC),
			time.Date(2027, 3, 27, 23, 30, 0, 0, time.UTC), time.Date(2027, 3, 28, 22, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		s, err := Schedule{Cron: tt.cron}.CronSchedule()
		if err != nil {
			t.Fatalf("CronSchedule(%q): %v", tt.cron, err)
		}
		got := s.Next(tt.from)
		if !got.Equal(tt.want) {
			t.Errorf("CronSchedule(%q).Next(%s) = %s, want %s", tt.cron, tt.from, got.UTC(), tt.want)
			continue
		}
		if then := s.Next(got); !then.Equal(tt.thenWant) {
			t.Errorf("CronSchedule(%q).Next(%s) = %s, want %s", tt.cron, got.UTC(), then.UTC(), tt.thenWant)
		}
	}
	reliability.Record(t, "operations", "schedule.cron with CRON_TZ at a local time the spring DST change skips (Paris 02:15)", reliability.Kept,
		"the scheduler ticks that night at the same wall time of the old offset (03:15 summer time); robfig/cron skipped the night, sealing the day before a day late")
}
