package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "status",
		summary: "show each day's state for an organization: sealed, empty, pending, failed",
		usage:   "--org ID [--date D | --from D --to D]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "organization id (required)")
			rangeFlags(fs)
		},
		run: runStatus,
	})
}

func runStatus(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	org, _ := fs.GetString("org")
	if org == "" {
		return e.fail("status", usagef("--org is required"))
	}
	from, to, err := dayRange(fs, false)
	if err != nil {
		return e.fail("status", err)
	}
	if from.IsZero() {
		// The last week, up to yesterday: the days a nightly run should have sealed.
		to = archiver.DayOf(time.Now()).Next()
		to = archiver.DayOf(to.Start().AddDate(0, 0, -2))
		from = archiver.DayOf(to.Start().AddDate(0, 0, -6))
	}
	if err := checkRangeSpan(from, to, "give a shorter one"); err != nil {
		return e.fail("status", err)
	}
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("status", err)
	}
	defer closeStore()
	if err := checkOrg(ctx, e, store, org, nil, false, "nothing is sealed under that id"); err != nil { // holdorg.go
		return e.fail("status", err)
	}
	wf, err := e.configuredWitness(ctx, store)
	if err != nil {
		return e.fail("status", err)
	}
	lg := ledger.Ledger{Store: store}
	rows, err := lg.Status(ctx, org, from, to)
	if err != nil {
		return e.fail("status", err)
	}
	// A day deleted from the store would list as pending, never sealed: the witness, kept
	// outside the store, tells them apart (as for serve's listing).
	if wf != nil && slices.ContainsFunc(rows, func(r ledger.DayStatus) bool { return r.Manifest == nil }) {
		if err := wf.witnessed(store)(ctx, org); err != nil {
			return e.fail("status", fmt.Errorf("%s has days without a manifest in the store, checked against verify.witness %s: %w", org, wf.path, err))
		}
	}
	// Every day of an organization the store has never sealed reads as pending, which is
	// also what a mistyped --store or --org shows: say so rather than let it pass.
	if head, err := (ledger.Ledger{Store: store}).Head(ctx, org); err != nil {
		return e.fail("status", err)
	} else if head == nil {
		e.note(slog.LevelWarn, fmt.Sprintf("note: store %s holds no manifest of organization %s (a mistyped --store or --org, or never sealed)", e.cfg.Store, org),
			"no manifest of the organization in the store (a mistyped --store or --org, or never sealed)", "store", e.cfg.Store, "org", org)
	}
	notArchived := notArchivedReason(e, org)
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tSTATE\tREV\tRECORDS\tSHA256\tDETAIL\t")
	for _, r := range rows {
		rev, records, sum, detail := "-", "-", "-", r.Error
		if r.State == ledger.StatePending && detail == "" {
			detail = notArchived(r.Day)
		}
		if m := r.Manifest; m != nil {
			rev, records, sum = fmt.Sprint(m.Revision), fmt.Sprint(m.Data.Records), m.Data.JSONLSHA256
			detail = "sealed " + m.SealedAt
			// A later attempt that failed (a rerun refused for dropping records) leaves
			// this revision served; say so.
			if r.FailedLater != "" {
				detail += "; a later attempt failed: " + r.FailedLater
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Day, r.State, rev, records, sum, detail)
	}
	tw.Flush()
	return printDayAccounting(ctx, e, store, from, to)
}

// printDayAccounting shows the operator the day-level numbers of the days from..to, from
// each day's record: its latest accounting object, or when that is a shard's, the day's
// latest complete accounting (ledger.JoinAccountings): the whole partition, all
// organizations together.
// Manifests hold only their organization's numbers, so this is the one place status
// finds them. One listing finds them all (Ledger.LatestAccountings).
func printDayAccounting(ctx context.Context, e *env, store archiver.Store, from, to archiver.Day) int {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	header := false
	lg := ledger.Ledger{Store: store}
	err := lg.LatestAccountings(ctx, from, to, func(d archiver.Day, latest *archiver.StoredAccounting) error {
		// A sharded seal (run --shard) is the sum of its shards' objects: only then are the
		// day's other accounting objects read.
		last := &ledger.DayTotals{Input: latest.Input, Keys: []string{latest.Key}}
		if latest.Shard != nil {
			var err error
			if last, err = lg.DayTotals(ctx, d); err != nil {
				return err
			}
		}
		if !header {
			fmt.Fprintln(e.stdout, "\nday-level accounting (every organization of the day, for operators):")
			fmt.Fprintln(tw, "DATE\tREAD\tEXPORTED\tEXCLUDED\tDUPLICATES\tQUARANTINED\tACCOUNTING\t")
			header = true
		}
		in := last.Input
		var key string
		if last.Shards == 0 {
			key = last.Keys[0]
		} else {
			key = fmt.Sprintf("%d of %d shards", len(last.Keys), last.Shards)
			if len(last.Missing) > 0 {
				key += fmt.Sprintf(" (no accounting object of shard(s) %v yet: the sum lacks their lines)", last.Missing)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", d, in.Read, in.Exported, sum(in.Excluded), in.Duplicates, in.Quarantined, key)
		return nil
	})
	if err != nil {
		return e.fail("status", err)
	}
	tw.Flush()
	return exitOK
}

// notArchivedReason returns what status says of a pending day of org that no run will
// seal as the directory stands: a day before its archivalStart, any day when its
// archival is off or it is not in the directory (nothing for a day a run will seal).
// Plain "pending" read as a run behind on its work, for days never to be sealed. The
// directory is only a hint here: one that cannot be read adds nothing, and says so.
func notArchivedReason(e *env, org string) func(archiver.Day) string {
	none := func(archiver.Day) string { return "" }
	b, err := e.readDirectory()
	if err != nil {
		e.log.Warn("status: directory not read: pending days are not told apart from days not archived", "err", err)
		return none
	}
	dir, err := model.ParseDirectory(b)
	if err != nil {
		e.log.Warn("status: directory not read: pending days are not told apart from days not archived", "err", err)
		return none
	}
	for _, o := range dir.Organizations {
		if o.ID != org {
			continue
		}
		if !o.Archival {
			return func(archiver.Day) string {
				return "not archived: archival is off for the organization in the directory"
			}
		}
		start, err := archiver.ParseDay(o.ArchivalStart)
		if o.ArchivalStart == "" || err != nil {
			return none
		}
		return func(d archiver.Day) string {
			if d.Before(start) {
				return "not archived: before archivalStart " + start.String()
			}
			return ""
		}
	}
	return func(archiver.Day) string { return "not archived: the organization is not in the directory" }
}
