package main

import (
	"context"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "hold",
		summary: "place or lift a legal hold on an organization's days (S3 with Object Lock)",
		usage:   "--org ID (--date D | --from D --to D) --on|--off",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "the organization (required)")
			rangeFlags(fs)
			fs.Bool("on", false, "place the legal hold")
			fs.Bool("off", false, "lift the legal hold")
		},
		run: runHold,
	})
}

func runHold(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	org, _ := fs.GetString("org")
	on, _ := fs.GetBool("on")
	off, _ := fs.GetBool("off")
	if org == "" {
		return e.fail("hold", usagef("--org is required"))
	}
	if on == off {
		return e.fail("hold", usagef("give exactly one of --on and --off"))
	}
	from, to, err := dayRange(fs, true)
	if err != nil {
		return e.fail("hold", err)
	}
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("hold", err)
	}
	defer closeStore()
	n, err := archiver.Ledger{Store: store}.Hold(ctx, org, from, to, on)
	if err != nil {
		return e.fail("hold", err)
	}
	state := "placed on"
	if off {
		state = "lifted from"
	}
	fmt.Fprintf(e.stdout, "legal hold %s %d objects of %s, %s to %s\n", state, n, org, from, to)
	return exitOK
}
