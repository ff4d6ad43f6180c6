package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strings"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
)

// newAttachmentCapturer builds the capture of issue 14 from attachments.*, or returns nil
// when attachments.enabled is off. The token is read here, once, and goes nowhere but
// the Authorization header of requests to the allowed hosts over https.
func newAttachmentCapturer(e *env, store archiver.Store, key ed25519.PrivateKey) (*attach.Capturer, error) {
	a := e.cfg.Attachments
	if !a.Enabled {
		return nil, nil
	}
	var token string
	if a.TokenFile != "" {
		// A credential to the platform's files: refused, like a signing key, when every
		// user of the host may read it. The error names the file, never its contents.
		b, err := readSecret(a.TokenFile)
		if err != nil {
			return nil, usagef("attachments.tokenFile: %v", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, usagef("attachments.tokenFile: %s is empty", a.TokenFile)
		}
	}
	f, err := attach.NewFetcher(attach.Options{AllowedHosts: a.AllowedHosts, Token: token, Concurrency: a.Concurrency,
		MaxSize: a.MaxSize, ConnectTimeout: a.ConnectTimeout, HeaderTimeout: a.HeaderTimeout, Timeout: a.Timeout,
		TempDir: e.cfg.Export.TempDir})
	if err != nil {
		return nil, usagef("%v", err)
	}
	var trusted []ed25519.PublicKey
	if key != nil {
		trusted = []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	}
	return &attach.Capturer{Ledger: archiver.Ledger{Store: store}, Fetcher: f, SigningKey: key, TrustedKeys: trusted,
		RetryFor: a.RetryFor, Now: runClock, Log: e.log.With("component", "attachments")}, nil
}

// captureAttachments captures, after a seal, the files linked by the day's records of
// every organization the seal committed or found unchanged (a rerun retries what failed).
// A file that cannot be fetched is an outcome in the day's attachment index, not an
// error; an error here (the store failed) fails the run, and the next run resumes.
func captureAttachments(ctx context.Context, e *env, c *attach.Capturer, res *archiver.DayResult) error {
	var failed error
	for _, o := range res.Orgs {
		if o.Outcome != archiver.OutcomeCommitted && o.Outcome != archiver.OutcomeUnchanged {
			continue
		}
		r, err := c.CaptureDay(ctx, o.Org, res.Day)
		if err != nil {
			e.note(slog.LevelError, fmt.Sprintf("chatvault run: %s: attachments of %s: %v", res.Day, o.Org, err),
				"attachment capture failed", "day", res.Day.String(), "org", o.Org, "err", err)
			if failed == nil {
				failed = err
			}
			continue
		}
		if r.Revision == 0 && r.Fetched == 0 {
			continue // nothing linked, or nothing new
		}
		fmt.Fprintf(e.stdout, "  attachments %s: %d captured, %d failed, %d fetched (%d bytes), index revision %d\n",
			o.Org, r.Captured, r.Failed, r.Fetched, r.FetchedBytes, r.Revision)
	}
	return failed
}
