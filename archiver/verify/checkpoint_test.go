package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

const acme, globex = "0a1c2e3f-0000-4000-8000-00000000aaaa", "0b1c2e3f-0000-4000-8000-00000000bbbb"

// clockAt returns a clock that starts at t and moves a second each call, so that
// checkpoints written one after the other sort in order.
func clockAt(t time.Time) func() time.Time {
	return func() time.Time { t = t.Add(time.Second); return t }
}

func (a *archive) full(t *testing.T, opt Options) *Report {
	t.Helper()
	opt.TrustedKey, opt.Directory, opt.CheckpointKey = a.pub(), a.dir, a.key
	if opt.Now == nil {
		opt.Now = clockAt(a.next.Start())
	}
	rep, err := Run(context.Background(), ledger.Ledger{Store: a.store}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestIncrementalReadsOnlyWhatIsNew: after a full verification's checkpoint, an
// incremental one reads the checkpointed heads and what was sealed since, not the
// history: the same requests on a store of 3 days and of 9 before the checkpoint.
func TestIncrementalReadsOnlyWhatIsNew(t *testing.T) {
	measure := func(old int) (requests, *Report) {
		root := t.TempDir()
		store := newFSStore(t, root)
		a := sealDays(t, store, root, old+2, old)
		if rep := a.full(t, Options{}); !rep.OK() || rep.Wrote == "" {
			t.Fatalf("full: problems %q, checkpoint %q", rep.Problems, rep.Wrote)
		}
		a.sealNext(t)
		a.sealNext(t)
		c := count(a.store)
		rep, err := Run(context.Background(), ledger.Ledger{Store: c}, Options{Incremental: true, TrustedKey: a.pub(), Directory: a.dir,
			CheckpointKey: a.key, Now: clockAt(a.next.Start().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Checkpoint == "" || rep.Wrote == "" {
			t.Fatalf("incremental on %d days: problems %q, from %q, wrote %q", old, rep.Problems, rep.Checkpoint, rep.Wrote)
		}
		inc := c.requests()
		fc := count(a.store)
		if _, err := Run(context.Background(), ledger.Ledger{Store: fc}, Options{TrustedKey: a.pub(), Directory: a.dir}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d+2 days: a full verification makes %+v requests, an incremental one %+v", old, fc.requests(), inc)
		return inc, rep
	}
	small, smallRep := measure(3)
	large, largeRep := measure(9)
	t.Logf("incremental after 3 days: %+v, %d manifests; after 9: %+v, %d manifests", small, smallRep.Manifests, large, largeRep.Manifests)
	if small.opens != large.opens || smallRep.Manifests != largeRep.Manifests || smallRep.Manifests != 4 {
		t.Fatalf("incremental: %+v (%d manifests) after 3 days, %+v (%d) after 9: want the same, 4 manifests (2 days × 2 organizations)",
			small, smallRep.Manifests, large, largeRep.Manifests)
	}
	reliability.Record(t, "operations", "verify --incremental after a checkpoint, on a store of many days", reliability.Kept,
		"reads the checkpointed heads and the manifests sealed since (by key), not the history: the same objects read whatever the history")
}

// TestIncrementalFindsTampering: what an incremental verification reads, it checks: a
// changed export of a new day, and a checkpointed head rewritten since.
func TestIncrementalFindsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, a *archive, cp *Checkpoint)
		want   string
	}{
		{"new export changed", func(t *testing.T, a *archive, _ *Checkpoint) {
			rewrite(t, a.root, findKey(t, a.root, archiver.DayPrefix(acme, a.days[len(a.days)-1])+"events-"), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}, "events-"},
		{"checkpointed head rewritten", func(t *testing.T, a *archive, cp *Checkpoint) {
			i := slices.IndexFunc(cp.Orgs, func(o CheckpointOrg) bool { return o.Org == globex })
			rewrite(t, a.root, archiver.ChainKey(globex, cp.Orgs[i].Seq), func(b []byte) []byte { return append(b, ' ') })
		}, "the manifest was rewritten"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sealDays(t, newFSStore(t, t.TempDir()), "", 4, 2)
			a.root = rootOf(a)
			rep := a.full(t, Options{})
			cp, err := ReadCheckpoint(context.Background(), a.store, rep.Wrote, []ed25519.PublicKey{a.pub()})
			if err != nil {
				t.Fatal(err)
			}
			a.sealNext(t)
			tt.tamper(t, a, cp)
			rep = a.full(t, Options{Incremental: true})
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q, want one with %q", rep.Problems, tt.want)
			}
		})
	}
}

// TestCheckpointForgedRefused: a checkpoint that a trusted key did not sign (unsigned,
// signed by another key, or changed after signing) is refused: a problem names it, and
// the verification starts from the newest checkpoint that verifies, so that whoever can
// write to the store cannot make verify skip a manifest they changed.
func TestCheckpointForgedRefused(t *testing.T) {
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name  string
		forge func(t *testing.T, a *archive, cp *Checkpoint) []byte
		want  string
	}{
		{"unsigned", func(t *testing.T, a *archive, cp *Checkpoint) []byte {
			cp.Signature = nil
			return marshal(t, cp)
		}, "not signed"},
		{"signed by another key", func(t *testing.T, a *archive, cp *Checkpoint) []byte {
			cp.Signature = nil
			body, _ := cp.signingBody()
			cp.Signature = archiver.SignBody(other, body)
			return marshal(t, cp)
		}, "untrusted key"},
		{"changed after signing", func(t *testing.T, a *archive, cp *Checkpoint) []byte {
			cp.Orgs[0].Seq += 10 // skip the next ten manifests
			return marshal(t, cp)
		}, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sealDays(t, newFSStore(t, t.TempDir()), "", 3, 2)
			a.root = rootOf(a)
			first := a.full(t, Options{})
			cp, err := ReadCheckpoint(context.Background(), a.store, first.Wrote, []ed25519.PublicKey{a.pub()})
			if err != nil {
				t.Fatal(err)
			}
			b := tt.forge(t, a, cp)
			key := checkpointKey(cp.Created.Add(time.Hour))
			if err := a.store.Create(context.Background(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadCheckpoint(context.Background(), a.store, key, []ed25519.PublicKey{a.pub()}); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadCheckpoint = %v, want ErrCheckpoint with %q", err, tt.want)
			}
			a.sealNext(t)
			rep := a.full(t, Options{Incremental: true, Now: clockAt(a.next.Start().Add(2 * time.Hour))})
			if rep.Checkpoint != first.Wrote {
				t.Errorf("started from %q, want the valid checkpoint %q", rep.Checkpoint, first.Wrote)
			}
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, key) && strings.Contains(p, "refused") }) {
				t.Errorf("problems %q, want one refusing %s", rep.Problems, key)
			}
			if rep.Manifests != 2 {
				t.Errorf("%d manifests verified, want 2 (the day sealed after the valid checkpoint)", rep.Manifests)
			}
		})
	}
	// Without a trusted key no checkpoint is used at all.
	a := newArchive(t, 1)
	_, err := Run(context.Background(), ledger.Ledger{Store: a.store}, Options{Incremental: true, Directory: a.dir})
	if err == nil || !strings.Contains(err.Error(), "trusted public key") {
		t.Errorf("incremental without a trusted key: %v, want a refusal", err)
	}
	reliability.Record(t, "security", "a forged, unsigned or changed verification checkpoint", reliability.Refused,
		"verify --incremental uses a checkpoint only when a trusted public key signed it; a refused one is a problem and the verification starts from the newest one that verifies")
}

