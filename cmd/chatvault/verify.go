package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/model"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "re-hash every object and walk every manifest chain; exit 1 on any mismatch",
		usage:   "[--org ID] [--date D | --from D --to D] [--jobs N] [--checkpoint | --resume | --incremental] [--extend-locks] [--remove-temporaries] [--public-key FILE] [--witness FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "only this organization")
			rangeFlags(fs)
			fs.String("public-key", "", "trusted Ed25519 public keys, PEM (default signing.publicKeyFile); the private key is never read")
			fs.String("witness", "", "a witness file (chatvault witness): every chain must reach its heads, with their hashes")
			fs.Int("jobs", 0, "organizations verified at once (default: the number of CPUs the process may use)")
			fs.Bool("checkpoint", false, "write signed checkpoints (signing.keyFile) as the verification of the whole store goes, for --resume and --incremental")
			fs.Bool("resume", false, "carry on the full verification the newest checkpoint was written by, if it was interrupted (implies --checkpoint)")
			fs.Bool("incremental", false, "verify only what was sealed and captured after the newest checkpoint, and verify.sample organization-days verified before (writes a checkpoint with signing.keyFile)")
			fs.Bool("remove-temporaries", false, "folder store: remove the temporary files of writes whose process is gone (killed in the middle of a seal), never a running writer's; the whole store, or --org's folder")
			fs.Bool("extend-locks", false, "S3 Object Lock: lock an object kept without a lock or shorter than its day needs (its day's end plus the retention; a members object to the end of its year plus the retention), instead of reporting it")
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
	if !from.IsZero() {
		if err := checkRangeSpan(from, to, "give a shorter one, or verify the whole store (no --date, --from or --to), which walks the chains"); err != nil {
			return e.fail("verify", err)
		}
	}
	jobs, _ := fs.GetInt("jobs")
	if jobs < 0 {
		return e.fail("verify", usagef("--jobs %d: must be 0 (the CPUs) or more", jobs))
	}
	opt := verify.Options{Org: org, From: from, To: to, Jobs: jobs, Audit: audit.Verifier{},
		// A day may get a new attachment index revision until attachments.retryFor after
		// its end: an incremental verification looks that far back for them.
		AttachmentWindow: e.cfg.Attachments.RetryFor + 24*time.Hour,
		// verify --date checks the days' attachment indexes against the newest checkpoint.
		AttachmentRecord: true}
	checkpoint, _ := fs.GetBool("checkpoint")
	opt.Resume, _ = fs.GetBool("resume")
	opt.Incremental, _ = fs.GetBool("incremental")
	opt.ExtendLocks, _ = fs.GetBool("extend-locks")
	switch {
	case (checkpoint || opt.Resume || opt.Incremental) && (org != "" || !from.IsZero()):
		return e.fail("verify", usagef("--checkpoint, --resume and --incremental verify the whole store: not with --org, --date, --from or --to"))
	case opt.Resume && opt.Incremental:
		return e.fail("verify", usagef("give --resume or --incremental, not both"))
	}
	// Temporary files are counted where verify reads every folder's names anyway: the whole
	// store, or one organization's. A day or an increment is checked without walking them.
	removeTemps, _ := fs.GetBool("remove-temporaries")
	countTemps := from.IsZero() && !opt.Incremental
	if removeTemps && !countTemps {
		return e.fail("verify", usagef("--remove-temporaries sweeps the whole store or one --org's folder: not with --date, --from, --to or --incremental"))
	}
	if checkpoint || opt.Resume || opt.Incremental {
		key, err := e.signingKey()
		if err != nil {
			return e.fail("verify", err)
		}
		if key == nil && !opt.Incremental {
			return e.fail("verify", usagef("--checkpoint and --resume write signed checkpoints: set signing.keyFile"))
		}
		opt.CheckpointKey = key
		opt.Sample = e.cfg.Verify.Sample
	}
	// Read-only unless checkpoints are written (the only objects verify ever creates) or
	// temporary files of writers that are gone removed.
	// --extend-locks needs no more: only S3 locks, and its store is the same either way.
	open := e.openStoreReadOnly
	if opt.CheckpointKey != nil || removeTemps {
		open = e.openStore
	}
	store, closeStore, err := open()
	if err != nil {
		return e.fail("verify", err)
	}
	defer closeStore()
	pkFile, _ := fs.GetString("public-key")
	// With trusted keys, every manifest must carry a signature by one of them.
	if opt.TrustedKeys, err = e.trustedKeys(pkFile); err != nil {
		return e.fail("verify", err)
	}
	if opt.Incremental && len(opt.TrustedKeys) == 0 {
		// A configuration mistake (exit 2), not a problem found in the archive (exit 1).
		return e.fail("verify", usagef("--incremental reads the newest signed checkpoint: give the trusted public key (--public-key FILE or signing.publicKeyFile)"))
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
	rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, opt)
	var removed string
	var tempErr error
	if err == nil && rep != nil && countTemps {
		var warning string
		removed, warning, tempErr = temporaries(ctx, store, org, removeTemps)
		if warning != "" {
			rep.Warnings = append(rep.Warnings, warning)
		}
	}
	if rep != nil {
		for _, w := range rep.Warnings {
			e.note(slog.LevelWarn, "warning: "+w, "verify warning", "warning", w)
		}
		for _, p := range rep.Problems {
			e.note(slog.LevelError, "PROBLEM: "+p, "verify problem", "problem", p)
		}
	}
	if err != nil {
		return e.failIncomplete(rep, err)
	}
	if rep.Manifests == 0 && rep.Checkpoint == "" && !(!from.IsZero() && holdsManifests(ctx, store, org)) {
		// (From a checkpoint, nothing new since is not an empty store; nor are days not
		// sealed yet, --date yesterday before the night's run, which runDays warns of.)
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
	switch {
	case rep.Resumed > 0:
		fmt.Fprintf(e.stdout, "resumed from checkpoint %s: %d organizations verified before\n", rep.Checkpoint, rep.Resumed)
	case rep.Checkpoint != "":
		fmt.Fprintf(e.stdout, "from checkpoint %s\n", rep.Checkpoint)
	}
	if rep.Wrote != "" {
		fmt.Fprintf(e.stdout, "checkpoint written: %s\n", rep.Wrote)
	}
	if removed != "" {
		fmt.Fprintln(e.stdout, removed)
	}
	fmt.Fprintf(e.stdout, "verified %d organizations, %d manifests, %d objects, %d bytes: %d problems, %d warnings\n",
		rep.Orgs, rep.Manifests, rep.Objects, rep.Bytes, len(rep.Problems), len(rep.Warnings))
	if tempErr != nil {
		// The archive was verified; what failed is the count or removal of leftovers.
		return e.fail("verify", tempErr)
	}
	if !rep.OK() {
		return exitFailure
	}
	return exitOK
}

