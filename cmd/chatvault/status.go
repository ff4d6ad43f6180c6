package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/chatvault/chatvault/archiver"
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
	if to.Start().Sub(from.Start()) > 3660*24*time.Hour {
		return e.fail("status", usagef("range longer than ten years"))
	}
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("status", err)
	}
	defer closeStore()
	ledger := archiver.Ledger{Store: store}
	rows, err := ledger.Status(ctx, org, from, to)
	if err != nil {
		return e.fail("status", err)
	}
	// Every day of an organization the store has never sealed reads as pending, which is
	// also what a mistyped --store or --org shows: say so rather than let it pass.
	if head, err := (archiver.Ledger{Store: store}).Head(ctx, org); err != nil {
		return e.fail("status", err)
	} else if head == nil {
		fmt.Fprintf(e.stderr, "note: store %s holds no manifest of organization %s (a mistyped --store or --org, or never sealed)\n", e.cfg.Store, org)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tSTATE\tREV\tRECORDS\tSHA256\tDETAIL\t")
	for _, r := range rows {
		rev, records, sum, detail := "-", "-", "-", r.Error
		if m := r.Manifest; m != nil {
			rev, records, sum = fmt.Sprint(m.Revision), fmt.Sprint(m.Data.Records), m.Data.JSONLSHA256
			detail = "sealed " + m.SealedAt
			// A later attempt that failed (a rerun refused for dropping records) leaves
			// this revision served; say so.
			later, err := ledger.FailedSince(ctx, org, r.Day, m)
			if err != nil {
				return e.fail("status", err)
			}
			if later != "" {
				detail += "; a later attempt failed: " + later
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Day, r.State, rev, records, sum, detail)
	}
	tw.Flush()
	return exitOK
}
