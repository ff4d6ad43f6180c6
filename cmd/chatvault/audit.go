package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "audit",
		summary: "print the access audit: who fetched which export, when, and what was sent (or was refused)",
		usage:   "[--date D | --from D --to D] [--org ID] [--json]",
		flags: func(fs *pflag.FlagSet) {
			rangeFlags(fs)
			fs.String("org", "", "only this organization's records")
			fs.Bool("json", false, "one JSON record per line instead of a table")
		},
		run: runAudit,
	})
}

func runAudit(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	from, to, err := dayRange(fs, false)
	if err != nil {
		return e.fail("audit", err)
	}
	if err := checkRangeSpan(from, to, "give a shorter one"); err != nil {
		return e.fail("audit", err) // the access log is read day by day
	}
	if from.IsZero() {
		to = archiver.DayOf(time.Now())
		from = archiver.DayOf(to.Start().AddDate(0, 0, -6))
	}
	org, _ := fs.GetString("org")
	asJSON, _ := fs.GetBool("json")
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("audit", err)
	}
	defer closeStore()
	if org != "" {
		if err := checkOrg(ctx, e, store, org, nil, false, "no access records are kept under that id"); err != nil { // holdorg.go
			return e.fail("audit", err)
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	enc := json.NewEncoder(e.stdout)
	if !asJSON {
		fmt.Fprintln(tw, "TIME\tTOKEN\tNAME\tORG\tACTION\tDATE\tSTATUS\tBYTES\tSHA256\tCLIENT\t")
	}
	// Segments are shown only when they check, against the keys serve trusts.
	trusted, err := e.servingTrust(ctx, store)
	if err != nil {
		return e.fail("audit", err)
	}
	log := &audit.Log{Store: store, TrustedKeys: trusted}
	show := func(r audit.Record) error {
		if org != "" && r.Org != org {
			return nil
		}
		if asJSON {
			return enc.Encode(r)
		}
		status := fmt.Sprint(r.Status)
		if r.Error != "" {
			status += " " + r.Error
		} else if !r.Complete {
			status += " incomplete"
		}
		// A day's export has no action; an export task's names it and the task.
		action := "export"
		if r.Action != "" {
			action = r.Action + " " + dash(r.TaskID)
		}
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", r.Time.Format(time.RFC3339), dash(r.TokenID),
			dash(r.TokenName), dash(r.Org), action, dash(r.Date), status, r.Bytes, dash(r.SHA256), r.Client)
		return err
	}
	// Records of the previous layout (one object per request, before segments) come
	// first, then the segments: with --org only that organization's are read.
	err = log.ListLegacy(ctx, from, to, show)
	if err == nil && org != "" {
		err = log.List(ctx, org, from, to, show)
	} else if err == nil {
		err = log.ListAll(ctx, from, to, show)
	}
	tw.Flush()
	if err != nil {
		return e.fail("audit", err)
	}
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
