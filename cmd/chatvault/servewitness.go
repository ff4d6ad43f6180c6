package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// witnessFile is verify.witness as serve reads it: a witness kept outside the store,
// parsed and its signature checked against the serving keys, re-read when its size or
// modification time changes (each night's witness replaces the last). A witness that no
// longer reads keeps the last one that did, logged: it is the evidence that a store
// emptied of its sealed days was not always so, and a bad copy must not turn it off.
type witnessFile struct {
	path    string
	trusted []ed25519.PublicKey
	log     *slog.Logger

	mu  sync.Mutex
	ver string
	w   *archiver.Witness
}

// openWitness returns verify.witness, read once and its signature checked against trusted
// (a usage error when it does not read), or nil when none is configured: serve's day
// endpoints, its export tasks and its continuous verification, export-task, export and
// status check the store against it.
func (e *env) openWitness(trusted []ed25519.PublicKey) (*witnessFile, error) {
	if e.cfg.Verify.Witness == "" {
		return nil, nil
	}
	wf := &witnessFile{path: e.cfg.Verify.Witness, trusted: trusted, log: e.log.With("component", "witness")}
	if _, err := wf.load(); err != nil {
		return nil, usagef("%v", err)
	}
	return wf, nil
}

// configuredWitness is openWitness with the keys serve trusts, for export and status,
// which read no keys otherwise: nil, and no key read, when verify.witness is not set.
func (e *env) configuredWitness(ctx context.Context, store archiver.Store) (*witnessFile, error) {
	if e.cfg.Verify.Witness == "" {
		return nil, nil
	}
	trusted, err := e.servingTrust(ctx, store)
	if err != nil {
		return nil, err
	}
	return e.openWitness(trusted)
}

func (f *witnessFile) load() (*archiver.Witness, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ver, err := f.read()
	switch {
	case err == nil:
		f.w, f.ver = w, ver
	case f.w != nil:
		f.log.Error("verify.witness does not read; serve goes on checking the store against the last witness that did", "file", f.path, "err", err)
	default:
		return nil, err
	}
	return f.w, nil
}

// read returns the witness when its version (size and modification time) changed since
// the last read, the last one otherwise.
func (f *witnessFile) read() (*archiver.Witness, string, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return nil, "", fmt.Errorf("verify.witness: %w", err)
	}
	ver := fmt.Sprint(st.Size(), " ", st.ModTime().UnixNano())
	if f.w != nil && ver == f.ver {
		return f.w, ver, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, "", fmt.Errorf("verify.witness: %w", err)
	}
	w, err := archiver.ParseWitness(b, f.trusted)
	if err != nil {
		return nil, "", fmt.Errorf("verify.witness %s: %w", f.path, err)
	}
	return w, ver, nil
}

// current is verifyloop.Loop.Witness: the witness as it reads now.
func (f *witnessFile) current(context.Context) (*archiver.Witness, error) { return f.load() }

// witnessed is httpapi.Server.Witnessed and exporttask.Engine.Witnessed: org's chain in
// store checked against the witness.
func (f *witnessFile) witnessed(store archiver.Store) func(ctx context.Context, org string) error {
	return func(ctx context.Context, org string) error {
		w, err := f.load()
		if err != nil {
			return err
		}
		return ledger.Ledger{Store: store}.CheckWitnessed(ctx, w, org)
	}
}
