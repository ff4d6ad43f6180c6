package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/model"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "re-hash every object and walk every manifest chain; exit 1 on any mismatch",
		usage:   "[--org ID] [--date D | --from D --to D] [--public-key FILE] [--witness FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "only this organization")
			rangeFlags(fs)
			fs.String("public-key", "", "trusted Ed25519 public keys, PEM (default signing.publicKeyFile); the private key is never read")
			fs.String("witness", "", "a witness file (chatvault witness): every chain must reach its heads, with their hashes")
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
	opt := archiver.VerifyOptions{Org: org, From: from, To: to, Audit: audit.Verifier{}}
	pkFile, _ := fs.GetString("public-key")
	// With trusted keys, every manifest must carry a signature by one of them.
	if opt.TrustedKeys, err = e.trustedKeys(pkFile); err != nil {
		return e.fail("verify", err)
	}
	// The directory says which organizations archive since when: verify checks each one's
	// days against it, so it is read like run reads it, and a missing one is an error.
	dirBytes, err := e.readDirectory()
	if err != nil {
		return e.fail("verify", fmt.Errorf("%w (verify checks every archiving organization's days against the directory: give --directory)", err))
	}
	if opt.Directory, err = model.ParseDirectory(dirBytes); err != nil {
		return e.fail("verify", fmt.Errorf("%s: %w", e.cfg.Directory, err))
	}
	if wf, _ := fs.GetString("witness"); wf != "" {
		b, err := os.ReadFile(wf)
		if err != nil {
			return e.fail("verify", fmt.Errorf("--witness: %w", err))
		}
		if opt.Witness, err = archiver.ParseWitness(b, opt.TrustedKeys); err != nil {
			return e.fail("verify", fmt.Errorf("--witness %s: %w", wf, err))
		}
	}
	if len(opt.TrustedKeys) > 0 {
		ids := make([]string, len(opt.TrustedKeys))
		for i, k := range opt.TrustedKeys {
			ids[i] = archiver.KeyID(k)
		}
		fmt.Fprintf(e.stdout, "trusted signing keys: %s\n", strings.Join(ids, ", "))
	}
	rep, err := archiver.Ledger{Store: store}.Verify(ctx, opt)
	if err != nil {
		return e.fail("verify", err)
	}
	for _, w := range rep.Warnings {
		e.note(slog.LevelWarn, "warning: "+w, "verify warning", "warning", w)
	}
	for _, p := range rep.Problems {
		e.note(slog.LevelError, "PROBLEM: "+p, "verify problem", "problem", p)
	}
	if rep.Manifests == 0 {
		// An archive with nothing in it is not "0 problems": it is the wrong folder or
		// prefix, or one nothing was ever sealed into, and either way nothing is verified.
		where := "the store"
		if org != "" {
			where = "organization " + org
		}
		p := fmt.Sprintf("%s holds no manifest: store %s is empty or the wrong location (a mistyped folder or S3 prefix?), or nothing has been sealed into it", where, e.cfg.Store)
		e.note(slog.LevelError, "PROBLEM: "+p, "verify problem", "problem", p)
		rep.Problems = append(rep.Problems, "no manifest")
	}
	fmt.Fprintf(e.stdout, "verified %d organizations, %d manifests, %d objects, %d bytes: %d problems, %d warnings\n",
		rep.Orgs, rep.Manifests, rep.Objects, rep.Bytes, len(rep.Problems), len(rep.Warnings))
	if !rep.OK() {
		return exitFailure
	}
	return exitOK
}
