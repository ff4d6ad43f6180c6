// Command chatvault seals each UTC day of a chat platform's event log into a
// write-once, hash-chained compliance archive, and serves it.
//
// Run `chatvault help` for the commands; the README documents them with exit codes, and
// docs/cli.md (generated from them: make docs) lists every command and flag.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
