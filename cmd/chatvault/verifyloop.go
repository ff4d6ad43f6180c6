package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/archiver/verifyloop"
	"github.com/spf13/pflag"
)

// verifyHooks let tests drive serve's continuous verification without waiting an
// interval: tick, when set, replaces verify.interval's ticker, and verified hears every
// run once recorded.
var verifyHooks struct {
	tick     chan time.Time
	verified func(*verifyloop.Record)
}

// newVerifyLoop returns serve's continuous verification (nil when verify.interval is 0):
// verify.Run, as `chatvault verify` runs it, over the days the scheduler seals
// and a slice of the store every interval, each run recorded in the store, signed with the
// signing key.
func (e *env) newVerifyLoop(store archiver.Store, key ed25519.PrivateKey, clock scheduler.Clock) (*verifyloop.Loop, error) {
	if e.cfg.Verify.Interval == 0 {
		return nil, nil
	}
	// The keys `chatvault verify` trusts: with them, every manifest must be signed by one.
	trusted, err := e.trustedKeys("")
	if err != nil {
		return nil, err
	}
	holder := verifyHolderName()
	return &verifyloop.Loop{
		Store:       store,
		Verifier:    verify.Verifier{Ledger: ledger.Ledger{Store: store}, Audit: audit.Verifier{}},
		TrustedKeys: trusted,
		Key:         key,
		Interval:    e.cfg.Verify.Interval,
		Cycle:       e.cfg.Verify.Cycle,
		Now:         clock.Now,
		After:       clock.After,
		Holder:      holder,
		Logger:      e.log.With("component", "verify"),
		OnRun:       verifyHooks.verified,
		// One replica at a time verifies the slices (archiver/verifyloop/lease.go).
		Lease: verifyLease{&scheduler.Lease{Store: store, Prefix: verifyloop.LeasePrefix, Holder: holder,
			TTL: verifyloop.LeaseTTL(e.cfg.Verify.Interval), Clock: clock, MaxSkew: e.cfg.Schedule.LeaseMaxSkew}},
	}, nil
}

// verifyLease is the verification lease as serve takes it: a holder that was this very
// process's predecessor (restarted after a crash) is taken over at once, not after the
// lease's TTL, so that a single replica's restart does not pause the slices.
type verifyLease struct{ *scheduler.Lease }

// Acquire takes or renews the lease.
func (l verifyLease) Acquire(ctx context.Context) error {
	return l.AcquireOrTakeOver(ctx, deadVerifyHolder)
}

// verifyHolderName names serve's verification in the lease and the records: host,
// process id and a random suffix (deadVerifyHolder).
func verifyHolderName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-verify%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// deadVerifyHolder reports whether holder is a serve of this host that no longer runs:
// its process is gone, or it had this process's id (a container restarted in place: its
// serve was process 1 too) and is not this process. Anything else is taken for alive: its
// lease runs out by its TTL.
func deadVerifyHolder(holder string) bool {
	host, _ := os.Hostname()
	rest, ok := strings.CutPrefix(holder, host+"-verify")
	if !ok || host == "" {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return false
	}
	// The caller asks only about holders other than itself (scheduler.Lease).
	return pid == os.Getpid() || processGone(pid)
}

// sealedHook is the scheduler's OnSealed: the day goes to l to be verified at once.
func sealedHook(l *verifyloop.Loop) func(string, archiver.Day) {
	if l == nil {
		return nil
	}
	return l.Sealed
}

// startVerifyLoop runs l until ctx is done; the channel closes when it has stopped.
func startVerifyLoop(ctx context.Context, e *env, l *verifyloop.Loop) <-chan struct{} {
	done := make(chan struct{})
	if l == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		var tick <-chan time.Time = verifyHooks.tick
		if tick == nil {
			t := time.NewTicker(e.cfg.Verify.Interval)
			defer t.Stop()
			tick = t.C
		}
		l.Run(ctx, tick)
	}()
	return done
}

func init() {
	register(&command{
		name:    "verifications",
		summary: "list the verification runs serve recorded in the store (when, what range, what was found)",
		usage:   "[--since D] [--problems] [--json] [--public-key FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("since", "", "only runs that finished on this day (YYYY-MM-DD) or later")
			fs.Bool("problems", false, "only runs that found problems or could not complete")
			fs.Bool("json", false, "one record per line, as stored")
			fs.String("public-key", "", "trusted Ed25519 public keys, PEM (default signing.publicKeyFile): every record must be signed by one")
		},
		run: runVerifications,
	})
}

// runVerifications prints the verification records. Exit 1 when a listed run found
// problems, or when a record does not read or its signature fails.
func runVerifications(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	var since archiver.Day
	if s, _ := fs.GetString("since"); s != "" {
		d, err := parseDayArg(s)
		if err != nil {
			return e.fail("verifications", usagef("--since: %v", err))
		}
		since = d
	}
	onlyProblems, _ := fs.GetBool("problems")
	asJSON, _ := fs.GetBool("json")
	pkFile, _ := fs.GetString("public-key")
	trusted, err := e.trustedKeys(pkFile)
	if err != nil {
		return e.fail("verifications", err)
	}
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("verifications", err)
	}
	defer closeStore()
	recs, err := verifyloop.History(ctx, store, since, trusted)
	if err != nil {
		return e.fail("verifications", err)
	}
	code, shown := exitOK, 0
	for _, r := range recs {
		if !r.OK() {
			code = exitFailure
		}
		if onlyProblems && r.OK() {
			continue
		}
		shown++
		if asJSON {
			b, err := json.Marshal(r)
			if err != nil {
				return e.fail("verifications", err)
			}
			fmt.Fprintf(e.stdout, "%s\n", b)
			continue
		}
		ranges := make([]string, len(r.Ranges))
		for i, rg := range r.Ranges {
			ranges[i] = fmt.Sprintf("%s %s..%s (%d days)", rg.Org, rg.From, rg.To, rg.Days)
		}
		signed := "unsigned"
		if r.Signature != nil {
			signed = "signed by " + r.Signature.KeyID
		}
		fmt.Fprintf(e.stdout, "%s %-6s %s  %d org-days, %d objects, %d bytes: %s, %s  [%s]\n",
			r.Finished.Format(time.RFC3339), r.Kind, r.Started.Format(time.RFC3339), r.OrgDays, r.Objects, r.Bytes,
			strings.ReplaceAll(r.Result(), "ok", "no problems"), signed, r.Key)
		if len(ranges) > 0 {
			fmt.Fprintf(e.stdout, "  range: %s\n", strings.Join(ranges, "; "))
		}
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "  ERROR: %s\n", r.Error)
		}
		for _, p := range r.ProblemDetails {
			fmt.Fprintf(e.stdout, "  PROBLEM: %s\n", p)
		}
		if n := r.Problems - len(r.ProblemDetails); n > 0 {
			fmt.Fprintf(e.stdout, "  ... and %d more problems\n", n)
		}
	}
	e.note(slog.LevelInfo, fmt.Sprintf("%d verification runs recorded, %d shown", len(recs), shown),
		"verification runs", "recorded", len(recs), "shown", shown)
	return code
}