// holdsManifests reports whether the store (org's folder, when given) holds anything under
// orgs/, where every manifest is: a store that does, with no manifest of the days asked
// for, is not the empty or mistyped location verify otherwise reports. One listed key is
// enough; a listing that fails says no, and the problem is reported as before.
func holdsManifests(ctx context.Context, store archiver.Store, org string) bool {
	prefix := "orgs/"
	if org != "" {
		prefix += org + "/"
	}
	found := errors.New("found")
	return errors.Is(store.List(ctx, prefix, func(string) error { return found }), found)
}

// failIncomplete ends a verification the store (or anything else) stopped partway, after
// the problems found so far were printed: it says the verification is INCOMPLETE (with
// JSON logs, one "verify incomplete" record an auditor's script can look for, with the
// error and the counts so far), then fails with the error as any command does (exit 1:
// what was not checked is not known to be whole).
func (e *env) failIncomplete(rep *verify.Report, err error) int {
	var problems, warnings int
	if rep != nil {
		problems, warnings = len(rep.Problems), len(rep.Warnings)
	}
	line := fmt.Sprintf("verification INCOMPLETE: stopped by an error after %d problems and %d warnings (printed above); "+
		"what was not reached is not verified: %v", problems, warnings, err)
	e.note(slog.LevelError, line, "verify incomplete", "error", err.Error(), "problemsSoFar", problems, "warningsSoFar", warnings)
	return e.fail("verify", err)
}

// temporaryFiles is what the folder store tells of the temporary files left in it
// (fsstore.Store.TemporariesBelow).
type temporaryFiles interface {
	TemporariesBelow(ctx context.Context, dir string, remove bool) (fsstore.Temporaries, error)
}

// temporaries counts the temporary files below the whole store, or org's folder, of
// writes that did not finish, and with remove removes those of writers that are gone. It
// returns the line saying what was removed, and a warning when some are left that no live
// writer is known to need: a seal killed before its batch was flushed leaves a whole day's
// exports as temporary files, which no rerun reuses. A live writer's (another seal, serve)
// are none of verify's business. Not the folder store: nothing.
func temporaries(ctx context.Context, store archiver.Store, org string, remove bool) (removed, warning string, err error) {
	tf, ok := store.(temporaryFiles)
	if !ok {
		return "", "", nil
	}
	dir := "."
	if org != "" {
		dir = "orgs/" + org
	}
	t, err := tf.TemporariesBelow(ctx, dir, remove)
	if err != nil {
		return "", "", err
	}
	if t.Removed > 0 {
		removed = fmt.Sprintf("removed %d temporary files (%d bytes) of writes whose process is gone", t.Removed, t.RemovedBytes)
	}
	stale, staleBytes := t.Stale-t.Removed, t.StaleBytes-t.RemovedBytes
	var parts []string
	if stale > 0 {
		parts = append(parts, fmt.Sprintf("%d (%d bytes) of writes whose process is gone, which verify --remove-temporaries removes", stale, staleBytes))
	}
	if t.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d (%d bytes) whose writer cannot be told (no owner file), removed once unwritten for a week", t.Unknown, t.UnknownBytes))
	}
	if len(parts) > 0 {
		warning = fmt.Sprintf("%d temporary files (%d bytes) left in the store by writes that did not finish: %s",
			stale+t.Unknown, staleBytes+t.UnknownBytes, strings.Join(parts, "; "))
	}
	return removed, warning, nil
}
