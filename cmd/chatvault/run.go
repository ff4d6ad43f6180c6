package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"

	"text/tabwriter"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/config"
	"github.com/chatvault/chatvault/model"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "run",
		summary: "seal one day (--date) or a range (--from/--to); idempotent",
		usage:   "--date D [--org ID] | --from D --to D [--org ID] | --date D --org ID --supersede --reason TEXT",
		flags: func(fs *pflag.FlagSet) {
			rangeFlags(fs)
			fs.String("org", "", "commit only this organization")
			supersedeFlags(fs)
			fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to FILE")
		},
		run: runRun,
	})
}

func runRun(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	from, to, err := dayRange(fs, true)
	if err != nil {
		return e.fail("run", err)
	}
	// A day that has not ended cannot be complete, whatever its partition's _CLOSED marker
	// says. The Sealer refuses such a day itself (so does the scheduler's); refusing here,
	// before any day of a range is sealed, makes a --to in the future a usage error that
	// changes nothing rather than a run that seals part of the range.
	if err := archiver.CheckDayEnded(to, time.Now()); err != nil {
		return e.fail("run", usagef("%v", err))
	}
	org, _ := fs.GetString("org")
	supersede, err := parseSupersede(fs, org)
	if err != nil {
		return e.fail("run", err)
	}
	limitHeap(e)
	if path, _ := fs.GetString("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return e.fail("run", err)
		}
		defer stop()
	}
	src, err := e.openSource()
	if err != nil {
		return e.fail("run", err)
	}
	store, closeStore, err := e.openStore()
	if err != nil {
		return e.fail("run", err)
	}
	defer closeStore()
	key, err := e.signingKey()
	if err != nil {
		return e.fail("run", err)
	}
	directory, err := e.readDirectory()
	if err != nil {
		return e.fail("run", err)
	}
	// Sealing would refuse a bad snapshot too, day by day and without its name; checking
	// it once here stops the run before any day with a message that names the file.
	if _, err := model.ParseDirectory(directory); err != nil {
		return e.fail("run", fmt.Errorf("%s: %w", e.cfg.Directory, err))
	}
	code := exitOK
	for day := from; !day.After(to); day = day.Next() {
		progress := new(archiver.Progress)
		sealer := &archiver.Sealer{Source: src, Store: store, Options: sealerOptions(e, key, progress)}
		sealer.Supersede = supersede
		stop := startProgress(ctx, e, day, progress)
		res, err := sealer.Seal(ctx, day, directory, org)
		stop()
		if err != nil {
			fmt.Fprintf(e.stderr, "chatvault run: %s: %v\n", day, err)
			if errors.Is(err, archiver.ErrUnreadEntries) {
				fmt.Fprintln(e.stderr, "chatvault run: every entry of a partition must be read: deliver events as *.jsonl or *.jsonl.gz files, or list side files in export.ignoreFiles (CHATVAULT_EXPORT_IGNOREFILES) to record them instead")
			}
			if errors.Is(err, config.ErrInvalid) || errors.Is(err, archiver.ErrDayNotEnded) {
				return exitUsage
			}
			code = exitFailure
			continue
		}
		printSummary(e.stdout, res)
		switch {
		case len(res.Failed()) > 0:
			code = exitFailure
		case res.Input.Quarantined > 0 && code == exitOK:
			code = exitQuarantined
		}
	}
	return code
}

// limitHeap makes the Go heap's share of export.sortMemory the runtime's soft memory
// limit (plus the S3 upload buffers, which live on the heap), so that the process as a
// whole keeps to the budget: without it the collector lets garbage grow to twice the live
// heap. An operator's GOMEMLIMIT takes precedence.
func limitHeap(e *env) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	_, heap := archiver.SplitMemory(e.cfg.Export.SortMemory)
	if strings.HasPrefix(e.cfg.Store, "s3://") {
		heap += e.cfg.S3.PartSize * s3.DefaultConcurrency
	}
	debug.SetMemoryLimit(heap)
}

func sealerOptions(e *env, key []byte, p *archiver.Progress) archiver.Options {
	return archiver.Options{
		ExcludeContentTypes: e.cfg.Export.ExcludeContentTypes,
		SortMemory:          e.cfg.Export.SortMemory,
		TempDir:             e.cfg.Export.TempDir,
		Workers:             e.cfg.Export.Workers,
		Grace:               e.cfg.Schedule.Grace,
		SigningKey:          key,
		Generator:           "chatvault " + version,
		Logger:              e.log,
		Progress:            p,
	}
}

// printSummary writes the run's summary: every line read is accounted for.
func printSummary(w io.Writer, r *archiver.DayResult) {
	in := r.Input
	fmt.Fprintf(w, "sealed %s in %s: %d events read, %d exported, %d excluded, %d duplicates, %d quarantined\n",
		r.Day, r.Duration.Round(time.Millisecond), in.Read, in.Exported, sum(in.Excluded), in.Duplicates, in.Quarantined)
	if rate := float64(in.Read) / r.Duration.Seconds(); r.Duration > 0 {
		fmt.Fprintf(w, "  %.0f events/s; read and sort %s, merge and write %s; sort spilled %s in %d runs\n", rate,
			r.ReadDuration.Round(time.Millisecond), (r.Duration - r.ReadDuration).Round(time.Millisecond),
			config.FormatSize(r.SpilledBytes), r.Runs)
	}
	for _, reason := range sortedKeys(in.Excluded) {
		fmt.Fprintf(w, "  excluded %-28s %d\n", reason, in.Excluded[reason])
	}
	for _, reason := range sortedKeys(r.QuarantineByWhy) {
		fmt.Fprintf(w, "  quarantined %-25s %d\n", reason, r.QuarantineByWhy[reason])
	}
	if r.Quarantine != nil {
		fmt.Fprintf(w, "  quarantine object %s\n", r.Quarantine.Key)
	}
	for _, f := range r.Ignored {
		fmt.Fprintf(w, "  ignored %s (export.ignoreFiles): %s, sha256 %s, recorded in the manifests\n", f.Name, config.FormatSize(f.Size), f.SHA256)
	}
	if r.Accounting != "" {
		fmt.Fprintf(w, "  accounting object %s\n", r.Accounting)
	}
	if sk := r.ClockSkew; sk.Total() > 0 {
		fmt.Fprintf(w, "  clock skew: %d exported events outside the day (%d before, %d after; eventTimestamp %s to %s), flagged in the manifests\n",
			sk.Total(), sk.Before, sk.After, time.UnixMilli(sk.Earliest).UTC().Format(time.RFC3339Nano), time.UnixMilli(sk.Latest).UTC().Format(time.RFC3339Nano))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ORG\tNAME\tOUTCOME\tREV\tEXPORTED\tDUPLICATES\tEXCLUDED\tBYTES\t")
	var bytes int64
	for _, o := range r.Orgs {
		outcome := o.Outcome
		if o.Err != nil {
			outcome = "FAILED: " + o.Err.Error()
		}
		bytes += o.Data.Size
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", o.Org, o.Name, outcome, o.Revision,
			o.Counts.Exported, o.Counts.Duplicates, sum(o.Counts.Excluded), o.Data.Size)
	}
	tw.Flush()
	printSupersessions(w, r)
	fmt.Fprintf(w, "  %d organizations, %s stored\n", len(r.Orgs), config.FormatSize(bytes))
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
