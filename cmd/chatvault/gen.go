package main

import (
	"context"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "gen",
		summary: "write a realistic synthetic event log day, for demos and benchmarks",
		usage:   "--date D --events N --orgs K --out DIR [--seed S] [--bad N] [--files N] [--gzip alternate|plain|all]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("date", "", "day to generate, YYYY-MM-DD (required)")
			fs.Int("events", 100_000, "lines to write, including waves, invitations, duplicates and bad lines")
			fs.Int("orgs", 10, "organizations in a new directory.json (an existing one is reused)")
			fs.String("out", "", "event log folder to write into (required)")
			fs.Int64("seed", 1, "random seed: the same flags and seed give the same bytes")
			fs.Int("bad", 0, "deliberately bad lines among the events, of every kind")
			fs.Int("files", 0, "partition files (default one per 250,000 lines)")
			fs.String("gzip", "alternate", "which files are gzipped: alternate, plain or all")
		},
		run: runGen,
	})
}

func runGen(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	date, _ := fs.GetString("date")
	out, _ := fs.GetString("out")
	if date == "" || out == "" {
		return e.fail("gen", usagef("--date and --out are required"))
	}
	day, err := archiver.ParseDay(date)
	if err != nil {
		return e.fail("gen", usagef("--date: %v", err))
	}
	opt := synth.Options{Day: day}
	opt.Events, _ = fs.GetInt("events")
	opt.Orgs, _ = fs.GetInt("orgs")
	if opt.Orgs < 1 {
		// synth reads 0 as its default: --orgs 0 gave 10 organizations without a word.
		return e.fail("gen", usagef("--orgs %d: want 1 or more organizations", opt.Orgs))
	}
	opt.Seed, _ = fs.GetInt64("seed")
	opt.Bad, _ = fs.GetInt("bad")
	opt.Files, _ = fs.GetInt("files")
	switch mode, _ := fs.GetString("gzip"); mode {
	case "alternate":
		opt.Compression = synth.Alternate
	case "plain":
		opt.Compression = synth.Plain
	case "all":
		opt.Compression = synth.Gzip
	default:
		return e.fail("gen", usagef("--gzip: %q is not alternate, plain or all", mode))
	}
	start := time.Now()
	last := start
	opt.Progress = func(n int) {
		switch {
		case e.tty:
			fmt.Fprintf(e.stderr, "\r\033[K%s generating %s %d/%d lines", day, bar(int64(n), int64(max(opt.Events, 1)), 30), n, opt.Events)
		case time.Since(last) >= 10*time.Second:
			last = time.Now()
			e.log.Info("progress", "day", day.String(), "written", n, "of", opt.Events)
		}
	}
	st, err := synth.Generate(ctx, out, opt)
	if e.tty {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if err != nil {
		return e.fail("gen", err)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(e.stdout, "generated %s in %s: %d lines in %d files (%.0f lines/s)\n", day, elapsed.Round(time.Millisecond),
		st.Lines, len(st.Files), float64(st.Lines)/elapsed.Seconds())
	fmt.Fprintf(e.stdout, "  %d messages (%d redelivered), %d waves, %d invitations, %d bad, %d late\n",
		st.Messages, st.Duplicates, st.Waves, st.Invitations, st.Bad, st.Late)
	fmt.Fprintf(e.stdout, "  directory: %d organizations (%d archiving), %d users, %d bots, %d occupants, %d chats\n",
		st.Orgs, st.ArchivingOrgs, st.Users, st.Bots, st.Occupants, st.Chats)
	return exitOK
}
