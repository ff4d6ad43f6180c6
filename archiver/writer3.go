package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/internal/crashpoint"
)

// The writer's layout 3 (layout.go, docs/design/layout.md), when Options.Layout is Layout3:
// an empty organization-day is one object (its manifest), a day with records two (export
// and manifest). The manifest is stored once, under its day key: that create-only write is
// the commit point. A late commit (its key sorts before the organization's tip, the last
// manifest key under d/) first writes a copy of itself under late/<seq>, which is then the
// commit point, and then its day key.
//
// Crash safety: a crash before the commit point leaves only content-named objects the
// rerun reuses. A crash between a late copy and its day key leaves the late copy as the
// head: the next seal's Head finds it, and stage3 restores its day key (create-only, the
// same bytes) before anything else, as it restores a day index in layout 2.
//
// Two writers of different days of one organization that read the same head would each
// commit a different key with the same seq, which create-only does not prevent (in layout 2
// both wrote manifests/<seq>.json). Sealers take the store's seal lease to keep that from
// happening; after its commit the writer checks (forkCheck) and fails the day loudly when
// another manifest took its seq.

// layout3 reports whether the seal commits in layout 3.
func (w *writer) layout3() bool { return w.s.Layout == Layout3 }

// prepareLayout makes sure the store's layout marker agrees with the seal's layout before
// anything is written: a layout-3 seal creates it (once), a layout-2 seal refuses a store
// that has one (its days from since on are read in layout 3 only: what it wrote there
// would not be seen). The marker's since is the later of the day sealed and today: every
// day a layout-2 writer sealed before the upgrade ended before today, so no layout-2 key
// lies at or after since.
func (w *writer) prepareLayout(ctx context.Context) error {
	l := w.s.Chain
	sl, err := l.StoreLayout(ctx)
	if err != nil {
		return fmt.Errorf("read the store's layout: %w", err)
	}
	if !w.layout3() {
		if sl != nil {
			return fmt.Errorf("the store is in layout %d since %s (%s) and this seal writes layout 2: set store.layout to 3", sl.Version, sl.Since, LayoutKey)
		}
		return nil
	}
	if sl == nil {
		since := w.day
		if today := DayOf(w.s.Now()); today.After(since) {
			since = today
		}
		// A store that holds no organization yet has no layout-2 day to keep readable:
		// layout 3 from the first day on, so that the backlog a new store catches up
		// (days before today) is looked up in one layout, not in both.
		sealed, err := HasFolder(ctx, w.s.Store, OrgsPrefix)
		if err != nil {
			return fmt.Errorf("look for sealed organizations: %w", err)
		}
		if !sealed {
			since = FreshStoreSince
		}
		if sl, err = WriteStoreLayout(ctx, w.s.Store, since); err != nil {
			return err
		}
		if sealed {
			// An upgrade of a layout-2 store (store.layout defaults to 3): from now on no
			// binary of before layout 3 may run on it, and no layout-2 seal is accepted.
			// Said once, here, so that an operator who meant to keep a way back learns it
			// when it happens, not at the roll-back.
			w.log.Warn("the store moves to layout 3 with this seal: days from since on are sealed in layout 3, a store.layout 2 seal is refused from now on and a chatvault from before layout 3 must no longer run on this store",
				"marker", LayoutKey, "since", sl.Since)
		}
	}
	w.marker = sl
	return nil
}

// FreshStoreSince is the since of a store that was sealed in layout 3 from its first
// seal: every day is in layout 3.
var FreshStoreSince = DayOf(time.Unix(0, 0))

// canonicalKey is the key a manifest is named by in the chain (previousKey): its day key
// in layout 3 (a late manifest's too, not its copy's), its chain key in layout 2.
func canonicalKey(m *StoredManifest) (string, error) {
	if m.Version < ManifestVersion3 {
		return ChainKey(m.Org, m.Seq), nil
	}
	d, err := ParseDay(m.Date)
	if err != nil {
		return "", fmt.Errorf("%s: %w", m.Key, err)
	}
	return DayKey3(m.Org, d, m.Revision), nil
}

