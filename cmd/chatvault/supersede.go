package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/spf13/pflag"
)

// supersedeFlags are run's flags for committing a revision that drops records.
func supersedeFlags(fs *pflag.FlagSet) {
	fs.Bool("supersede", false, "commit the new revision of one organization's day (--org, --date) even though it drops records of the revision it follows")
	fs.String("reason", "", "why records are dropped (with --supersede; recorded in the manifest)")
}

// parseSupersede reads --supersede and --reason. A supersession is a statement an
// examiner will read about one organization's one day: it needs --org and a single --date
// (not a range, nor every pending day), so that one reason never covers losses the
// operator did not look at, and a reason that says something.
func parseSupersede(fs *pflag.FlagSet, org string) (*archiver.Supersede, error) {
	on, _ := fs.GetBool("supersede")
	reason, _ := fs.GetString("reason")
	switch {
	case !on && fs.Changed("reason"):
		return nil, usagef("--reason goes with --supersede")
	case !on:
		return nil, nil
	case !fs.Changed("reason"):
		return nil, usagef("--supersede needs --reason TEXT: the manifest records why records are dropped")
	case org == "":
		return nil, usagef("--supersede needs --org ID: a supersession is for one organization")
	case !fs.Changed("date"):
		return nil, usagef("--supersede needs --date D: a supersession is for one day, not a range")
	}
	if err := archiver.CheckReason(reason); err != nil {
		return nil, usagef("--reason: %v", err)
	}
	// A refused revision prints this command with --reason TEXT; pasted as is it would
	// record "TEXT" for good as why the records were dropped.
	switch strings.ToUpper(strings.TrimSpace(reason)) {
	case "TEXT", "REASON", "…", "...":
		return nil, usagef("--reason %q is the placeholder of the printed command: say why the records are dropped (it is recorded in the manifest for good)", reason)
	}
	return &archiver.Supersede{Org: org, Reason: reason}, nil
}

// printSupersessions says, under the run's summary, which revisions were superseded.
func printSupersessions(w io.Writer, r *archiver.DayResult) {
	for _, o := range r.Orgs {
		if s := o.Supersedes; s != nil {
			fmt.Fprintf(w, "  %s: revision %d supersedes revision %d, dropping %d record(s): %q\n", o.Org, o.Revision, s.Revision, s.Dropped, s.Reason)
		}
	}
}
