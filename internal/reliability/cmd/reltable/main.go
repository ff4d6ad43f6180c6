// Command reltable renders the rows the reliability tests recorded into README.md's
// reliability section, or with -check reports whether the README is current.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/chatvault/chatvault/internal/reliability"
)

func main() {
	dir := flag.String("rows", "", "folder the tests wrote their rows to ($"+reliability.EnvOut+")")
	readme := flag.String("readme", "README.md", "the document holding the table")
	check := flag.Bool("check", false, "fail when the document's table differs instead of rewriting it")
	flag.Parse()
	if err := run(*dir, *readme, *check); err != nil {
		fmt.Fprintln(os.Stderr, "reltable:", err)
		os.Exit(1)
	}
}

func run(dir, readme string, check bool) error {
	if dir == "" {
		return fmt.Errorf("-rows is required")
	}
	rows, err := reliability.Load(dir)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no rows in %s: were the tests run with %s set?", dir, reliability.EnvOut)
	}
	doc, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := reliability.Splice(string(doc), reliability.Markdown(rows))
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if out == string(doc) {
		return nil
	}
	if check {
		return fmt.Errorf("%s's reliability table differs from the %d rows the tests recorded; run make reliability", readme, len(rows))
	}
	return os.WriteFile(readme, []byte(out), 0o644)
}
