package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// CheckpointPrefix starts the keys of the checkpoints: one object per checkpoint, created
// once, verifications/checkpoints/<yyyymmddThhmmss.nnnnnnnnnZ>-<random>.json, so that key
// order is time order.
const CheckpointPrefix = "verifications/checkpoints/"

// CheckpointVersion is the version of the checkpoints this release writes. Version 2
// (layout 3) records each organization's head key and tip, and the sample cursor's key;
// version 1 checkpoints are still read (their heads are old chain keys, by seq).
const CheckpointVersion = 2

// Checkpoint records what a verification found sound: per organization, up to which seq
// its chain was verified and that manifest's SHA-256. An incremental verification checks
// only the manifests after it (the first one must name that SHA-256 as its previous), and
// a full verification that was interrupted carries on after it (--resume). It is signed
// with the signing key (signing.keyFile) like the other records, and used only when its
// signature verifies with a trusted public key: whoever can write to the store cannot make
// verify skip what they changed.
type Checkpoint struct {
	Version int `json:"version"`
	// Kind is "full" (a full verification; Complete once it walked every organization)
	// or "incremental".
	Kind     string    `json:"kind"`
	Created  time.Time `json:"created"`
	Complete bool      `json:"complete"`
	// After is, for an incomplete full verification, the last organization walked (in
	// key order): a resumed one carries on after it.
	After string          `json:"after,omitempty"`
	Orgs  []CheckpointOrg `json:"orgs"`
	// Tally counts, per day, the version 2 manifests of the organizations walked, for
	// the accounting check of a resumed verification.
	Tally map[string]int `json:"tally,omitempty"`
	// Sample is where the rotating sample of old days carries on: the next
	// organization-day to re-hash.
	Sample    *SampleCursor       `json:"sample,omitempty"`
	Signature *archiver.Signature `json:"signature,omitempty"`

	// Key is where the checkpoint is stored (not stored).
	Key string `json:"-"`
}

// CheckpointOrg is one organization's verified chain.
type CheckpointOrg struct {
	Org string `json:"org"`
	// Seq is the newest manifest verified; SHA256 its hex SHA-256 as stored; Signer the
	// id of the key that signed it ("" unsigned).
	Seq    int64  `json:"seq"`
	SHA256 string `json:"sha256"`
	Signer string `json:"signer,omitempty"`
	// Key (version 2) is where the manifest Seq is stored: its layout-3 day key, or its
	// old chain key (the only kind a version 1 checkpoint knows: ChainKey(Org, Seq)). Tip
	// is the greatest manifest key under orgs/<org>/d/ verified ("" when none): the
	// manifests committed since that are not late sort after it.
	Key string `json:"key,omitempty"`
	Tip string `json:"tip,omitempty"`
	// First and Last are the oldest and newest days of the chain as verified; Gaps the
	// days from the organization's expected start to Last without a manifest.
	First string      `json:"first,omitempty"`
	Last  string      `json:"last,omitempty"`
	Gaps  [][2]string `json:"gaps,omitempty"`
	// Attachments are the organization's attachment indexes as verified (attachstate.go);
	// absent when not verified yet (a checkpoint of an older build, or a problem).
	Attachments *CheckpointAttachments `json:"attachments,omitempty"`
}

