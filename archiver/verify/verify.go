package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// Options narrow a verification.
type Options struct {
	// Org limits verification to one organization; empty means every organization in
	// the store.
	Org string
	// From and To (inclusive), both set, limit verification to those days: their
	// manifests, the objects these name and the link of each to the manifest before it in
	// its chain (read by key), and the days' accounting objects; the chains are not
	// walked whole, nor the audit chains (see days.go). Without them, every chain is
	// walked whole, since a chain is only as good as its every link.
	From, To archiver.Day
	// TrustedKey, when set, must have signed every manifest.
	TrustedKey ed25519.PublicKey
	// Progress, when set, is called after each organization of a full verification with
	// the manifests verified so far.
	Progress func(manifests int)
	// Jobs is how many organizations a full verification walks at once; 0 means
	// GOMAXPROCS. The report is the same whatever it is.
	Jobs int

	// CheckpointKey, when set, signs the checkpoints a verification of the whole store
	// writes (checkpoint.go): a full one every CheckpointEvery organizations (0:
	// DefaultCheckpointEvery) and at its end, an incremental one at its end.
	CheckpointKey   ed25519.PrivateKey
	CheckpointEvery int
	// Resume carries on the full verification the newest checkpoint was written by, when
	// it was interrupted (a full verification from the start otherwise).
	Resume bool
	// Incremental verifies only the manifests after the newest checkpoint, and Sample
	// organization-days verified before, re-hashed in turn (incremental.go).
	Incremental bool
	Sample      int
	// Now is the clock of the checkpoints (time.Now when nil).
	Now func() time.Time
	// AttachmentWindow is how long before a checkpoint a day may still get a new revision
	// of its attachment index (attachments.retryFor and a day): an incremental
	// verification lists the indexes of the days from then on, besides those after the
	// checkpoint's tip (attachstate.go). 0: only those after the tip.
	AttachmentWindow time.Duration
	// AttachmentRecord has a verification of days (From, To) check the days' attachment
	// indexes against the newest checkpoint's record of them (attachstate.go), as the
	// other verifications always do: a revision deleted since is then a problem.
	AttachmentRecord bool
	// ExtendLocks places or lengthens the lock of an object kept without one or shorter
	// than its day needs, instead of reporting it (checkLock; a members object's,
	// membersChecked.locks): the store must then be opened for writing.
	ExtendLocks bool

	// TrustedKeys, with TrustedKey, are the public keys that may have signed manifests
	// (several after a key rotation). Directory, when set, is the snapshot whose
	// archiving organizations must each have a manifest for every day up to the store's
	// newest. Witness, when set, holds chain heads the store's chains must reach, with
	// the same hashes.
	TrustedKeys []ed25519.PublicKey
	Directory   *model.Directory
	Witness     *archiver.Witness
	// Audit verifies the access audit's chains in a full verification (the audit's
	// layout is its own package's); nil leaves them unverified, with a warning when the
	// store holds any.
	Audit archiver.AuditVerifier
}

// trustedKeys are the public keys a verification trusts (TrustedKeys and TrustedKey), for
// the checks of every signed object.
func (o Options) trustedKeys() []ed25519.PublicKey {
	keys := slices.Clone(o.TrustedKeys)
	if o.TrustedKey != nil {
		keys = append(keys, o.TrustedKey)
	}
	return keys
}

// days reports whether the verification is of the days From to To only (days.go).
func (o Options) days() bool { return !o.From.IsZero() && !o.To.IsZero() }

// inRange reports whether day is in the range whose objects are re-hashed.
func (o Options) inRange(day archiver.Day) bool {
	return (o.From.IsZero() || !day.Before(o.From)) && (o.To.IsZero() || !day.After(o.To))
}

