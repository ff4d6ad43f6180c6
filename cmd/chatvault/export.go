package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/klauspost/compress/gzip"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write an organization's sealed day (latest revision) as JSONL",
		usage:   "--org ID --date D [-o FILE]",
		flags: func(fs *pflag.FlagSet) {
			fs.String("org", "", "organization id (required)")
			fs.String("date", "", "day, YYYY-MM-DD (UTC), or yesterday or today (required)")
			fs.StringP("output", "o", "", "write to FILE instead of stdout (created, never replaced)")
		},
		run: runExport,
	})
}

func runExport(ctx context.Context, e *env, fs *pflag.FlagSet) int {
	org, _ := fs.GetString("org")
	date, _ := fs.GetString("date")
	out, _ := fs.GetString("output")
	if org == "" || date == "" {
		return e.fail("export", usagef("--org and --date are required"))
	}
	// yesterday, as run and status take it: a nightly export script needs no date
	// arithmetic in its shell.
	day, err := parseDayArg(date) // app.go
	if err != nil {
		return e.fail("export", usagef("--date: %v", err))
	}
	store, closeStore, err := e.openStoreReadOnly()
	if err != nil {
		return e.fail("export", err)
	}
	defer closeStore()
	if err := checkOrg(ctx, e, store, org, nil, false, "nothing is sealed under that id"); err != nil { // holdorg.go
		return e.fail("export", err)
	}
	// A day deleted from the store reads as never sealed; the witness, kept outside the
	// store, tells the two apart (as for serve and export-task).
	wf, err := e.configuredWitness(ctx, store)
	if err != nil {
		return e.fail("export", err)
	}
	m, rc, err := ledger.Ledger{Store: store}.OpenExport(ctx, org, day)
	if err != nil {
		if errors.Is(err, ledger.ErrNotSealed) {
			if wf != nil {
				if werr := wf.witnessed(store)(ctx, org); werr != nil {
					return e.fail("export", fmt.Errorf("%s has no export for %s in the store, checked against verify.witness %s: %w", org, day, wf.path, werr))
				}
			}
			return e.fail("export", fmt.Errorf("%s has no sealed export for %s (see chatvault status)", org, day))
		}
		return e.fail("export", err)
	}
	defer rc.Close()
	// What the errors name: the export object, or, for a day without records sealed in
	// layout 3 (no object: the ledger hands the constant empty gzip), its manifest.
	name := m.Data.Key
	if name == "" {
		name = m.Key
	}
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return e.fail("export", fmt.Errorf("%s: %w", name, err))
	}
	w := e.stdout
	var f *output
	if out != "" {
		if f, err = e.createOutput(out); err != nil {
			return e.fail("export", err)
		}
		defer f.abort() // after commit, a no-op
		w = f
	}
	// The JSONL is hashed on its way out and checked against the manifest (issue 10.6):
	// a file that does not match is not kept; on stdout the exit status says so. Ctrl-C
	// and SIGTERM stop the copy (main catches them, so they no longer end the process):
	// a long export ran on to its end, exit 0, whatever was pressed.
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, zr})
	switch {
	case err != nil:
	case n != m.Data.JSONLSize:
		err = fmt.Errorf("%s: %d bytes, manifest says %d: the stored export does not match its manifest", name, n, m.Data.JSONLSize)
	case hex.EncodeToString(h.Sum(nil)) != m.Data.JSONLSHA256:
		err = fmt.Errorf("%s: JSONL SHA-256 %x, manifest says %s: the stored export does not match its manifest", name, h.Sum(nil), m.Data.JSONLSHA256)
	}
	if err == nil && f != nil {
		err = f.commit()
	}
	if err != nil {
		return e.fail("export", err)
	}
	e.log.Info("exported", "org", org, "day", day.String(), "revision", m.Revision, "records", m.Data.Records, "sha256", m.Data.JSONLSHA256)
	return exitOK
}

// ctxReader is r that fails with ctx's error once ctx is done, between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
