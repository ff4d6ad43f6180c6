package verify

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

const umbrella = "0d1c2e3f-0000-4000-8000-00000000dddd"

// newLayout3 seals 4 days from 2026-11-29 (Umbrella archives from 2026-12-01: its days are
// empty) and moves the days from a.days[from] on to layout 3: from 0, a store in layout 3
// only; from 2, an old chain continued in layout 3. With late, Acme then commits a late
// revision of the first day in layout 3 (a revision of an old-layout day when from > 0).
func newLayout3(t *testing.T, from int, late bool) *archive {
	t.Helper()
	root := t.TempDir()
	a := sealDaysFrom(t, newFSStore(t, root), root, "2026-11-29", 4, 4, umbrellaQuietFrom("2026-12-02"))
	a.toLayout3(t, from)
	if late {
		a.lateRevision(t, acme, from)
	}
	return a
}

// umbrellaQuietFrom drops Umbrella's one record from the partitions of the days from
// from on: its days are then empty.
func umbrellaQuietFrom(from string) func(archiver.Day, string) {
	first, _ := archiver.ParseDay(from)
	return func(d archiver.Day, dir string) {
		if d.Before(first) {
			return
		}
		p := filepath.Join(dir, "part-0001.jsonl")
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		var kept []string
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if !strings.Contains(line, `"chatId":"chat-umbrella"`) {
				kept = append(kept, line)
			}
		}
		if err := os.WriteFile(p, []byte(strings.Join(kept, "")), 0o600); err != nil {
			panic(err)
		}
	}
}

func hasProblem(rep *Report, want string) bool {
	return slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, want) })
}

// TestVerifyLayout3: a store in layout 3, a mixed one (an old chain continued in layout
// 3), each with and without a late revision, verifies clean: in full, day by day, and
// with Jobs 1 the same report.
func TestVerifyLayout3(t *testing.T) {
	for _, tc := range []struct {
		name string
		from int
		late bool
	}{{"layout 3", 0, false}, {"layout 3, late revision", 0, true}, {"mixed", 2, false}, {"mixed, late revision", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newLayout3(t, tc.from, tc.late)
			ctx := context.Background()
			l := ledger.Ledger{Store: a.store}
			rep, err := Run(ctx, l, Options{TrustedKey: a.pub(), Directory: a.dir})
			if err != nil {
				t.Fatal(err)
			}
			want := 4 + 4 + 2 // Acme and Globex 4 days, Umbrella 2 empty days
			if tc.late {
				want++
			}
			if !rep.OK() || rep.Manifests != want {
				t.Fatalf("full: %d manifests (want %d), problems %q", rep.Manifests, want, rep.Problems)
			}
			for _, w := range rep.Warnings {
				if !strings.Contains(w, "were never sealed") { // the fixture starts after archivalStart
					t.Errorf("warning %q", w)
				}
			}
			for _, d := range a.days {
				rep, err := Run(ctx, l, Options{From: d, To: d, TrustedKey: a.pub(), Directory: a.dir})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK() || rep.Manifests == 0 {
					t.Fatalf("--date %s: %d manifests, problems %q", d, rep.Manifests, rep.Problems)
				}
			}
		})
	}
	reliability.Record(t, "input", "verify of a store in layout 3, and of an old chain continued in layout 3, with a late revision", reliability.Kept,
		"the seq-map walk verifies both layouts in one chain: empty days without an export, inline chat indexes, members objects, late copies")
}