// stage3 is stage in layout 3.
func (w *writer) stage3(ctx context.Context, st *stagedObject, c *orgCommit) error {
	store := w.s.Store
	l := w.s.Chain
	head, tip, err := l.HeadTip(ctx, c.Org)
	if err != nil {
		return fmt.Errorf("read chain head: %w", err)
	}
	w.noteSigner(head) // signer.go
	if head != nil {
		hd, keep, err := headCopyRetention(head) // writer.go
		if err != nil {
			return err
		}
		// The head's day key, or its day index in layout 2: a crash after the commit point
		// (a late copy, a chain entry) may have left it missing. Create-only: an existing
		// one is left as is. A head read at its day key needs nothing.
		restore := ""
		switch {
		case head.Version < ManifestVersion3:
			restore = RevisionKey(c.Org, hd, head.Revision)
		case head.Key != DayKey3(c.Org, hd, head.Revision):
			restore = DayKey3(c.Org, hd, head.Revision)
		}
		if restore != "" {
			if err := store.Create(ctx, restore, bytes.NewReader(head.Bytes), int64(len(head.Bytes)), head.SHA256, keep); err != nil {
				return fmt.Errorf("restore %s from %s: %w", restore, head.Key, err)
			}
		}
		if c.headKey, err = canonicalKey(head); err != nil {
			return err
		}
	}
	latest, err := w.latestRevision3(ctx, c.Org, head, tip)
	if err != nil {
		return fmt.Errorf("read latest revision: %w", err)
	}
	c.head, c.latest, c.tip = head, latest, tip
	if c.Counts.Exported == 0 {
		c.Data = DataObject{JSONLSHA256: EmptySHA256} // no object (layout 3)
	} else {
		c.Data = stagedData(st, dataKey3(c.Org, w.day, st.sum), c.Counts.Exported) // writer.go
	}
	c.Quarantined = stagedQuarantine(c.quarantine, func(sum [sha256.Size]byte) string { return orgQuarantineKey3(c.Org, w.day, sum) })
	changed, err := w.storeChange(ctx, st, c, head, latest) // writer.go
	if err != nil || !changed {
		return err
	}
	return w.storeChatIndex3(ctx, c)
}

// latestRevision3 returns the day's latest revision of org. It lists the day (both layouts
// before since) unless no manifest of the day can exist: the head is the tip (a layout-3
// manifest, not late) and the day sorts after it, and the day is not before since (so no
// layout-2 revision of it exists either). A manifest the day's accounting objects name but
// the store no longer holds fails the day: a revision committed without it could drop
// records of it unchecked (run chatvault verify).
func (w *writer) latestRevision3(ctx context.Context, org string, head *StoredManifest, tip string) (*StoredManifest, error) {
	l := w.s.Chain
	var latest *StoredManifest
	none := head == nil || (head.Version >= ManifestVersion3 && !head.Late && tip != "" && DayStart3(org, w.day) > tip &&
		w.marker != nil && !w.day.Before(w.marker.SinceDay()))
	if !none {
		key, err := l.LatestKey(ctx, org, w.day)
		if err != nil {
			return nil, err
		}
		if key != "" {
			if latest, err = l.ReadManifest(ctx, key); err != nil {
				return nil, err
			}
		}
	}
	if head == nil {
		return latest, nil
	}
	rev := 0
	if latest != nil {
		rev = latest.Revision
	}
	accounted, err := w.accountedRevision(ctx, org)
	if err != nil {
		return nil, err
	}
	if accounted > rev {
		return nil, fmt.Errorf("the day's accounting names revision %d of the organization, but the store holds no manifest of it (the latest found is %d): run chatvault verify", accounted, rev)
	}
	return latest, nil
}

// storeChatIndex3 puts the organization's chat index of the day in its manifest: inline,
// with the members of its chats in the organization's members object of the year (written
// when this seal's members are not stored yet), or, when the inline part is over
// MaxInlineChatIndex, whole in an object of the day named by key.
// inlineLowerBound is at most the size of x encoded: each id is at least itself and its
// two quotes. An index that is surely too big to ride inline is not encoded to find out
// (for a large organization that was a second encoding of thousands of ids).
func inlineLowerBound(x *InlineChatIndex) int {
	n := 0
	for _, ids := range [][]string{x.Chats, x.Participants} {
		for _, id := range ids {
			n += len(id) + 2
		}
	}
	return n
}

func (w *writer) storeChatIndex3(ctx context.Context, c *orgCommit) error {
	x := c.index
	inline := &InlineChatIndex{Version: InlineChatIndexVersion, Chats: x.Chats, Participants: x.Participants, MembershipChanges: x.MembershipChanges}
	tooBig := inlineLowerBound(inline) > MaxInlineChatIndex
	if !tooBig {
		probe, err := ChatIndexRef{Inline: inline}.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode chat index: %w", err)
		}
		tooBig = len(probe) > MaxInlineChatIndex
	}
	if tooBig {
		b, err := encodeChatIndex(x)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		key := chatIndexKey3(c.Org, w.day, sum)
		version, err := createVersion(ctx, w.s.Store, key, bytes.NewReader(b), int64(len(b)), sum, w.batched(c.org))
		if err != nil {
			return fmt.Errorf("store chat index: %w", err)
		}
		c.ChatIndex = &ChatIndexRef{Key: key, Size: int64(len(b)), SHA256: HexSum(sum), VersionID: version, MembersAt: w.start.UnixMilli()}
		return nil
	}
	year := w.day.Start().Year()
	b, err := EncodeMembers(&MembersObject{Version: MembersObjectVersion, Org: c.Org, Year: year, Members: x.Members})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	key := membersKey(c.Org, year, sum)
	version, err := w.storeMembers(ctx, c, key, b, sum, year)
	if err != nil {
		return err
	}
	inline.Members = MembersRef{Key: key, Size: int64(len(b)), SHA256: HexSum(sum), VersionID: version, MembersAt: w.start.UnixMilli()}
	c.ChatIndex = &ChatIndexRef{Inline: inline}
	return nil
}