// Report is what a verification checked and found.
type Report struct {
	Orgs      int
	Manifests int
	Objects   int
	Bytes     int64
	// Problems are integrity failures: any one means the archive cannot be trusted as is.
	Problems []string
	// Warnings are worth a look but do not break integrity (for example an export left
	// by a run that crashed before its manifest).
	Warnings []string
	// cut counts the checks a cancellation cut short (Problemf): no finding, but the
	// verification is incomplete (Run).
	cut int

	state *state // the checks across organizations (chain.go)
	// tally counts, per day, the manifests the chains hold and those the day's accounting
	// objects name (accounting.go).
	tally map[string]*accountingTally
	// chainedKeys, when not nil (an incremental verification), are the manifests the
	// tally counts: the accounting objects' other manifests were verified before.
	chainedKeys map[string]bool
	// Resumed counts the organizations taken from the checkpoint a verification
	// resumed, Checkpoint is the key of the checkpoint it started from (resumed or
	// incremental) and Wrote that of the last checkpoint it wrote.
	Resumed    int
	Checkpoint string
	Wrote      string
	// foreign counts the objects read at another version than their manifest's, for one
	// warning (version.go).
	foreign counted
	// placed counts the locks --extend-locks placed, for one warning (locks.go).
	placed counted
}

// counted counts objects of one kind for one warning, keeping the first object's key and
// what the warning says of it: an archive copied elsewhere has one per object.
type counted struct {
	n           int
	key, detail string
}

func (c *counted) add(key, detail string) {
	if c.n == 0 {
		c.key, c.detail = key, detail
	}
	c.n++
}

