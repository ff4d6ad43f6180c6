package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/tokenfile"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "token",
		summary: "manage API tokens in auth.tokensFile: create, list, revoke",
		usage: "create --org ID --scope S [--scope S] [--name N] [--expires 90d]\n" +
			"       chatvault token list\n       chatvault token revoke --id ID",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "create: the organization the token reaches")
			fs.StringSlice("scope", nil, "create: scope ("+strings.Join(archiver.Scopes, ", ")+"); repeatable")
			fs.String("name", "", "create: who or what holds the token")
			fs.String("expires", "", "create: lifetime, such as 90d or 12h (default: never)")
			fs.String("id", "", "revoke: the token's id (or its first 8+ characters)")
		},
		run:     runToken,
		subArgs: true,
		args:    []string{"create", "list", "revoke"},
	})
}

func runToken(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	path := e.cfg.Auth.TokensFile
	if path == "" {
		return e.fail("token", usagef("auth.tokensFile is not set (CHATVAULT_AUTH_TOKENSFILE or the config file)"))
	}
	if fs.NArg() != 1 {
		return e.fail("token", usagef("want one of: create, list, revoke"))
	}
	switch fs.Arg(0) {
	case "create":
		org, _ := fs.GetString("org")
		scopes, _ := fs.GetStringSlice("scope")
		name, _ := fs.GetString("name")
		exp, _ := fs.GetString("expires")
		ttl, err := parseLifetime(exp)
		if err != nil {
			return e.fail("token", usagef("--expires: %v", err))
		}
		// The secret is printed once: onto /dev/null (`> /dev/null`, or stdout closed, on
		// which Go opens /dev/null) it was lost and the token saved, exit 0.
		if isDevNull(e.stdout) {
			return e.fail("token", usagef("create: stdout is /dev/null (or closed): the token's secret, printed once, would be lost; nothing was saved"))
		}
		var secret string
		var t archiver.Token
		printed := false
		err = tokenfile.Update(path, func(f *tokenfile.File) error {
			var err error
			if secret, t, err = f.Mint(tokenfile.DefaultRandom, org, name, scopes, time.Now(), ttl); err != nil {
				return usagef("%v", err)
			}
			// The secret goes to stdout alone, so that scripts can capture it; it is not
			// kept. It is printed before the file is written: a secret that stdout did
			// not take (a full disk, /dev/full) is lost, and its token, saved, was a
			// credential no one holds, reported as created with exit 0.
			if _, err := fmt.Fprintln(e.stdout, secret); err != nil {
				return fmt.Errorf("print the new token: %w; it was not saved in %s", err, path)
			}
			printed = true
			return nil
		})
		if err != nil && printed {
			err = fmt.Errorf("the token printed is NOT valid, it was not saved: %w", err)
		}
		if err != nil {
			return e.fail("token", err)
		}
		// A token without --expires has the zero time, which would log as year 1.
		expires := "never"
		if !t.Expires.IsZero() {
			expires = t.Expires.UTC().Format(time.RFC3339)
		}
		e.log.Info("token created", "id", t.ID, "org", t.Org, "scopes", t.Scopes, "expires", expires)
	case "list":
		// A missing file lists as empty, like a new install's; but a typo, or a relative
		// path run from another folder, must not read as "no token was ever made".
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			abs, _ := filepath.Abs(path)
			e.log.Warn("auth.tokensFile does not exist: no token was created in it (a mistyped path, or a relative one from another folder?)", "file", abs)
		}
		f, err := tokenfile.Read(path)
		if err != nil {
			return e.fail("token", err)
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tORG\tSCOPES\tCREATED\tEXPIRES\t")
		for _, t := range f.Tokens {
			expires := "never"
			if !t.Expires.IsZero() {
				expires = t.Expires.Format(time.RFC3339)
				if t.Expired(time.Now()) {
					expires += " (expired)"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", t.ID, t.Name, t.Org, strings.Join(t.Scopes, ","),
				t.Created.Format(time.RFC3339), expires)
		}
		tw.Flush()
	case "revoke":
		id, _ := fs.GetString("id")
		if id == "" {
			return e.fail("token", usagef("--id is required"))
		}
		t, err := tokenfile.RevokeFile(path, id)
		if errors.Is(err, tokenfile.ErrTokenID) {
			return e.fail("token", usagef("%v", err))
		}
		if err != nil {
			return e.fail("token", err)
		}
		fmt.Fprintf(e.stdout, "revoked %s (%s)\n", t.ID, t.Name)
	default:
		return e.fail("token", usagef("unknown subcommand %q: want create, list or revoke", fs.Arg(0)))
	}
	return exitOK
}

// maxTokenLifetime is the longest --expires: ten years, longer than any review of a
// token's holder should take, and far below time.Duration's limit (about 292 years), past
// which a lifetime would wrap around into one that ends at once.
const (
	maxTokenLifetime     = maxTokenLifetimeDays * 24 * time.Hour
	maxTokenLifetimeDays = 3650
)

// parseLifetime reads "90d" as well as Go durations ("12h"); "" means no expiry. A
// lifetime beyond maxTokenLifetime is refused, never wrapped or cut.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	tooLong := fmt.Errorf("%q is longer than the maximum lifetime of %dd (%s)", s, maxTokenLifetimeDays, maxTokenLifetime)
	bad := fmt.Errorf("%q: want a positive lifetime of at most %dd, such as 90d or 12h", s, maxTokenLifetimeDays)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		// ParseInt refuses what int64 cannot hold; the bound is checked before multiplying,
		// which could overflow.
		days, err := strconv.ParseInt(n, 10, 64)
		switch {
		case err != nil || days <= 0:
			return 0, bad
		case days > maxTokenLifetimeDays:
			return 0, tooLong
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	// time.ParseDuration refuses a value that overflows (as invalid).
	d, err := time.ParseDuration(s)
	switch {
	case err != nil || d <= 0:
		return 0, bad
	case d > maxTokenLifetime:
		return 0, tooLong
	}
	return d, nil
}

// isDevNull reports whether w is stdout open on /dev/null.
func isDevNull(w io.Writer) bool {
	f, ok := rawStdout(w).(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
}
