package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
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
	// A head refused (an old object copied, no key needed, to where an organization's head
	// is looked for) leaves that organization out, named, and the witness exits 4: every
	// other organization is still witnessed.
	heads, refused, err := ledger.Ledger{Store: store}.HeadsChecked(ctx)
	if err != nil {
		return e.fail("witness", err)
	}
	if len(heads) == 0 && len(refused) == 0 {
		return e.fail("witness", fmt.Errorf("store %s holds no manifest: nothing to witness (a mistyped folder or S3 prefix?)", e.cfg.Store))
	}
	// The access audit's chains too: who read the archive must not be erasable either.
	audit, auditRefused, err := audit.HeadsChecked(ctx, store)
	if err != nil {
		return e.fail("witness", err)
	}
	refused = append(refused, auditRefused...)
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
	if len(refused) > 0 {
		for _, err := range refused {
			e.note(slog.LevelError, "witness: NOT WITNESSED: "+err.Error(), "head refused", "error", err.Error())
		}
		fatal(e.stderr, e.json, e.log, "witness", fmt.Errorf("%d chain heads refused and left out of the witness (named above); every other head is in it", len(refused)), exitFailure)
		return exitFailure
	}
	return exitOK
}