// SampleCursor is the next organization-day the rotating sample re-hashes. The sample
// walks each chain back from its checkpointed head, one GET a day (incremental.go): Key
// (version 2) is where the manifest Seq is stored and SHA256 what the manifest after it
// names as previous. A version 1 cursor (no Key) starts again from Org's head.
type SampleCursor struct {
	Org    string `json:"org"`
	Seq    int64  `json:"seq"`
	Key    string `json:"key,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// ErrCheckpoint is wrapped by the errors of a checkpoint that must not be used.
var ErrCheckpoint = errors.New("checkpoint refused")

func (c Checkpoint) signingBody() ([]byte, error) {
	c.Signature = nil
	return json.Marshal(c)
}

func checkpointKey(t time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return CheckpointPrefix + checkpointStamp(t) + "-" + hex.EncodeToString(b) + ".json"
}

// checkpointStamp is the time t as a checkpoint's key names it.
func checkpointStamp(t time.Time) string { return t.UTC().Format("20060102T150405.000000000Z") }

// WriteCheckpoint signs c with key and creates it in the store, once.
func WriteCheckpoint(ctx context.Context, s archiver.Store, c *Checkpoint, key ed25519.PrivateKey) error {
	if key == nil {
		return errors.New("write checkpoint: no signing key")
	}
	c.Version = CheckpointVersion
	slices.SortFunc(c.Orgs, func(a, b CheckpointOrg) int { return strings.Compare(a.Org, b.Org) })
	body, err := c.signingBody()
	if err != nil {
		return err
	}
	c.Signature = archiver.SignBody(key, body)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.Key = checkpointKey(c.Created)
	if err := s.Create(ctx, c.Key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", c.Key, err)
	}
	return nil
}

// ReadCheckpoint reads the checkpoint at key. It fails, wrapping ErrCheckpoint, unless a
// trusted key signed it: without trusted keys no checkpoint is used, since a signature
// checked against the key it carries proves nothing about who wrote it.
func ReadCheckpoint(ctx context.Context, s archiver.Store, key string, trusted []ed25519.PublicKey) (*Checkpoint, error) {
	if len(trusted) == 0 {
		return nil, fmt.Errorf("%w: %s: no trusted public key to check its signature with (give --public-key)", ErrCheckpoint, key)
	}
	b, err := archiver.ReadAll(ctx, s, key)
	if errors.Is(err, archiver.ErrObjectTooLarge) {
		// Not a checkpoint chatvault wrote: refused like a forged one, so that the
		// verification reports it and starts from the newest valid one.
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if err != nil {
		return nil, err
	}
	var c Checkpoint
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCheckpoint, key, err)
	}
	if c.Version < 1 || c.Version > CheckpointVersion {
		return nil, fmt.Errorf("%w: %s: version %d", ErrCheckpoint, key, c.Version)
	}
	if c.Signature == nil {
		return nil, fmt.Errorf("%w: %s: not signed", ErrCheckpoint, key)
	}
	body, err := c.signingBody()
	if err != nil {
		return nil, err
	}
	if err := archiver.CheckSignature(key, c.Signature, body, trusted); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	// The newest checkpoint is found by key, and the key is not signed: an old checkpoint
	// copied under a later time (a create, which Object Lock does not prevent) would be
	// used, its heads and sample cursor chosen by whoever copied it. Created is signed.
	if want := checkpointStamp(c.Created); !strings.HasPrefix(strings.TrimPrefix(key, CheckpointPrefix), want+"-") {
		return nil, fmt.Errorf("%w: %s: made at %s, which its key does not name: a copy of an older checkpoint", ErrCheckpoint, key,
			c.Created.UTC().Format(time.RFC3339Nano))
	}
	for i, o := range c.Orgs {
		if archiver.CheckKey(archiver.ChainKey(o.Org, 1)) != nil || o.Seq < 1 || len(o.SHA256) != 64 || (i > 0 && c.Orgs[i-1].Org >= o.Org) ||
			!ownKey(o.Org, o.Key) || !ownKey(o.Org, o.Tip) {
			return nil, fmt.Errorf("%w: %s: malformed organization entry %+v", ErrCheckpoint, key, o)
		}
		if err := o.Attachments.check(o.Org); err != nil {
			return nil, fmt.Errorf("%w: %s: organization %s: %v", ErrCheckpoint, key, o.Org, err)
		}
	}
	if cur := c.Sample; cur != nil && !ownKey(cur.Org, cur.Key) {
		return nil, fmt.Errorf("%w: %s: malformed sample cursor %+v", ErrCheckpoint, key, *cur)
	}
	c.Key = key
	return &c, nil
}

// latestCheckpoint returns the newest checkpoint whose signature verifies with a trusted
// key, nil when there is none. Each newer one refused is a problem in rep: someone wrote
// a checkpoint without the signing key, or changed one. One signed by a retired key (see
// retiredSigner) is not used either, with a warning.
func latestCheckpoint(ctx context.Context, s archiver.Store, trusted []ed25519.PublicKey, rep *Report) (*Checkpoint, error) {
	keys, err := listKeys(ctx, s, CheckpointPrefix)
	if err != nil {
		return nil, err
	}
	retired := 0
	defer func() {
		if retired > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d checkpoints signed by a retired key (a key rotation statement "+
				"names it as the old key) not used: whoever still holds that key could have written them; a verification "+
				"with the current signing key writes one that the next uses", retired))
		}
	}()
	for i := len(keys) - 1; i >= 0; i-- {
		c, err := ReadCheckpoint(ctx, s, keys[i], trusted)
		switch {
		case err == nil && retiredSigner(c.Signature, rep):
			retired++
		case err == nil:
			return c, nil
		case errors.Is(err, ErrCheckpoint) && len(trusted) > 0:
			rep.problem("%v: not used", err)
		case errors.Is(err, ErrCheckpoint):
			return nil, err
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, archiver.ErrNotFound):
			rep.problem("%s: %v", keys[i], err)
		default:
			return nil, err
		}
	}
	return nil, nil
}

// retiredSigner reports whether sig's key was rotated away from: a valid rotation
// statement names it as the old key, and it is not the key this verification signs with.
// Verification still trusts such a key for what it signed before the rotation, but a
// checkpoint is a claim about the store as it is now: signed by a key that may be in a
// thief's hands (keys are rotated after a suspected compromise), it could name the hashes
// of manifests rewritten with that key, and an incremental verification would skip them.
func retiredSigner(sig *archiver.Signature, rep *Report) bool {
	s := rep.state
	if sig == nil || s == nil {
		return false
	}
	id := sig.KeyID
	if id == "" {
		b, err := base64.StdEncoding.DecodeString(sig.PublicKey)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return true // cannot tell: not used
		}
		id = archiver.KeyID(ed25519.PublicKey(b))
	}
	if k := s.opt.CheckpointKey; k != nil && archiver.KeyID(k.Public().(ed25519.PublicKey)) == id {
		return false
	}
	return len(s.rotations[id]) > 0
}

// checkpointer builds the checkpoint of a verification as organizations are merged, and
// writes it every Options.CheckpointEvery organizations and at the end.
type checkpointer struct {
	store archiver.Store
	key   ed25519.PrivateKey
	every int
	now   func() time.Time
	cp    Checkpoint
	orgs  map[string]CheckpointOrg
	since int
	rep   *Report
	// attach are the organizations' attachment records (attachstate.go) the next write
	// sets (nil: none); attachAll, that every organization's attachments were verified, so
	// that one with none records an empty record.
	attach    map[string]*CheckpointAttachments
	attachAll bool
	// carried are the records of the checkpoint a full verification started from, which
	// the checkpoints it writes before it verified the attachments carry on.
	carried map[string]*CheckpointAttachments
}

func newCheckpointer(s archiver.Store, opt Options, kind string, rep *Report) *checkpointer {
	every := opt.CheckpointEvery
	if every <= 0 {
		every = DefaultCheckpointEvery
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return &checkpointer{store: s, key: opt.CheckpointKey, every: every, now: now, rep: rep,
		cp: Checkpoint{Kind: kind, Tally: map[string]int{}}, orgs: map[string]CheckpointOrg{}, attach: map[string]*CheckpointAttachments{}}
}

// DefaultCheckpointEvery is how many organizations a full verification walks between
// two checkpoints, unless Options.CheckpointEvery says otherwise.
const DefaultCheckpointEvery = 500

// keep carries o, an organization verified by an earlier verification, into the
// checkpoint.
func (c *checkpointer) keep(o CheckpointOrg) { c.orgs[o.Org] = o }

// org records an organization whose walk was merged: its chain as verified, unless its
// report has problems (then it is left out, or kept as the earlier checkpoint had it, so
// that the next verification checks it again).
func (c *checkpointer) org(ctx context.Context, j *orgJob) error {
	if j.org > c.cp.After {
		// An organization a resumed verification walks behind the checkpoint's last
		// (see Run) leaves After where it was.
		c.cp.After = j.org
	}
	if len(j.rep.Problems) == 0 && j.check != nil && j.check.sum.headSeq > 0 {
		c.orgs[j.org] = j.check.checkpointOrg()
	}
	for day, t := range j.rep.tally {
		c.cp.Tally[day] += t.chained
	}
	c.since++
	if c.since < c.every {
		return nil
	}
	return c.write(ctx, false)
}

// write writes the checkpoint as built so far.
func (c *checkpointer) write(ctx context.Context, complete bool) error {
	c.since = 0
	cp := c.cp
	cp.Complete = complete
	if complete {
		cp.After = ""
	}
	cp.Created = c.now().UTC()
	cp.Orgs = make([]CheckpointOrg, 0, len(c.orgs))
	for _, o := range c.orgs {
		switch rec, ok := c.attach[o.Org]; {
		case ok:
			o.Attachments = rec
		case o.Attachments != nil:
		case c.carried[o.Org] != nil:
			o.Attachments = c.carried[o.Org]
		case c.attachAll:
			o.Attachments = &CheckpointAttachments{}
		}
		cp.Orgs = append(cp.Orgs, o)
	}
	if err := WriteCheckpoint(ctx, c.store, &cp, c.key); err != nil {
		return err
	}
	c.rep.Wrote = cp.Key
	return nil
}

// ownKey reports whether key is empty or one of org's keys.
func ownKey(org, key string) bool {
	return key == "" || (strings.HasPrefix(key, "orgs/"+org+"/") && archiver.CheckKey(key) == nil)
}

// headKey is where o's checkpointed head is stored: its key, or (version 1) its old
// chain key.
func (o CheckpointOrg) headKey() string {
	if o.Key != "" {
		return o.Key
	}
	return archiver.ChainKey(o.Org, o.Seq)
}

// checkpointOrg is the walked chain as a checkpoint records it.
func (c *orgCheck) checkpointOrg() CheckpointOrg {
	o := CheckpointOrg{Org: c.org, Seq: c.sum.headSeq, SHA256: c.sum.headSum, Signer: c.sum.headSigner, Key: c.sum.headKey, Tip: c.sum.tipKey}
	if !c.sum.first.IsZero() {
		o.First, o.Last = c.sum.first.String(), c.sum.last.String()
	}
	for _, g := range c.sum.gaps {
		o.Gaps = append(o.Gaps, [2]string{g.First.String(), g.Last.String()})
	}
	return o
}

// resume seeds rep's state with the organizations cp verified, as if walked.
func resume(ctx context.Context, l ledger.Ledger, cp *Checkpoint, rep *Report, c *checkpointer) error {
	s := rep.state
	for _, o := range cp.Orgs {
		sum := &chainSummary{headSeq: o.Seq, headSum: o.SHA256, headSigner: o.Signer, headKey: o.Key, tipKey: o.Tip}
		sum.first, _ = archiver.ParseDay(o.First)
		sum.last, _ = archiver.ParseDay(o.Last)
		for _, g := range o.Gaps {
			f, _ := archiver.ParseDay(g[0])
			t, _ := archiver.ParseDay(g[1])
			sum.gaps = append(sum.gaps, dayRange{f, t})
		}
		if w, ok := s.witness[o.Org]; ok && w.Seq <= o.Seq {
			// The witnessed entry, by key: the chain up to o.Seq was verified.
			m, err := readWitnessed(ctx, l, archiver.WitnessHead{Org: o.Org, Seq: w.Seq, Date: w.Date, Revision: w.Revision})
			if err == nil {
				rep.Read(1, int64(len(m.Bytes)))
				sum.witnessed, sum.witnessSum = true, hexSum(m.SHA256)
			} else if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		s.chains[o.Org] = sum
		if o.Signer != "" {
			s.signed = true
		}
		c.keep(o)
		rep.Resumed++
	}
	for day, n := range cp.Tally {
		if rep.tally == nil {
			rep.tally = map[string]*accountingTally{}
		}
		rep.tally[day] = &accountingTally{chained: n}
		c.cp.Tally[day] = n
	}
	return nil
}
