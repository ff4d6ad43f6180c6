package verify

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// attachOpens is how many attachment objects c opened.
func attachOpens(c *countingStore) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.opened {
		if strings.HasPrefix(k, "attachments/") {
			n += v
		}
	}
	return n
}

// TestAttachmentVerifyReadsOnlyWhatIsNew: verify --date D checks D's attachment indexes
// and re-hashes their files; an incremental verification checks the indexes captured
// since its checkpoint (two new days, and a retry's revision of an old day) and their
// files, records them in its checkpoint so that the next one reads none of them again,
// and both make the same requests whatever the history.
func TestAttachmentVerifyReadsOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	type counts struct {
		date, inc, inc2 requests
		dateAttach      int
		incAttach       int
		inc2Attach      int
	}
	measure := func(old int) counts {
		var n counts
		f := newAttachArchive(t, false, old)
		if rep := f.full(t, Options{}); !rep.OK() || rep.Wrote == "" {
			t.Fatalf("full: problems %q", rep.Problems)
		}
		f.sealNext(t)
		f.sealNext(t)
		retried := f.days[old-1]
		f.up.Store(true)
		if revs := f.capture(t, retried); revs == 0 {
			t.Fatalf("the retry of %s appended no revision", retried)
		}
		window := 48 * time.Hour
		c := count(f.store)
		rep, err := Run(ctx, ledger.Ledger{Store: c}, Options{Incremental: true, TrustedKey: f.pub(), Directory: f.dir,
			CheckpointKey: f.key, AttachmentWindow: window, Now: clockAt(f.next.Start().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Wrote == "" {
			t.Fatalf("incremental: problems %q", rep.Problems)
		}
		n.inc, n.incAttach = c.requests(), attachOpens(c)
		cp, err := ReadCheckpoint(ctx, f.store, rep.Wrote, []ed25519.PublicKey{f.pub()})
		if err != nil {
			t.Fatal(err)
		}
		for _, org := range f.orgs {
			keys := f.indexKeys(t, org, retried)
			if len(keys) == 0 {
				continue
			}
			rec := cp.attachments(org)
			if got := rec.lookup(retried); got != len(keys) {
				t.Fatalf("%s: the checkpoint records revision %d of %s, the store has %d", org, got, retried, len(keys))
			}
			newest := f.indexKeys(t, org, f.days[len(f.days)-1])
			if rec.Tip != newest[len(newest)-1] {
				t.Fatalf("%s: tip %s, want %s", org, rec.Tip, newest[len(newest)-1])
			}
		}
		c2 := count(f.store)
		rep2, err := Run(ctx, ledger.Ledger{Store: c2}, Options{Incremental: true, TrustedKey: f.pub(), Directory: f.dir,
			CheckpointKey: f.key, AttachmentWindow: window, Now: clockAt(f.next.Start().Add(2 * time.Hour))})
		if err != nil || !rep2.OK() {
			t.Fatalf("second incremental: %v, problems %q", err, rep2.Problems)
		}
		n.inc2, n.inc2Attach = c2.requests(), attachOpens(c2)
		d := f.days[old]
		c3 := count(f.store)
		rep3, err := Run(ctx, ledger.Ledger{Store: c3}, Options{From: d, To: d, TrustedKey: f.pub(), Directory: f.dir, AttachmentRecord: true})
		if err != nil || !rep3.OK() {
			t.Fatalf("--date %s: %v, problems %q", d, err, rep3.Problems)
		}
		n.date, n.dateAttach = c3.requests(), attachOpens(c3)
		return n
	}
	small := measure(3)
	large := measure(9)
	t.Logf("3 days: %+v; 9 days: %+v", small, large)
	switch {
	case small.incAttach == 0 || small.dateAttach == 0:
		t.Fatalf("incremental read %d attachment objects, --date %d: the attachments captured since were not verified", small.incAttach, small.dateAttach)
	case small.inc2Attach != 0:
		t.Fatalf("the second incremental read %d attachment objects: want none (verified by the first, recorded in its checkpoint)", small.inc2Attach)
	case small != large:
		t.Fatalf("requests after 3 days %+v, after 9 %+v: they grow with the history", small, large)
	}
	reliability.Record(t, "operations", "verify --date and --incremental of captured attachments on a store of many days", reliability.Kept,
		"--date D reads D's index revisions and their files; --incremental those captured since its checkpoint (new days, a retry's revision of an old day), recorded in the checkpoint so the next reads none again: the same requests whatever the history")
}

// TestVerifyAttachmentsTampered: each way of tampering with a captured attachment or its
// index (the newest revision of a day deleted, a day's whole index deleted, a file's bytes
// edited, a file deleted) makes a whole-store verify, verify --date of the day and an
// incremental verification (its sample) fail with a problem naming the key, on the folder
// store and on MinIO. The deletions are told from a capture not run yet by the newest
// checkpoint's record of each organization's indexes.
func TestVerifyAttachmentsTampered(t *testing.T) {
	for _, onS3 := range []bool{false, true} {
		store := "folder"
		if onS3 {
			store = "MinIO"
		}
		for _, tc := range []struct {
			name   string
			tamper func(t *testing.T, f *attachArchive) (archiver.Day, string)
		}{
			{"newest index revision deleted", func(t *testing.T, f *attachArchive) (archiver.Day, string) {
				d := f.days[1]
				for _, org := range f.orgs {
					if keys := f.indexKeys(t, org, d); len(keys) == 2 {
						f.remove(t, keys[1])
						return d, attach.IndexPrefix(org, d) + "0002"
					}
				}
				t.Fatal("no day with two revisions")
				return d, ""
			}},
			{"day's whole index deleted", func(t *testing.T, f *attachArchive) (archiver.Day, string) {
				d := f.days[0]
				keys := f.indexKeys(t, acme, d)
				for _, k := range keys {
					f.remove(t, k)
				}
				return d, attach.IndexPrefix(acme, d) + "0001"
			}},
			{"file bytes edited", func(t *testing.T, f *attachArchive) (archiver.Day, string) {
				d := f.days[0]
				key := f.fileWith(t, d)
				f.overwrite(t, key, []byte("contents of /d/forged"))
				return d, key + ": bytes hash to"
			}},
			{"file deleted", func(t *testing.T, f *attachArchive) (archiver.Day, string) {
				d := f.days[2]
				key := f.fileWith(t, d)
				f.remove(t, key)
				return d, key + ": captured according to its index, but missing"
			}},
		} {
			t.Run(store+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				f := newAttachArchive(t, onS3, 3)
				f.up.Store(true)
				if f.capture(t, f.days[1]) == 0 {
					t.Fatal("no second revision")
				}
				if rep := f.full(t, Options{}); !rep.OK() || rep.Wrote == "" {
					t.Fatalf("full before: problems %q", rep.Problems)
				}
				day, want := tc.tamper(t, f)
				l := ledger.Ledger{Store: f.store}
				for _, v := range []struct {
					name string
					opt  Options
				}{
					{"whole-store verify", Options{TrustedKey: f.pub(), Directory: f.dir}},
					{"verify --date", Options{From: day, To: day, TrustedKey: f.pub(), Directory: f.dir, AttachmentRecord: true}},
					{"verify --incremental", Options{Incremental: true, Sample: 100, TrustedKey: f.pub(), Directory: f.dir,
						CheckpointKey: f.key, Now: clockAt(f.next.Start().Add(time.Hour))}},
				} {
					rep, err := Run(ctx, l, v.opt)
					if err != nil {
						t.Fatalf("%s: %v", v.name, err)
					}
					if !hasProblem(rep, want) {
						t.Fatalf("%s: problems %q, want one naming %q", v.name, rep.Problems, want)
					}
				}
				reliability.Record(t, "security", "captured attachment or its index tampered with in the store: "+tc.name, reliability.CleanFailure,
					"a whole-store verify, verify --date of the day and verify --incremental's sample each report a problem naming the key")
			})
		}
	}
}

// fileWith is the key of a file captured for day (the day's contract, for the first
// organization that has it).
func (f *attachArchive) fileWith(t *testing.T, d archiver.Day) string {
	t.Helper()
	for _, org := range f.orgs {
		key := f.fileKey(t, org, d)
		rc, err := f.store.Open(context.Background(), key)
		if errors.Is(err, archiver.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		return key
	}
	t.Fatalf("no file captured for %s", d)
	return ""
}

// TestAttachmentRecordSurvivesInterruptedVerify: a full verification with checkpoints that
// is interrupted before it reached the attachments leaves, as the newest checkpoint, one
// that still carries the record it started from; a day's index deleted after that is a
// problem for the next verification (before, the interrupted one's checkpoint held no
// record, and the deletion passed).
func TestAttachmentRecordSurvivesInterruptedVerify(t *testing.T) {
	f := newAttachArchive(t, false, 3)
	if rep := f.full(t, Options{}); !rep.OK() || rep.Wrote == "" {
		t.Fatalf("full: problems %q", rep.Problems)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := ledger.Ledger{Store: f.store}
	rep, err := Run(ctx, l, Options{TrustedKey: f.pub(), Directory: f.dir, CheckpointKey: f.key, CheckpointEvery: 1, Jobs: 1,
		Now: clockAt(f.next.Start().Add(time.Hour)), Progress: func(int) { cancel() }})
	if err == nil || rep.Wrote == "" {
		t.Fatalf("interrupted verification: %v, wrote %q", err, rep.Wrote)
	}
	cp, err := ReadCheckpoint(context.Background(), f.store, rep.Wrote, []ed25519.PublicKey{f.pub()})
	if err != nil || cp.Complete {
		t.Fatalf("the interrupted verification's checkpoint: %+v, %v", cp, err)
	}
	d := f.days[0]
	for _, k := range f.indexKeys(t, acme, d) {
		f.remove(t, k)
	}
	want := attach.IndexPrefix(acme, d) + "0001"
	rep, err = Run(context.Background(), l, Options{TrustedKey: f.pub(), Directory: f.dir})
	if err != nil || !hasProblem(rep, want) {
		t.Fatalf("verify after the deletion: %v, problems %q, want one naming %s", err, rep.Problems, want)
	}
	reliability.Record(t, "security", "attachment index deleted after an interrupted verify --checkpoint", reliability.CleanFailure,
		"the interrupted verification's checkpoints carry on the attachment record it started from: the next verify names the deleted key")
}
