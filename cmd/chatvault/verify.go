package main

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/chatvault/chatvault/archiver"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "re-hash every object and walk every manifest chain; exit 1 on any mismatch",
		usage:   "[--org ID] [--date D | --from D --to D]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "only this organization")
			rangeFlags(fs)
		},
		run: runVerify,
	})
}

func runVerify(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	org, _ := fs.GetString("org")
	from, to, err := dayRange(fs, false)
	if err != nil {
		return e.fail("verify", err)
	}
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("verify", err)
	}
	defer closeStore()
	opt := archiver.VerifyOptions{Org: org, From: from, To: to}
	key, err := e.signingKey()
	if err != nil {
		return e.fail("verify", err)
	}
	if key != nil {
		// With a signing key configured, every manifest must carry its signature.
		opt.TrustedKey = key.Public().(ed25519.PublicKey)
	}
	rep, err := archiver.Ledger{Store: store}.Verify(ctx, opt)
	if err != nil {
		return e.fail("verify", err)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(e.stderr, "PROBLEM:", p)
	}
	if rep.Manifests == 0 {
		// An archive with nothing in it is not "0 problems": it is the wrong folder or
		// prefix, or one nothing was ever sealed into, and either way nothing is verified.
		where := "the store"
		if org != "" {
			where = "organization " + org
		}
		fmt.Fprintf(e.stderr, "PROBLEM: %s holds no manifest: store %s is empty or the wrong location (a mistyped folder or S3 prefix?), or nothing has been sealed into it\n", where, e.cfg.Store)
		rep.Problems = append(rep.Problems, "no manifest")
	}
	fmt.Fprintf(e.stdout, "verified %d organizations, %d manifests, %d objects, %d bytes: %d problems, %d warnings\n",
		rep.Orgs, rep.Manifests, rep.Objects, rep.Bytes, len(rep.Problems), len(rep.Warnings))
	if !rep.OK() {
		return exitFailure
	}
	return exitOK
}