// merge adds o, another report's count (parallel.go), keeping the first seen.
func (c *counted) merge(o counted) {
	if o.n > 0 && c.n == 0 {
		c.key, c.detail = o.key, o.detail
	}
	c.n += o.n
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Problemf reports an integrity problem (archiver.Findings). A check whose error is a
// cancellation (Ctrl-C, a shutdown) found nothing about the archive: it is counted as cut
// short, never reported as a problem an auditor would read as damage.
func (r *Report) Problemf(format string, args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, context.Canceled) {
			r.cut++
			return
		}
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Warn reports a warning (archiver.Findings).
func (r *Report) Warn(msg string) { r.Warnings = append(r.Warnings, msg) }

// Read counts objects and bytes read (archiver.Findings).
func (r *Report) Read(objects int, bytes int64) {
	r.Objects += objects
	r.Bytes += bytes
}

func (r *Report) problem(format string, args ...any) { r.Problemf(format, args...) }

// Verifier verifies the archive a Ledger reads (the Verify of verifyloop), with Audit
// as the audit verifier unless the options name one.
type Verifier struct {
	Ledger ledger.Ledger
	Audit  archiver.AuditVerifier
}

// Verify is Run over v's ledger.
func (v Verifier) Verify(ctx context.Context, opt Options) (*Report, error) {
	if opt.Audit == nil {
		opt.Audit = v.Audit
	}
	return Run(ctx, v.Ledger, opt)
}

// Run walks every manifest chain and re-hashes every object the manifests name: stored
// bytes, the JSONL inside, record counts and order, day indexes and quarantine objects.
// It returns an error only when it cannot read the store; what it finds wrong is in the
// report.
func Run(ctx context.Context, l ledger.Ledger, opt Options) (*Report, error) {
	rep, err := run(ctx, l, opt)
	if rep != nil {
		rep.foreignWarning()
		rep.placedWarning() // locks.go
	}
	if ctx.Err() != nil {
		// Interrupted: whatever stopped first (a listing, a read), the cause is the
		// interruption, which names the signal under main's signal.NotifyContext.
		return rep, fmt.Errorf("verify: interrupted (%w)", context.Cause(ctx))
	}
	if err == nil && rep != nil && rep.cut > 0 {
		return rep, fmt.Errorf("verify: %d check(s) cut short by a cancellation", rep.cut)
	}
	return rep, err
}

func run(ctx context.Context, l ledger.Ledger, opt Options) (*Report, error) {
	prefix := "orgs/"
	if opt.Org != "" {
		prefix += opt.Org + "/"
	}
	// Group keys by organization as they arrive in order, so memory holds one
	// organization's keys at a time.
	rep := &Report{}
	if err := beginVerify(ctx, l, opt, rep); err != nil {
		return rep, err
	}
	if opt.days() {
		return rep, runDays(ctx, l, opt, rep) // days.go
	}
	whole := opt.Org == ""
	if opt.Incremental {
		if !whole {
			return rep, errors.New("verify: an incremental verification is of the whole store: --org does not apply")
		}
		return rep, runIncremental(ctx, l, opt, rep) // incremental.go
	}
	var cp *checkpointer
	if whole && (opt.CheckpointKey != nil || opt.Resume) {
		cp = newCheckpointer(l.Store, opt, "full", rep)
	}
	var after string
	if whole && opt.Resume {
		last, err := latestCheckpoint(ctx, l.Store, opt.trustedKeys(), rep)
		if err != nil {
			return rep, err
		}
		switch {
		case last == nil:
			rep.Warnings = append(rep.Warnings, "--resume: no checkpoint to resume from: the verification starts from the first organization")
		case last.Kind != "full" || last.Complete:
			rep.Warnings = append(rep.Warnings, "--resume: the newest checkpoint, "+last.Key+", ends a complete verification: a new one starts from the first organization")
		default:
			if err := resume(ctx, l, last, rep, cp); err != nil {
				return rep, err
			}
			rep.Checkpoint, after = last.Key, last.After
		}
	}
	if opt.CheckpointKey == nil {
		cp = nil // resumed, but nothing to sign new checkpoints with
	}
	// The organizations the resumed checkpoint holds, taken before the walk merges more.
	resumed := map[string]bool{}
	if after != "" {
		for o := range rep.state.chains {
			resumed[o] = true
		}
	}
	// The newest checkpoint's record of the attachment indexes, read before this
	// verification writes checkpoints of its own (attachstate.go).
	anchor, err := attachmentAnchor(ctx, l, opt, rep)
	if err != nil {
		return rep, err
	}
	if cp != nil && anchor != nil {
		cp.carried = map[string]*CheckpointAttachments{}
		for _, o := range anchor.Orgs {
			cp.carried[o.Org] = o.Attachments
		}
	}
	w := newWalk(ctx, l, opt, rep, cp)
	var org string
	var keys []string
	err = l.Store.List(ctx, prefix, func(key string) error {
		rest := strings.TrimPrefix(key, "orgs/")
		o, _, ok := strings.Cut(rest, "/")
		if !ok {
			rep.Warnings = append(rep.Warnings, "unexpected object "+key)
			return nil
		}
		if after != "" && o <= after && resumed[o] {
			// Walked before the verification was interrupted (resumed). One the
			// checkpoint does not hold (added since, or left out for a problem) is
			// walked now, wherever it sorts.
			return nil
		}
		if o != org {
			if org != "" {
				if err := w.submit(org, keys); err != nil {
					return err
				}
			}
			org, keys = o, nil
		}
		keys = append(keys, key)
		return nil
	})
	if err == nil && org != "" {
		err = w.submit(org, keys)
	}
	if werr := w.wait(); err == nil {
		err = werr
	}
	if err != nil {
		return rep, fmt.Errorf("verify: list %s: %w", prefix, err)
	}
	if err := verifyAudit(ctx, l, opt, rep); err != nil { // audit.go
		return rep, err
	}
	if err := verifyAccounting(ctx, l, opt, rep); err != nil { // accounting.go
		return rep, err
	}
	if err := verifyAttachments(ctx, l, opt, rep, w.cp, anchor); err != nil { // attachments.go
		return rep, err
	}
	if lk, ok := l.Store.(archiver.Locker); ok {
		for _, p := range []string{prefix, "quarantine/"} {
			if err := archiver.CheckVersions(ctx, lk, p, rep); err != nil {
				return rep, err
			}
		}
		if !lk.Locking() {
			rep.Warnings = append(rep.Warnings, "the store does not lock objects: retention is not enforced by storage")
		}
	}
	endVerify(rep) // coverage and witness, once every chain was walked (chain.go)
	if w.cp != nil {
		if err := w.cp.write(ctx, true); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// verifyOrg walks org's chain, whose keys (in key order, both layouts) are keys,
// reporting to rep, a report of org alone, and returns the walk for state.merge. It reads
// every manifest among keys, checks what each shows alone and re-hashes the objects of
// those in the range, then orders them by seq and checks the chain they form
// (seqmap.go) and the late copies (layout3.go).
func verifyOrg(ctx context.Context, l ledger.Ledger, org string, keys []string, opt Options, rep *Report) (*orgCheck, error) {
	referenced := map[string]bool{}
	ck := rep.state.beginOrg(org)
	defer ck.end()
	var links []link
	copies := map[int64]string{} // late copies, by seq
	members := membersChecked{}
	for _, key := range keys {
		if seq, ok := archiver.ParseLateKey(org, key); ok {
			copies[seq] = key
			continue
		}
		seq, manifest := manifestKey(org, key)
		if !manifest {
			continue
		}
		referenced[key] = true
		if seq == 0 {
			rep.problem("%s: not a chain entry", key)
			continue
		}
		m, err := l.ReadManifest(ctx, key)
		if err != nil {
			rep.problem("%s: %v", key, err)
			links = append(links, link{key: key, seq: max(seq, 0)})
			continue
		}
		rep.Manifests++
		rep.Read(1, int64(len(m.Bytes)))
		checkManifest(org, seq, m, rep) // layout3.go
		if seq < 0 {
			seq = m.Seq
		}
		links = append(links, linkOf(m, seq))
		ck.signature(m, rep)
		checkSealedAfterDay(m, rep) // sealed.go
		day, err := archiver.ParseDay(m.Date)
		if err != nil {
			rep.problem("%s: date: %v", key, err)
		}
		if err := ck.hiddenByMarker(ctx, l, key, day, rep); err != nil {
			return ck, err
		}
		idx := indexKey(org, day, m)
		for _, k := range namedKeys(idx, m) {
			referenced[k] = true
		}
		if opt.inRange(day) {
			verifyManifestDay(ctx, l, org, day, m, idx, nil, rep)
			members.check(ctx, l, org, m, rep)
		}
		if err := ctx.Err(); err != nil {
			return ck, err
		}
	}
	members.locks(ctx, l, opt, rep) // layout3.go
	if slices.ContainsFunc(keys, func(k string) bool { return archiver.KeyLayout(k) == archiver.Layout3 }) {
		ck.layout3Keys = true
		sl, err := ck.s.marker(ctx, l)
		if err != nil {
			return ck, err
		}
		if sl == nil {
			rep.problem("organization %s: layout-3 keys (under %s) in a store without a layout marker (%s): the marker was deleted, "+
				"and readers that trust its absence look for the days in the old layout only", org, archiver.DayRoot3(org), archiver.LayoutKey)
		}
	}
	found, err := lateCopies(ctx, l, org, links, copies, referenced, rep)
	if err != nil {
		return ck, err
	}
	ck.checkChain(nil, append(links, found...), rep)
	reportUnreferenced(keys, referenced, rep)
	return ck, ctx.Err()
}

// hiddenByMarker reports a manifest at an old-layout key (key) of a day at or after the
// store's layout marker's since: readers look for such a day in layout 3 only, so the
// API, export and status would say it was never sealed, and the scheduler would seal it
// again. The writer never makes one (since is the first layout-3 seal's day, after every
// layout-2 day); a marker created by someone with write access to the store could. The
// marker is read once per verification.
func (c *orgCheck) hiddenByMarker(ctx context.Context, l ledger.Ledger, key string, day archiver.Day, rep *Report) error {
	if day.IsZero() || archiver.KeyLayout(key) != archiver.Layout2 {
		return nil
	}
	sl, err := c.s.marker(ctx, l)
	if err != nil || sl == nil || day.Before(sl.SinceDay()) {
		return err
	}
	rep.problem("%s: a manifest of %s in the old layout, but the store's layout marker (%s) says layout 3 since %s: readers look for the day "+
		"in layout 3 only and do not find it (a marker created, or recreated with an earlier since, by someone with write access to the store?)",
		key, day, archiver.LayoutKey, sl.Since)
	return nil
}

// indexKey is where m's day looks it up: its day index (a copy of the chain entry) in
// the old layout, itself in layout 3.
func indexKey(org string, day archiver.Day, m *archiver.StoredManifest) string {
	if m.Version >= archiver.ManifestVersion3 {
		return m.Key
	}
	return archiver.RevisionKey(org, day, m.Revision)
}

// namedKeys are the keys of the objects m names, with its day index idx.
func namedKeys(idx string, m *archiver.StoredManifest) []string {
	keys := []string{idx}
	if m.Data.Key != "" {
		keys = append(keys, m.Data.Key)
	}
	if m.Quarantined != nil {
		keys = append(keys, m.Quarantined.Key)
	}
	if x := m.ChatIndex; x != nil {
		if x.Inline != nil {
			keys = append(keys, x.Inline.Members.Key)
		} else {
			keys = append(keys, x.Key)
		}
	}
	return keys
}

// reportUnreferenced reports the keys of an organization's folder that no manifest
// names: left by a run that stopped before its commit (a warning), or unexplained.
func reportUnreferenced(keys []string, referenced map[string]bool, rep *Report) {
	for _, key := range keys {
		if referenced[key] {
			continue
		}
		day := strings.Contains(key, "/days/") || strings.Contains(key, "/d/")
		switch {
		case strings.Contains(key, "/d/") && strings.Contains(key, ".failed-"):
		case strings.Contains(key, "/d/") && strings.Contains(key, ".chatindex-"):
			rep.Warnings = append(rep.Warnings, key+": chat index not named by any manifest (a run stopped before its commit)")
		case strings.Contains(key, "/members/"):
			rep.Warnings = append(rep.Warnings, key+": members object not named by any manifest (a run stopped before its commit)")
		case day && strings.Contains(key, "events-"):
			rep.Warnings = append(rep.Warnings, key+": export not named by any manifest (a run stopped before its commit)")
		case day && strings.Contains(key, "quarantine-"):
			rep.Warnings = append(rep.Warnings, key+": organization quarantine not named by any manifest (a run stopped before its commit)")
		case strings.Contains(key, "/days/") && strings.Contains(key, "/failed-"):
		case strings.Contains(key, "/days/") && strings.Contains(key, "/chatindex-"):
			rep.Warnings = append(rep.Warnings, key+": chat index not named by any manifest (a run stopped before its commit)")
		default:
			rep.problem("%s: not named by any manifest", key)
		}
	}
}

// verifyManifestDay re-hashes the objects of m, a manifest of day in the range verified,
// and checks its revision, pinned versions and locks.
func verifyManifestDay(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, m *archiver.StoredManifest, idx string, idxBytes []byte, rep *Report) {
	verifyObjects(ctx, l, org, day, m, idx, idxBytes, rep)
	verifyRevision(ctx, l, org, day, m, rep)
	verifyPinnedVersions(ctx, l, m, rep)
	rep.chained(day, m) // accounting.go
	if lk, ok := l.Store.(archiver.Locker); ok && lk.Locking() {
		read := verifyLocks(ctx, lk, day, m, idx, rep)
		verifyLegalHolds(ctx, lk, org, day, m, idx, read, rep) // locks.go
	}
}

// verifyObjects re-hashes m's objects; idxBytes, when not nil, are the day index's bytes
// already read.
func verifyObjects(ctx context.Context, l ledger.Ledger, org string, day archiver.Day, m *archiver.StoredManifest, idx string, idxBytes []byte, rep *Report) {
	v3 := m.Version >= archiver.ManifestVersion3
	switch d := m.Data; {
	case !v3 && !strings.HasPrefix(d.Key, archiver.DayPrefix(org, day)):
		rep.problem("%s: data key %s is outside the day's folder", m.Key, d.Key)
		return
	case v3 && d.Records == 0 && !d.Keyless():
		// A forger cannot pass a day off as empty without breaking the signature and the
		// chain hash; nor name an object for a day that had none.
		rep.problem("%s: a day without records names object %q: a version 3 manifest of an empty day names none", m.Key, d.Key)
		return
	case v3 && d.Records > 0 && d.Keyless():
		rep.problem("%s: %d records, but the manifest names no export", m.Key, d.Records)
		return
	case v3 && !d.Keyless() && !strings.HasPrefix(d.Key, archiver.DayPrefix3(org, day)+"events-"):
		rep.problem("%s: data key %s is not an export of the day's (%sevents-…)", m.Key, d.Key, archiver.DayPrefix3(org, day))
		return
	}
	if m.Window.Start != day.Start().UnixMilli() || m.Window.End != day.End().UnixMilli() {
		// The clock skew check below measures against the window.
		rep.problem("%s: window %d to %d is not the day %s", m.Key, m.Window.Start, m.Window.End, day)
	}
	if !v3 { // in layout 3 the manifest is its day's index: one object
		b, err := idxBytes, error(nil)
		if b == nil {
			b, err = archiver.ReadAll(ctx, l.Store, idx)
		}
		if err != nil {
			rep.problem("%s: day index %s: %v", m.Key, idx, err)
		} else if !bytes.Equal(b, m.Bytes) {
			rep.problem("%s: day index %s differs from the chain entry", m.Key, idx)
		}
	}
	check := l.CheckExport
	if v3 {
		check = l.CheckExport3
	}
	n, dataErr, indexErr := check(ctx, org, day, m)
	switch {
	case dataErr != nil && m.Data.Key == "":
		rep.problem("%s: data: %v", m.Key, dataErr)
	case dataErr != nil:
		rep.problem("%s: %v", m.Data.Key, dataErr)
	}
	if m.Data.Key != "" {
		rep.Objects++
	}
	rep.Bytes += n
	if q := m.Quarantined; q != nil {
		rep.Objects++
		n, err := l.CheckOrgQuarantine(ctx, org, day, q)
		if err != nil {
			rep.problem("%s: organization quarantine %s: %v", m.Key, q.Key, err)
		}
		rep.Bytes += n
	}
	if m.ChatIndex != nil {
		if m.ChatIndex.Inline == nil {
			rep.Objects++
			rep.Bytes += m.ChatIndex.Size
		}
		if indexErr != nil {
			rep.problem("%s: chat index: %v", m.Key, indexErr)
		}
	}
	if q := m.Quarantine; q != nil {
		size, sum, err := hashObject(ctx, l, q.Key, q.VersionID)
		rep.Objects++
		switch {
		case err != nil:
			rep.problem("%s: quarantine: %v", m.Key, err)
		case size != q.Size || hexSum(sum) != q.SHA256:
			rep.problem("%s: quarantine object %s does not match its manifest", m.Key, q.Key)
		}
	}
}

func hashObject(ctx context.Context, l ledger.Ledger, key, versionID string) (int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	rc, err := l.OpenObject(ctx, key, versionID)
	if err != nil {
		return 0, sum, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return n, sum, err
	}
	copy(sum[:], h.Sum(nil))
	return n, sum, nil
}

func hexSum(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }
