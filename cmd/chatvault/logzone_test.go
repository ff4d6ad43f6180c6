package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// utcLogTimes matches the test's instants in UTC; text logs write milliseconds.
var utcLogTimes = regexp.MustCompile(`2026-12-03T1[56]:39:26(\.000)?Z`)

// TestLogTimesUTCWhateverTheHostZone: a log record's time is time.Now, in the host's zone:
// under TZ=Pacific/Kiritimati every line said "time":"2026-12-04T05:39:26+14:00" while
// the same line on a UTC host said "2026-12-03T15:39:26Z", and the days, sealedAt and
// every other time chatvault prints are UTC. Log times are UTC too, the record's own and
// any time attribute, JSON or text.
func TestLogTimesUTCWhateverTheHostZone(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 39, 26, 0, time.UTC)
	for _, zone := range []*time.Location{time.FixedZone("LINT", 14*3600), time.FixedZone("SST", -11*3600)} {
		for _, json := range []bool{true, false} {
			var buf bytes.Buffer
			r := slog.NewRecord(at.In(zone), slog.LevelInfo, "x", 0)
			r.AddAttrs(slog.Time("expires", at.Add(time.Hour).In(zone)), slog.Group("g", slog.Time("at", at.In(zone))))
			if err := newLogger(slog.LevelInfo, json, &buf).Handler().Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			line := buf.String()
			// The record's time and g.at, then expires; text writes milliseconds.
			if got := utcLogTimes.FindAllString(line, -1); len(got) != 3 || strings.Contains(line, "+14:00") || strings.Contains(line, "-11:00") {
				t.Errorf("%s json %t: %q: UTC times %q, want the record's, expires and g.at", zone, json, line, got)
			}
		}
	}
	reliability.Record(t, "operations", "log lines on a host whose time zone is not UTC (+14, -11)", reliability.Kept,
		"every log time is UTC, JSON or text, the record's own and any time attribute (they were in the host's zone, +14:00, beside UTC days and sealedAt)")
}
