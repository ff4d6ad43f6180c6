package archiver

import (
	"fmt"
	"time"
)

// Day is a UTC calendar day, the unit chatvault seals.
type Day struct{ t time.Time }

// DayLayout is the only accepted spelling of a day.
const DayLayout = "2006-01-02"

// ParseDay parses YYYY-MM-DD. It refuses impossible dates (2026-02-30) and years outside
// 1970..9999 because a day ends up in store keys and in epoch-ms windows.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(DayLayout, s)
	if err != nil || len(s) != len(DayLayout) {
		return Day{}, fmt.Errorf("invalid day %q: want YYYY-MM-DD", s)
	}
	if t.Year() < 1970 {
		return Day{}, fmt.Errorf("invalid day %q: before 1970", s)
	}
	return Day{t}, nil
}

// DayOf returns the UTC day that holds t.
func DayOf(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// String returns YYYY-MM-DD.
func (d Day) String() string { return d.t.Format(DayLayout) }

// IsZero reports whether d is the zero Day.
func (d Day) IsZero() bool { return d.t.IsZero() }

// Start is the day's first instant.
func (d Day) Start() time.Time { return d.t }

// End is the first instant of the next day.
func (d Day) End() time.Time { return d.t.AddDate(0, 0, 1) }

// Next returns the following day.
func (d Day) Next() Day { return Day{d.t.AddDate(0, 0, 1)} }

// Prev returns the day before.
func (d Day) Prev() Day { return Day{d.t.AddDate(0, 0, -1)} }

// Before reports whether d is earlier than o.
func (d Day) Before(o Day) bool { return d.t.Before(o.t) }

// After reports whether d is later than o.
func (d Day) After(o Day) bool { return d.t.After(o.t) }
