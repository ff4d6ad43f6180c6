package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// jsonLogs tells whether the log is JSON under format: json, or auto on a stderr that is
// not a terminal (a service manager, a container runtime, a file).
func jsonLogs(format string, terminal bool) bool {
	return format == "json" || (format == "auto" && !terminal)
}

func newLogger(level slog.Level, json bool, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// replaceAttr writes durations readably and times in UTC.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	return utcTimes(groups, readableDurations(groups, a))
}

// utcTimes writes every time.Time attribute, the record's own time included, in UTC: slog
// takes time.Now, in the host's zone, and a log line saying 05:39+14:00 beside the UTC days
// and sealedAt chatvault prints everywhere else is a log a pipeline and a reader misread.
func utcTimes(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindTime {
		return slog.Time(a.Key, a.Value.Time().UTC())
	}
	return a
}

// readableDurations writes every time.Duration attribute as Go's duration syntax
// ("1.52s", "250ms"), rounded to the millisecond from a second up, instead of the
// integer nanoseconds slog's JSON handler would write: an operator reads "took":"1.52s",
// and a log pipeline parses it like the config's durations.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, formatDuration(a.Value.Duration()))
	}
	return a
}

func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second || d <= -time.Second:
		d = d.Round(time.Millisecond)
	case d >= time.Millisecond || d <= -time.Millisecond:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

// fatal reports err, which ends command cmd (empty: chatvault itself) with exit code
// code. With JSON logs it is one JSON record (msg "command failed", or "usage error" for
// exit 2), so that every line on stderr parses, even the last; otherwise it is the line
// "chatvault CMD: ERR" a person reads. log may be nil before the configuration is loaded.
func fatal(w io.Writer, json bool, log *slog.Logger, cmd string, err error, code int) {
	name := "chatvault"
	if cmd != "" {
		name += " " + cmd
	}
	if !json {
		fmt.Fprintf(w, "%s: %v\n", name, err)
		return
	}
	if log == nil {
		log = newLogger(slog.LevelInfo, true, w)
	}
	msg := "command failed"
	if code == exitUsage {
		msg = "usage error"
	}
	log.LogAttrs(context.Background(), slog.LevelError, msg,
		slog.String("command", name), slog.String("err", err.Error()), slog.Int("exitCode", code))
}

// note writes a message for the operator on stderr that is not the command's output:
// with JSON logs the log record msg with attrs, so that every line on stderr parses;
// otherwise the plain line a person reads.
func (e *env) note(level slog.Level, line, msg string, attrs ...any) {
	if e.json {
		e.log.Log(context.Background(), level, msg, attrs...)
		return
	}
	fmt.Fprintln(e.stderr, line)
}

// summaryAttrs are the counts of run's printed summary of a day, for its "run summary"
// log line: a log pipeline reads them without parsing the table on stdout.
func summaryAttrs(r *archiver.DayResult) []slog.Attr {
	in := r.Input
	var committed, unchanged, failed int
	var bytes int64
	for _, o := range r.Orgs {
		switch {
		case o.Err != nil:
			failed++
		case o.Outcome == archiver.OutcomeCommitted:
			committed++
		case o.Outcome == archiver.OutcomeUnchanged:
			unchanged++
		}
		bytes += o.Data.Size
	}
	attrs := []slog.Attr{
		slog.String("day", r.Day.String()),
		slog.Duration("took", r.Duration),
		slog.Int64("read", in.Read),
		slog.Int64("exported", in.Exported),
		slog.Int64("excluded", sum(in.Excluded)),
		slog.Int64("duplicates", in.Duplicates),
		slog.Int64("quarantined", in.Quarantined),
		slog.Int("organizations", len(r.Orgs)),
		slog.Int("committed", committed),
		slog.Int("unchanged", unchanged),
		slog.Int("failed", failed),
		slog.Int64("bytes", bytes),
	}
	if len(in.Excluded) > 0 {
		attrs = append(attrs, countsGroup("excludedBy", in.Excluded))
	}
	if len(r.QuarantineByWhy) > 0 {
		attrs = append(attrs, countsGroup("quarantinedBy", r.QuarantineByWhy))
	}
	if r.Shard.Sharded() { // the counts above are the shard's lines (run --shard)
		attrs = append(attrs, slog.String("shard", r.Shard.String()), slog.Int64("skipped", r.Skipped))
	}
	return attrs
}

func countsGroup(key string, counts map[string]int64) slog.Attr {
	attrs := make([]any, 0, len(counts))
	for _, k := range sortedKeys(counts) {
		attrs = append(attrs, slog.Int64(k, counts[k]))
	}
	return slog.Group(key, attrs...)
}
