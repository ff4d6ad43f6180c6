package main

import (
	"context"
	"fmt"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "witness",
		summary: "write every organization's manifest and audit chain heads, to keep outside the store for verify --witness",
		usage:   "[-o FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.StringP("output", "o", "", "write to FILE instead of stdout (created, never replaced)")
		},
		run: runWitness,
	})
}

func runWitness(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	out, _ := fs.GetString("output")
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("witness", err)
	}
	defer closeStore()
	key, err := e.signingKey()
	if err != nil {
		return e.fail("witness", err)
	}
	heads, err := archiver.Ledger{Store: store}.Heads(ctx)
	if err != nil {
		return e.fail("witness", err)
	}
	if len(heads) == 0 {
		return e.fail("witness", fmt.Errorf("store %s holds no manifest: nothing to witness (a mistyped folder or S3 prefix?)", e.cfg.Store))
	}
	// The access audit's chains too: who read the archive must not be erasable either.
	audit, err := audit.Heads(ctx, store)
	if err != nil {
		return e.fail("witness", err)
	}
	b, err := archiver.NewWitness(heads, audit, e.cfg.Store, time.Now(), key)
	if err != nil {
		return e.fail("witness", err)
	}
	if out == "" {
		_, err = e.stdout.Write(b)
	} else {
		err = e.writeOutput(out, b)
	}
	if err != nil {
		return e.fail("witness", err)
	}
	signed := "unsigned (no signing.keyFile)"
	if key != nil {
		signed = "signed"
	}
	e.log.Info("witness written", "organizations", len(heads), "auditChains", len(audit), "signed", key != nil, "output", out)
	if out != "" {
		fmt.Fprintf(e.stdout, "witnessed %d organizations' chain heads and %d audit chain heads in %s, %s\n", len(heads), len(audit), out, signed)
	}
	return exitOK
}