// TestVerifyLayout3Tampering: each rule verify proves of layout 3 finds its tampering.
func TestVerifyLayout3Tampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		from   int
		tamper func(t *testing.T, a *archive)
		want   string
	}{
		{"manifest moved to another day", 0, func(t *testing.T, a *archive) {
			from, to := archiver.DayKey3(acme, a.days[1], 1), archiver.DayKey3(acme, a.days[1].Next().Next().Next().Next().Next(), 1)
			a.create(t, to, a.read(t, from))
			remove(t, a.root, from)
		}, "it was moved"},
		{"manifest moved to another revision", 0, func(t *testing.T, a *archive) {
			from := archiver.DayKey3(acme, a.days[3], 1)
			a.create(t, archiver.DayKey3(acme, a.days[3], 2), a.read(t, from))
			remove(t, a.root, from)
		}, "it was moved"},
		{"late copy deleted", 0, func(t *testing.T, a *archive) {
			a.lateRevision(t, acme, 0)
			remove(t, a.root, archiver.LateKey(acme, a.head(t, acme).Seq))
		}, "without its copy"},
		{"late manifest's day key deleted", 0, func(t *testing.T, a *archive) {
			remove(t, a.root, a.lateRevision(t, acme, 1))
		}, "a late copy without its manifest"},
		{"late copy changed", 2, func(t *testing.T, a *archive) {
			a.lateRevision(t, acme, 2)
			rewrite(t, a.root, archiver.LateKey(acme, a.head(t, acme).Seq), func(b []byte) []byte { return append(b, ' ') })
		}, "copy differs from its manifest"},
		{"late flag taken off (re-signed)", 0, func(t *testing.T, a *archive) {
			key := a.lateRevision(t, acme, 0)
			a.resign(t, key, func(m *archiver.Manifest) { m.Late = false })
		}, "is not a late commit"},
		{"empty day faked (re-signed)", 0, func(t *testing.T, a *archive) {
			a.resign(t, archiver.DayKey3(globex, a.days[1], 1), func(m *archiver.Manifest) {
				m.Data.Records = 0
			})
		}, "a day without records names object"},
		{"records on a day without an export (re-signed)", 0, func(t *testing.T, a *archive) {
			a.resign(t, archiver.DayKey3(umbrella, a.days[3], 1), func(m *archiver.Manifest) { m.Data.Records = 3 })
		}, "records, but the manifest names no export"},
		{"fork: two days at one seq", 0, func(t *testing.T, a *archive) {
			head := a.head(t, acme)
			m := *head.Manifest
			day := a.days[3].Next()
			m.Date, m.Window.Start, m.Window.End = day.String(), day.Start().UnixMilli(), day.End().UnixMilli()
			a.create(t, archiver.DayKey3(acme, day, 1), a.sign(t, &m))
		}, "fork"},
		{"inline chat index changed (re-signed)", 0, func(t *testing.T, a *archive) {
			a.resign(t, archiver.DayKey3(acme, a.days[3], 1), func(m *archiver.Manifest) {
				x := *m.ChatIndex.Inline
				x.Chats = append(slices.Clone(x.Chats), "chat-forged")
				m.ChatIndex = &archiver.ChatIndexRef{Inline: &x}
			})
		}, "its chats are not those of the day's records"},
		{"members object changed", 0, func(t *testing.T, a *archive) {
			m := readManifest(t, a, archiver.DayKey3(acme, a.days[0], 1))
			rewrite(t, a.root, m.ChatIndex.Inline.Members.Key, func(b []byte) []byte { return append(b, ' ') })
		}, "members object"},
		{"version 2 manifest under d/", 2, func(t *testing.T, a *archive) {
			a.create(t, archiver.DayKey3(globex, a.days[0], 1), a.read(t, archiver.ChainKey(globex, 1)))
		}, "a version 2 manifest under"},
		{"version 3 manifest under manifests/", 2, func(t *testing.T, a *archive) {
			head := a.head(t, globex)
			a.create(t, archiver.ChainKey(globex, head.Seq+1), head.Bytes)
		}, "a version 3 manifest under the old chain"},
		{"previousKey changed (re-signed)", 2, func(t *testing.T, a *archive) {
			a.resign(t, archiver.DayKey3(globex, a.days[2], 1), func(m *archiver.Manifest) { m.PreviousKey = archiver.ChainKey(globex, 1) })
		}, "previousKey is"},
		{"layout marker deleted", 0, func(t *testing.T, a *archive) {
			remove(t, a.root, archiver.LayoutKey)
		}, "without a layout marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newLayout3(t, tt.from, false)
			tt.tamper(t, a)
			rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{TrustedKey: a.pub(), Directory: a.dir})
			if err != nil {
				t.Fatal(err)
			}
			if !hasProblem(rep, tt.want) {
				t.Fatalf("problems %q, want one with %q", rep.Problems, tt.want)
			}
		})
	}
	reliability.Record(t, "security", "a layout-3 manifest moved to another day or revision, a late copy deleted or changed, "+
		"a late commit's day key deleted, an empty day faked, a fork of two days at one seq, a version in the wrong layout", reliability.CleanFailure,
		"verify checks a version 3 manifest's key against its date and revision, key order against seq order off the late commits, "+
			"late copies both ways, empty data and forks, and reports each as a problem")
}