// TestSampleRotates: each incremental verification re-hashes Sample organization-days
// verified before, carrying on where the last sample ended, so that a changed old day is
// found within a few runs.
func TestSampleRotates(t *testing.T) {
	a := sealDays(t, newFSStore(t, t.TempDir()), "", 4, 4)
	a.root = rootOf(a)
	a.full(t, Options{})
	rewrite(t, a.root, findKey(t, a.root, archiver.DayPrefix(globex, a.days[3])+"events-"), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	clock := clockAt(a.next.Start().Add(time.Hour))
	found := 0
	for run := 1; run <= 4; run++ { // 8 organization-days, 3 a run: every one within 3 runs
		rep := a.full(t, Options{Incremental: true, Sample: 3, Now: clock})
		if rep.Manifests != 3 {
			t.Fatalf("run %d: %d manifests sampled, want 3", run, rep.Manifests)
		}
		if !rep.OK() && found == 0 {
			found = run
		}
	}
	if found == 0 || found > 3 {
		t.Fatalf("the changed old day was found on run %d, want within 3", found)
	}
	reliability.Record(t, "fault", "an old day changed after a checkpoint (verify.sample)", reliability.CleanFailure,
		"incremental verifications re-hash a rotating sample of old organization-days and find it within a cycle")
}

// TestResume: a full verification interrupted after its first organization carries on
// after it with --resume, and its report is that of an uninterrupted one.
func TestResume(t *testing.T) {
	a := newArchive(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	opt := Options{Jobs: 1, CheckpointEvery: 1, TrustedKey: a.pub(), Directory: a.dir, CheckpointKey: a.key, Now: clockAt(a.next.Start()),
		Progress: func(int) { cancel() }}
	rep, err := Run(ctx, ledger.Ledger{Store: a.store}, opt)
	if !errors.Is(err, context.Canceled) || rep.Wrote == "" {
		t.Fatalf("interrupted: %v, checkpoint %q", err, rep.Wrote)
	}
	c := count(a.store)
	opt.Progress, opt.Resume = nil, true
	rep, err = Run(context.Background(), ledger.Ledger{Store: c}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Resumed != 1 || rep.Orgs != 1 || rep.Checkpoint == "" {
		t.Fatalf("resumed: problems %q, %d resumed, %d walked, from %q", rep.Problems, rep.Resumed, rep.Orgs, rep.Checkpoint)
	}
	cp, err := ReadCheckpoint(context.Background(), a.store, rep.Wrote, []ed25519.PublicKey{a.pub()})
	if err != nil || !cp.Complete || len(cp.Orgs) != 2 {
		t.Fatalf("last checkpoint: %v, %+v", err, cp)
	}
	// Only the chain entries the day's accounting objects name (checked once every
	// organization was walked): no export, day index or chat index of acme.
	if n := c.opened["orgs/"+acme]; n > len(a.days) {
		t.Errorf("the resumed verification read %d objects of %s, verified before the interruption; want at most %d", n, acme, len(a.days))
	}
	reliability.Record(t, "crash", "a full verify interrupted (verify --resume)", reliability.Recovered,
		"verify writes signed checkpoints as it goes; --resume carries on after the last organization checkpointed")
}

func marshal(t *testing.T, cp *Checkpoint) []byte {
	t.Helper()
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
