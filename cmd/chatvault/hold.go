package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "hold",
		summary: "place or lift an organization's legal hold for a matter (S3 with Object Lock), or list holds",
		usage:   "--org ID --matter NAME (--date D | --from D --to D) --on|--off\n  hold --list [--org ID] [--history]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "the organization (required, except with --list)")
			fs.String("matter", "", "the matter (case, investigation) the hold is for: letters, digits, '.', '_', '-'")
			rangeFlags(fs)
			fs.Bool("on", false, "place the legal hold")
			fs.Bool("off", false, "lift the matter's legal hold (objects another hold covers stay held)")
			fs.Bool("list", false, "list the holds in force")
			fs.Bool("history", false, "with --list: every recorded hold event, oldest first")
		},
		run: runHold,
	})
}

// maxHoldDays bounds one hold's range, like status's: a typo in a year should not walk a
// century of days.
const maxHoldDays = 3660

func runHold(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	org, _ := fs.GetString("org")
	matter, _ := fs.GetString("matter")
	on, _ := fs.GetBool("on")
	off, _ := fs.GetBool("off")
	list, _ := fs.GetBool("list")
	history, _ := fs.GetBool("history")
	if list {
		if on || off || matter != "" || fs.Changed("date") || fs.Changed("from") || fs.Changed("to") {
			return e.fail("hold", usagef("--list takes only --org and --history"))
		}
		return listHolds(ctx, e, org, history)
	}
	if history {
		return e.fail("hold", usagef("--history goes with --list"))
	}
	if org == "" {
		return e.fail("hold", usagef("--org is required"))
	}
	if matter == "" {
		return e.fail("hold", usagef("--matter is required: holds are per matter, so that lifting one never lifts another"))
	}
	if err := ledger.CheckMatter(matter); err != nil {
		return e.fail("hold", usagef("--matter: %v", err))
	}
	if on == off {
		return e.fail("hold", usagef("give exactly one of --on and --off"))
	}
	from, to, err := dayRange(fs, true)
	if err != nil {
		return e.fail("hold", err)
	}
	if to.Start().Sub(from.Start()) > maxHoldDays*24*time.Hour {
		return e.fail("hold", usagef("range longer than %d days", maxHoldDays))
	}
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("hold", err)
	}
	defer closeStore()
	if on {
		if err := checkOrg(ctx, e, store, org, nil, true, "a hold on it would hold nothing"); err != nil { // holdorg.go
			return e.fail("hold", err)
		}
	}
	res, err := ledger.Ledger{Store: store}.Hold(ctx, ledger.HoldRequest{
		Org: org, Matter: matter, From: from, To: to, On: on, At: time.Now(), By: operator(),
	})
	if err != nil {
		return e.fail("hold", err)
	}
	if on {
		fmt.Fprintf(e.stdout, "legal hold placed on %d objects of %s, %s to %s, for matter %s (recorded as %s)\n",
			res.Held, org, from, to, matter, res.Event)
	} else {
		fmt.Fprintf(e.stdout, "legal hold of matter %s lifted from %d objects of %s, %s to %s; %d stay held by other holds (recorded as %s)\n",
			matter, res.Released, org, from, to, res.Kept, res.Event)
	}
	if len(res.Missing) > 0 {
		// Named by a manifest or an attachment index, but not in the store: the rest is
		// held all the same, and verify says more.
		fmt.Fprintf(e.stderr, "warning: %d objects the days name are not in the store (run chatvault verify): %s\n",
			len(res.Missing), strings.Join(res.Missing, ", "))
	}
	return exitOK
}

func listHolds(ctx context.Context, e *env, org string, history bool) int {
	// Listing only reads: on a mistyped path it must fail, not create an empty store and
	// report that no hold is in force (and it leaves an existing store's modes alone).
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("hold", err)
	}
	defer closeStore()
	events, err := ledger.Ledger{Store: store}.HoldEvents(ctx, org)
	if err != nil {
		return e.fail("hold", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	if history {
		fmt.Fprintln(tw, "RECORDED\tORG\tMATTER\tACTION\tFROM\tTO\tBY\t")
		for _, ev := range events {
			action := "off"
			if ev.On {
				action = "on"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", ev.At, ev.Org, ev.Matter, action, ev.From, ev.To, ev.By)
		}
		tw.Flush()
		return exitOK
	}
	fmt.Fprintln(tw, "ORG\tMATTER\tDAYS\tSINCE\t")
	for _, h := range archiver.ActiveHolds(events) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", h.Org, h.Matter, dayRanges(h.Days), h.Since)
	}
	tw.Flush()
	return exitOK
}

// dayRanges writes sorted days as ranges: 2026-11-20..2026-11-22,2026-11-25.
func dayRanges(days []archiver.Day) string {
	var parts []string
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && days[j].Next().String() == days[j+1].String() {
			j++
		}
		if i == j {
			parts = append(parts, days[i].String())
		} else {
			parts = append(parts, days[i].String()+".."+days[j].String())
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// operator names who runs the command, for the hold event: the OS user and host.
func operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