// resign rewrites the manifest at key with change applied, signed with a's key (a forger
// holding the signing key, or a rule checked on its own): the chain hash after it breaks
// too, beside the rule.
func (a *archive) resign(t *testing.T, key string, change func(*archiver.Manifest)) {
	t.Helper()
	m := readManifest(t, a, key)
	mm := *m.Manifest
	change(&mm)
	b := a.sign(t, &mm)
	remove(t, a.root, key)
	a.create(t, key, b)
}

// TestVerifyDateLayout3ReadsOnlyTheDay: verify --date D in layout 3 reads the day's
// manifests by their day prefix and the manifest each previousKey names, not the
// history: the same requests on a store of 3 days and of 9; and it finds a late copy
// deleted.
func TestVerifyDateLayout3ReadsOnlyTheDay(t *testing.T) {
	ctx := context.Background()
	measure := func(n int) (requests, *Report) {
		root := t.TempDir()
		a := sealDaysFrom(t, newFSStore(t, root), root, "2026-11-01", n, n, nil)
		a.toLayout3(t, 0)
		c := count(a.store)
		d := a.days[1]
		rep, err := Run(ctx, ledger.Ledger{Store: c}, Options{From: d, To: d, TrustedKey: a.pub(), Directory: a.dir})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Manifests != 2 {
			t.Fatalf("%d days: problems %q, %d manifests", n, rep.Problems, rep.Manifests)
		}
		return c.requests(), rep
	}
	small, _ := measure(3)
	large, _ := measure(9)
	t.Logf("verify --date in layout 3 on 3 days: %+v; on 9 days: %+v", small, large)
	if large != small {
		t.Fatalf("verify --date made %+v requests on a store of 9 days, %+v on one of 3: it grows with the history", large, small)
	}
	// Per organization: list the day prefix, GET the manifest, GET previousKey's, the
	// export and the members object; plus the layout marker and the accounting.
	a := newLayout3(t, 0, false)
	key := a.lateRevision(t, acme, 1)
	remove(t, a.root, archiver.LateKey(acme, readManifest(t, a, key).Seq))
	rep, err := Run(ctx, ledger.Ledger{Store: a.store}, Options{From: a.days[1], To: a.days[1], TrustedKey: a.pub(), Directory: a.dir})
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(rep, "copy is missing") {
		t.Fatalf("--date of a late revision without its copy: problems %q", rep.Problems)
	}
	reliability.Record(t, "operations", "verify --date D on a layout-3 store of many days", reliability.Kept,
		"lists day D's prefix and reads its manifests, the manifest each previousKey names and their objects: the same requests whatever the history")
}

