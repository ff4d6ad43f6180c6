package main

import (
	"context"
	"fmt"
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
	f, err := tokenfile.Read(path)
	if err != nil {
		return e.fail("token", err)
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
		secret, t, err := f.Mint(tokenfile.DefaultRandom, org, name, scopes, time.Now(), ttl)
		if err != nil {
			return e.fail("token", usagef("%v", err))
		}
		if err := f.Write(path); err != nil {
			return e.fail("token", err)
		}
		// The secret goes to stdout alone, so that scripts can capture it; it is not kept.
		fmt.Fprintln(e.stdout, secret)
		e.log.Info("token created", "id", t.ID, "org", t.Org, "scopes", t.Scopes, "expires", t.Expires)
	case "list":
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
		t, err := f.Revoke(id)
		if err != nil {
			return e.fail("token", usagef("%v", err))
		}
		if err := f.Write(path); err != nil {
			return e.fail("token", err)
		}
		fmt.Fprintf(e.stdout, "revoked %s (%s)\n", t.ID, t.Name)
	default:
		return e.fail("token", usagef("unknown subcommand %q: want create, list or revoke", fs.Arg(0)))
	}
	return exitOK
}

// parseLifetime reads "90d" as well as Go durations ("12h"); "" means no expiry.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days, such as 90d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration, such as 90d or 12h", s)
	}
	return d, nil
}
