package verifyloop

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEmptiedStoreFails: someone deletes the organizations' days from the store (every
// object under orgs/). The slices list the store's sealed organization-days and verify
// those: with none left, they verified nothing and recorded passing runs. chatvault never
// deletes a sealed day, and the signed records of the earlier slices say how many the
// store held: a slice that finds fewer fails, naming the deletion, on the process that
// saw the days (in memory) as on one restarted since (from the records), and every slice
// after it fails too until the days are back.
func TestEmptiedStoreFails(t *testing.T) {
	a := newArchive(t, "2026-11-22", "2026-11-23")
	c := &clock{now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	l := newLoop(a, c, time.Hour, time.Hour) // one slice is the whole store
	if r := l.Slice(t.Context()); !r.OK() || r.StoreOrgDays != 4 {
		t.Fatalf("first slice: %+v", r)
	}
	if err := os.RemoveAll(filepath.Join(a.root, "orgs")); err != nil {
		t.Fatal(err)
	}
	deleted := func(r *Record) bool {
		return slices.ContainsFunc(r.ProblemDetails, func(p string) bool { return strings.Contains(p, "deleted") })
	}
	for i, loop := range []*Loop{l, newLoop(a, c, time.Hour, time.Hour), newLoop(a, c, time.Hour, time.Hour)} {
		c.add(time.Hour)
		r := loop.Slice(t.Context())
		if r.OK() || r.Problems == 0 || !deleted(r) || r.StoreOrgDays != 0 {
			t.Fatalf("slice %d after the days were deleted: %+v; want problems naming the deletion", i+2, r)
		}
	}
	reliability.Record(t, "security", "every organization's days deleted from the store, under serve's continuous verification", reliability.CleanFailure,
		"the slices fail (chatvault_verify_problems): the signed run records carry the most organization-days a slice found, and a store holding fewer is reported, after a restart too")
}

// TestEmptiedStoreWitnessed: the days are deleted with the records of the earlier slices
// (whoever can delete the one can delete the other), and serve restarts. Nothing in the
// store says days were ever sealed, so a slice, verifying what the store lists, passed.
// The witness kept outside the store (verify.witness) still shows the chain heads: a
// slice checks the heads the store does not list against it (Ledger.CheckWitnessed, as
// serve's day endpoints do) and reports each as a problem.
func TestEmptiedStoreWitnessed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gone  func(a *archive) []string // removes, returns the organizations that lost days
		wantN int
	}{
		{"every organization's days and the records", func(a *archive) []string {
			os.RemoveAll(filepath.Join(a.root, "orgs"))
			return []string{acme, globex}
		}, 2},
		{"one organization's folder and the records", func(a *archive) []string {
			os.RemoveAll(filepath.Join(a.root, "orgs", globex))
			return []string{globex}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newArchive(t, "2026-11-22", "2026-11-23")
			c := &clock{now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
			heads, err := ledger.Ledger{Store: a.store}.Heads(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			b, err := archiver.NewWitness(heads, nil, a.root, c.Now(), a.key)
			if err != nil {
				t.Fatal(err)
			}
			w, err := archiver.ParseWitness(b, []ed25519.PublicKey{a.key.Public().(ed25519.PublicKey)})
			if err != nil {
				t.Fatal(err)
			}
			if r := newLoop(a, c, time.Hour, time.Hour).Slice(t.Context()); !r.OK() {
				t.Fatalf("first slice: %+v", r)
			}
			orgs := tc.gone(a)
			if err := os.RemoveAll(filepath.Join(a.root, "verifications")); err != nil {
				t.Fatal(err)
			}
			c.add(time.Hour)
			// A restart without the witness: nothing in memory or in the store tells.
			if r := newLoop(a, c, time.Hour, time.Hour).Slice(t.Context()); !r.OK() {
				t.Fatalf("slice without the witness: %+v; the store should hold no trace of the deleted days", r)
			}
			c.add(time.Hour)
			l := newLoop(a, c, time.Hour, time.Hour)
			l.Witness = func(context.Context) (*archiver.Witness, error) { return w, nil }
			r := l.Slice(t.Context())
			witnessed := 0
			for _, p := range r.ProblemDetails {
				if strings.Contains(p, ledger.ErrBehindWitness.Error()) {
					witnessed++
					if !slices.ContainsFunc(orgs, func(org string) bool { return strings.Contains(p, org) }) {
						t.Errorf("problem %q names no organization that lost its days %v", p, orgs)
					}
				}
			}
			if r.OK() || r.Result() != "problems" || witnessed != tc.wantN {
				t.Fatalf("slice of the emptied store with a witness: %+v; want %d problems from the witness", r, tc.wantN)
			}
		})
	}
	reliability.Record(t, "security", "a store emptied of its sealed days and of the continuous verification's records, serve restarted, with verify.witness", reliability.CleanFailure,
		"each slice checks the witnessed chain heads the store no longer lists against the witness (as the day endpoints do) and reports each as a problem (chatvault_verify_problems, logged); before, the slice verified nothing and passed")
}