// storedMembers remembers, per store and members key, the version id of a members object
// this process stored or found, and until when it then kept it: a membership that did
// not change costs no request while the organization's retention does not grow
// (hintcache.go: bounded).
var storedMembers hintCache[membersHint, storedMember]

// storedMember is what storedMembers remembers of a members object, and the seq of the
// commit it was stored for (the head's then, plus one).
type storedMember struct {
	version string
	kept    time.Time
	seq     int64
}

type membersHint struct {
	store Store
	org   string
	key   string
}

// storeMembers stores a members object (create-only, content-named: an existing one with
// the same bytes is reused), kept until the end of its year plus the organization's
// retention, the longest any day of the year that names it must be kept. When the
// organization's retentionDays has grown since the object was stored, the create of the
// same bytes lengthens its lock (CreateOptions.Extend: on S3 from the HEAD the create
// makes anyway, and one PutObjectRetention), never shortening it: the days sealed since
// must be kept as long as their new retention says, members included.
func (w *writer) storeMembers(ctx context.Context, c *orgCommit, key string, b []byte, sum [sha256.Size]byte, year int) (string, error) {
	var keep CreateOptions
	if c.org.RetentionDays > 0 {
		endOfYear := time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
		keep = CreateOptions{RetainUntil: endOfYear.AddDate(0, 0, c.org.RetentionDays), Extend: true}
	}
	hk, cacheable := HeadHintKeyOf(w.s.Store, c.Org)
	mh := membersHint{store: hk.store, org: c.Org, key: key}
	if cacheable {
		// Trusted only while the chain holds the commit it was stored for: a chain whose
		// head went back before it (the store restored from an older backup while the
		// process ran, or that commit failed) may have lost the object with the days the
		// backup lacked, and a manifest naming it then names nothing (the create below is
		// a no-op when it is there).
		if v, ok := storedMembers.Load(mh); ok && !v.kept.Before(keep.RetainUntil) && c.headSeq >= v.seq {
			return v.version, nil
		}
	}
	// The head names the same members object (a membership that did not change since its
	// seal) and was sealed with at least today's retention: the object is stored, committed
	// before the head was, and locked at least as long as it must be now (its key names
	// its year). No request (a new process would otherwise make one per organization to
	// find it there). A grown retention goes on to the create, which lengthens the lock.
	if h := c.head; h != nil && h.Org == c.Org && h.RetentionDays >= c.org.RetentionDays &&
		h.ChatIndex != nil && h.ChatIndex.Inline != nil && h.ChatIndex.Inline.Members.Key == key {
		version := h.ChatIndex.Inline.Members.VersionID
		if cacheable {
			storedMembers.Store(mh, storedMember{version: version, kept: keep.RetainUntil, seq: h.Seq})
		}
		return version, nil
	}
	keep.Batch = w.batch // flushStaged forgets the hint stored below if the flush fails
	version, err := createVersion(ctx, w.s.Store, key, bytes.NewReader(b), int64(len(b)), sum, keep)
	if err != nil {
		return "", fmt.Errorf("store members: %w", err)
	}
	if cacheable {
		storedMembers.Store(mh, storedMember{version: version, kept: keep.RetainUntil, seq: c.headSeq + 1})
	}
	return version, nil
}