// TestIncrementalLayout3: after a checkpoint (version 2: head key and tip), an
// incremental verification of a layout-3 store finds the manifests committed since with
// one listing of d/ after the tip and one of late/ after the head (a revision of the
// tip's day, and a late revision of an older day), reads only those, and the requests do
// not grow with the history.
func TestIncrementalLayout3(t *testing.T) {
	ctx := context.Background()
	measure := func(old int) (requests, *Report) {
		root := t.TempDir()
		a := sealDaysFrom(t, newFSStore(t, root), root, "2026-11-01", old, old, nil)
		a.toLayout3(t, 0)
		full := a.full(t, Options{})
		if !full.OK() || full.Wrote == "" {
			t.Fatalf("full: problems %q, checkpoint %q", full.Problems, full.Wrote)
		}
		cp, err := ReadCheckpoint(ctx, a.store, full.Wrote, []ed25519.PublicKey{a.pub()})
		if err != nil {
			t.Fatal(err)
		}
		if cp.Version != 2 || !slices.ContainsFunc(cp.Orgs, func(o CheckpointOrg) bool { return o.Key != "" && o.Tip != "" }) {
			t.Fatalf("checkpoint %+v: want version 2 with head keys and tips", cp)
		}
		a.revision(t, acme, len(a.days)-1) // the tip's day: not late
		a.lateRevision(t, globex, 0)
		c := count(a.store)
		rep, err := Run(ctx, ledger.Ledger{Store: c}, Options{Incremental: true, TrustedKey: a.pub(), Directory: a.dir,
			CheckpointKey: a.key, Now: clockAt(a.next.Start().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Manifests != 2 {
			t.Fatalf("incremental on %d days: %d manifests (want 2), problems %q", old, rep.Manifests, rep.Problems)
		}
		// The next incremental starts from the new heads: nothing new.
		rep2 := a.full(t, Options{Incremental: true, Now: clockAt(a.next.Start().Add(2 * time.Hour))})
		if !rep2.OK() || rep2.Manifests != 0 {
			t.Fatalf("second incremental: %d manifests, problems %q", rep2.Manifests, rep2.Problems)
		}
		return c.requests(), rep
	}
	small, _ := measure(3)
	large, _ := measure(9)
	t.Logf("incremental in layout 3 after 3 days: %+v; after 9: %+v", small, large)
	if small != large {
		t.Fatalf("incremental: %+v after 3 days, %+v after 9: want the same reads, listings and keys listed", small, large)
	}
	reliability.Record(t, "operations", "verify --incremental on a layout-3 store (checkpoint version 2)", reliability.Kept,
		"reads the checkpointed heads by key, lists d/ after the tip and late/ after the head, and reads only the manifests committed since")
}

// revision commits revision 2 of a.days[i] for org in layout 3 after the chain's head,
// not late (i must be the tip's day).
func (a *archive) revision(t *testing.T, org string, i int) {
	t.Helper()
	ctx := context.Background()
	day := a.days[i]
	head := a.head(t, org)
	r1, err := ledger.Ledger{Store: a.store}.ReadManifest(ctx, archiver.DayKey3(org, day, 1))
	if err != nil {
		t.Fatal(err)
	}
	m := *r1.Manifest
	m.Revision, m.Seq = 2, head.Seq+1
	m.Previous, m.PreviousKey = hexSum(head.SHA256), head.Key
	b := a.sign(t, &m)
	a.create(t, archiver.DayKey3(org, day, 2), b)
	a.account(t, day, org, m.Seq, m.Revision, b)
}

// TestIncrementalFromVersion1CheckpointMixed: a version 1 checkpoint (heads by seq, no
// keys), written before the upgrade, is still read: the incremental verification that
// follows the old chain's head into the days sealed since in layout 3 verifies them and
// writes a version 2 checkpoint.
func TestIncrementalFromVersion1CheckpointMixed(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a := sealDaysFrom(t, newFSStore(t, root), root, "2026-11-01", 5, 3, nil)
	full := a.full(t, Options{})
	cp, err := ReadCheckpoint(ctx, a.store, full.Wrote, []ed25519.PublicKey{a.pub()})
	if err != nil {
		t.Fatal(err)
	}
	// The checkpoint as a release before layout 3 wrote it.
	v1 := *cp
	v1.Version, v1.Signature, v1.Sample = 1, nil, nil
	v1.Created = cp.Created.Add(time.Minute) // the time its key names
	v1.Orgs = slices.Clone(cp.Orgs)
	for i := range v1.Orgs {
		v1.Orgs[i].Key, v1.Orgs[i].Tip = "", ""
	}
	body, err := v1.signingBody()
	if err != nil {
		t.Fatal(err)
	}
	v1.Signature = archiver.SignBody(a.key, body)
	b := marshal(t, &v1)
	v1key := checkpointKey(v1.Created)
	a.create(t, v1key, b)
	a.sealNext(t)
	a.sealNext(t)
	a.toLayout3(t, 3) // the two days sealed since, in layout 3
	rep := a.full(t, Options{Incremental: true, Now: clockAt(a.next.Start().Add(time.Hour))})
	if rep.Checkpoint != v1key || !rep.OK() || rep.Manifests != 4 {
		t.Fatalf("incremental from %q (want %q): %d manifests (want 4), problems %q", rep.Checkpoint, v1key, rep.Manifests, rep.Problems)
	}
	cp2, err := ReadCheckpoint(ctx, a.store, rep.Wrote, []ed25519.PublicKey{a.pub()})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cp2.Orgs {
		if cp2.Version != 2 || o.Key != archiver.DayKey3(o.Org, a.days[4], 1) || o.Tip != o.Key {
			t.Fatalf("checkpoint version %d, %s: key %q tip %q, want the layout-3 head %s", cp2.Version, o.Org, o.Key, o.Tip, archiver.DayKey3(o.Org, a.days[4], 1))
		}
	}
	reliability.Record(t, "operations", "verify --incremental from a checkpoint written before layout 3, on an old chain continued in layout 3", reliability.Kept,
		"the version 1 checkpoint's heads are read by their old chain keys; the days sealed since are found under d/; a version 2 checkpoint records the new heads' keys")
}

// TestVerifyMembersOncePerObject: a full verification of a layout-3 store reads each
// members object once, however many days' inline chat indexes name it.
func TestVerifyMembersOncePerObject(t *testing.T) {
	a := newLayout3(t, 0, false)
	c := count(a.store)
	rep, err := Run(context.Background(), ledger.Ledger{Store: c}, Options{TrustedKey: a.pub(), Directory: a.dir, Jobs: 1})
	if err != nil || !rep.OK() {
		t.Fatalf("%v, problems %q", err, rep.Problems)
	}
	named := map[string]int{}
	for _, org := range []string{acme, globex, umbrella} {
		for _, d := range a.days {
			if m, err := (ledger.Ledger{Store: a.store}).ReadManifest(context.Background(), archiver.DayKey3(org, d, 1)); err == nil {
				named[m.ChatIndex.Inline.Members.Key]++
			}
		}
	}
	shared := false
	for key, n := range named {
		shared = shared || n > 1
		if got := c.byKey(key); got != 1 {
			t.Errorf("%s, named by %d manifests: read %d times, want once", key, n, got)
		}
	}
	if !shared {
		t.Fatal("no members object is shared by several days: the fixture does not test it")
	}
	reliability.Record(t, "operations", "verify of a layout-3 store whose members objects are shared by many days", reliability.Kept,
		"each members object is read and checked once per organization walk, not once per day that names it")
}

// TestSampleLayout3: the rotating sample walks each chain back from its checkpointed head
// by previousKey (one GET a day, both layouts) and finds a changed old export.
func TestSampleLayout3(t *testing.T) {
	a := newLayout3(t, 2, false)
	a.full(t, Options{})
	m := readManifest(t, a, archiver.RevisionKey(globex, a.days[1], 1)) // an old-layout day of the mixed store
	rewrite(t, a.root, m.Data.Key, func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	clock := clockAt(a.next.Start().Add(time.Hour))
	found := 0
	for run := 1; run <= 4; run++ { // 10 organization-days, 3 a run
		rep := a.full(t, Options{Incremental: true, Sample: 3, Now: clock})
		if rep.Manifests != 3 {
			t.Fatalf("run %d: %d manifests sampled, want 3 (problems %q)", run, rep.Manifests, rep.Problems)
		}
		if !rep.OK() && found == 0 {
			found = run
		}
	}
	if found == 0 {
		t.Fatal("the changed old day was not found in 4 runs")
	}
	reliability.Record(t, "fault", "an old day of a mixed store changed after a checkpoint (verify.sample)", reliability.CleanFailure,
		"the sample walks each chain back from its head by previousKey across the layouts and finds it within a cycle")
}

// TestWitnessLayout3: a witness's heads in layout 3 (a late head among them) are found by
// a full verification in the seq map and by a verification of days by key (the day key
// of the head's date and revision); a witnessed head deleted is a problem for both.
func TestWitnessLayout3(t *testing.T) {
	ctx := context.Background()
	a := newLayout3(t, 2, true)
	w := &archiver.Witness{Version: 2}
	for _, org := range []string{acme, globex, umbrella} {
		h := a.head(t, org)
		w.Heads = append(w.Heads, archiver.WitnessHead{Org: org, Seq: h.Seq, Date: h.Date, Revision: h.Revision, SHA256: hexSum(h.SHA256)})
	}
	run := func(opt Options) *Report {
		opt.TrustedKey, opt.Directory, opt.Witness = a.pub(), a.dir, w
		rep, err := Run(ctx, ledger.Ledger{Store: a.store}, opt)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	d := a.days[3]
	if rep := run(Options{}); !rep.OK() {
		t.Fatalf("full with the witness: problems %q", rep.Problems)
	}
	if rep := run(Options{From: d, To: d}); !rep.OK() {
		t.Fatalf("--date with the witness: problems %q", rep.Problems)
	}
	head := a.head(t, acme) // the late revision
	if !head.Late {
		t.Fatalf("acme's head %s is not late", head.Key)
	}
	remove(t, a.root, head.Key)
	remove(t, a.root, archiver.LateKey(acme, head.Seq))
	for _, opt := range []Options{{}, {From: d, To: d}} {
		if rep := run(opt); !hasProblem(rep, "witness: organization "+acme) {
			t.Fatalf("%+v: the witnessed late head deleted: problems %q", opt, rep.Problems)
		}
	}
	reliability.Record(t, "security", "a witnessed layout-3 head (a late revision) deleted with its copy", reliability.CleanFailure,
		"verify finds a witnessed head by seq in the walk, or by the day key of its date and revision with --date, and reports it missing")
}

// TestIncrementalLayout3MarkerDeleted: the layout marker deleted after a checkpoint does
// not hide the days committed since from an incremental verification: it still lists the
// checkpointed chain's d/ and late/, and reports the marker missing.
func TestIncrementalLayout3MarkerDeleted(t *testing.T) {
	a := newLayout3(t, 0, false)
	if rep := a.full(t, Options{}); !rep.OK() {
		t.Fatalf("full: problems %q", rep.Problems)
	}
	a.revision(t, acme, len(a.days)-1)
	remove(t, a.root, archiver.LayoutKey)
	rep := a.full(t, Options{Incremental: true, Now: clockAt(a.next.Start().Add(time.Hour))})
	if rep.Manifests != 1 || !hasProblem(rep, "no layout marker") {
		t.Fatalf("%d manifests (want 1), problems %q (want the marker missing)", rep.Manifests, rep.Problems)
	}
	reliability.Record(t, "security", "the layout marker deleted after a verify checkpoint", reliability.CleanFailure,
		"verify --incremental still lists the layout-3 chains the checkpoint holds, verifies the days committed since and reports the marker missing")
}

// TestVerifyOrgLayout3NewestDayDeleted: verify --org of a layout-3 store still ends the
// organization's range at the store's newest day, read from the other organizations'
// heads in layout 3, when the organization's newest day was deleted with the day's
// accounting objects.
func TestVerifyOrgLayout3NewestDayDeleted(t *testing.T) {
	a := newLayout3(t, 0, true) // Acme's head is a late revision: its newest day is its tip's
	last := a.days[len(a.days)-1]
	for _, org := range []string{globex, umbrella} {
		for _, k := range a.keysUnder(t, archiver.DayPrefix3(org, last)) {
			remove(t, a.root, k)
		}
	}
	remove(t, a.root, archiver.AccountingPrefix+last.String())
	rep, err := Run(context.Background(), ledger.Ledger{Store: a.store}, Options{Org: globex, TrustedKey: a.pub(), Directory: a.dir})
	if err != nil {
		t.Fatal(err)
	}
	if !hasProblem(rep, "no committed manifest for "+last.String()) && !hasProblem(rep, last.String()) {
		t.Fatalf("problems %q, want %s reported missing for Globex", rep.Problems, last)
	}
	reliability.Record(t, "security", "verify --org of a layout-3 store whose newest day was deleted with the day's accounting objects", reliability.CleanFailure,
		"the store's newest day is read from the other organizations' layout-3 chains (their heads, and the tip after a late head), and the organization's missing day is reported")
}