// commit3 is commit in layout 3: the late copy first for a late commit, then the manifest
// at its day key; then the fork check.
func (w *writer) commit3(ctx context.Context, c *orgCommit) error {
	store := w.s.Store
	m := w.newManifest(c)
	m.Version = ManifestVersion3
	if c.headSeq > 0 {
		m.PreviousKey = c.headKey
	}
	key := DayKey3(c.Org, w.day, m.Revision)
	m.Late = c.tip != "" && key < c.tip
	b, sum, err := w.sealManifest(ctx, c, m) // writer.go
	if err != nil {
		return err
	}
	keep := w.retention(c.org)
	// The fence (fence.go): a sealer that lost its lease since it read the head must not
	// commit on it. Checked last before the commit point, so that only a pause between
	// here and the create can slip through, which forkCheck reports. The commit point is
	// written under the lease's commit deadline (cctx): S3 throttling it must not retry it
	// past the lease's expiry, when another sealer may have taken over and committed on
	// the same head.
	cctx, cancel, err := fenceCommit(ctx)
	if err != nil {
		return fmt.Errorf("commit manifest %d: %w", m.Seq, err)
	}
	defer cancel()
	if m.Late {
		if err := w.createCommitPoint(cctx, LateKey(c.Org, m.Seq), m, b, sum, keep); err != nil {
			return commitCut(cctx, m.Seq, err)
		}
		crashpoint.Hit("commit.late")
	}
	// A late commit's day key follows its commit point and holds the same bytes: the next
	// seal restores it (stage3) whoever holds the lease then, so it needs no deadline.
	dctx := cctx
	if m.Late {
		dctx = ctx
	}
	if err := store.Create(dctx, key, bytes.NewReader(b), int64(len(b)), sum, keep); err != nil {
		switch {
		case m.Late:
			return fmt.Errorf("manifest %d committed (%s), but not its day key: %w", m.Seq, LateKey(c.Org, m.Seq), err)
		case errors.Is(err, ErrConflict):
			return fmt.Errorf("commit manifest %d: another writer committed revision %d of the day first: %w", m.Seq, m.Revision, err)
		}
		return commitCut(cctx, m.Seq, fmt.Errorf("commit manifest: %w", err))
	}
	crashpoint.Hit("commit.day")
	c.committed(m, sum)
	return w.forkCheck(ctx, c, m, key)
}

// ErrForked is wrapped by the error of a seal that found, after its commit, another
// manifest with its seq: two writers read the same head and committed different days.
var ErrForked = errors.New("a concurrent commit forked the chain")

// forkCheck lists what was committed after the head the commit read: d/ past the tip and
// late/ past the head's seq, and reads each manifest found but the commit's own. One with
// the commit's seq is a fork: of two forking writers the second to commit always sees the
// first, so at least one fails its day.
//
// Both are looked for in one listing of the organization's keys past the tip (d/ sorts
// before late/, and both before members/): the days committed since, then the late copies,
// whose seqs are in their names (those up to the head's are skipped unread). An
// organization that has layout-2 keys (days/ sorts between d/ and late/: an upgraded
// store) stops that listing at its first one and lists late/ on its own, as before.
func (w *writer) forkCheck(ctx context.Context, c *orgCommit, m *Manifest, key string) error {
	l := w.s.Chain
	fail := func(err error) error {
		return fmt.Errorf("manifest %d committed, but the check for a concurrent commit failed: %w", m.Seq, err)
	}
	var others []string
	own := LateKey(c.Org, m.Seq)
	late := func(k string) {
		if seq, ok := ParseLateKey(c.Org, k); ok && seq <= c.headSeq {
			return // committed before the head the commit read
		}
		if k != own || !m.Late {
			others = append(others, k)
		}
	}
	root, lp := DayRoot3(c.Org), LatePrefix(c.Org)
	start := c.tip
	if start == "" {
		start = root
	}
	sawLate := false // the listing reached late/ or went past it: it showed every late copy
	err := ListAfter(ctx, w.s.Store, orgPrefix(c.Org), start, func(k string) error {
		switch {
		case strings.HasPrefix(k, root):
			if _, name, ok := ParseDayKey3(c.Org, k); ok && IsRevisionName(name) && k != key {
				others = append(others, k)
			}
			return nil
		case strings.HasPrefix(k, lp):
			sawLate = true
			late(k)
			return nil
		case k > lp:
			sawLate = true
		}
		return ErrStopListing
	})
	if err != nil && !errors.Is(err, ErrStopListing) {
		return fail(err)
	}
	if !sawLate && errors.Is(err, ErrStopListing) {
		// Stopped before late/ (layout-2 keys in between): late/ on its own.
		if err := ListAfter(ctx, w.s.Store, lp, LateKey(c.Org, c.headSeq), func(k string) error {
			late(k)
			return nil
		}); err != nil {
			return fail(err)
		}
	}
	for _, k := range others {
		if seq, ok := ParseLateKey(c.Org, k); ok && seq != m.Seq {
			continue // a later commit's late copy: its seq is in its name
		}
		o, err := l.ReadManifest(ctx, k)
		if err != nil {
			return fail(err)
		}
		if o.Seq == m.Seq && !strings.EqualFold(HexSum(o.SHA256), c.manifestSHA256) {
			return fmt.Errorf("%w at seq %d: %s and %s (run chatvault verify; seal with the store's seal lease: never two sealers at once)", ErrForked, m.Seq, key, k)
		}
	}
	return nil
}
