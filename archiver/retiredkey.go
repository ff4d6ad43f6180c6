package archiver

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// retiredKeys reads, once per run, the store's rotation statements (checkRetired).
type retiredKeys struct {
	once  sync.Once
	stmts []*KeyRotation
	err   error
}

// checkRetired keeps a run signing with a key that was rotated away from committing a
// manifest verify would report for good. A statement that records the chain heads ends the
// old key's use at each organization's head when it was made (RetiredBy): a manifest the
// old key signs further along, on any chain, is what a thief of that key would write, and
// verify reports it as such. An older statement (version 1) bounds nothing, but verify
// accepts a change of key only along a statement, from the old key to the new: a manifest
// signed by the retired key after one signed by its successor is a change back that no
// statement accounts for. The run that does either is a replica or cron job not switched
// to the new key yet, or one that loaded its key before keys rotate: refusing leaves the
// day to a run with the new key. A key rotated back to, by a later statement, signs again.
func (w *writer) checkRetired(ctx context.Context, org string, head *StoredManifest) error {
	if w.s.SigningKey == nil {
		return nil
	}
	mine := KeyID(w.s.SigningKey.Public().(ed25519.PublicKey))
	r := &w.retired
	r.once.Do(func() { r.stmts, r.err = Ledger{Store: w.s.Store}.RotationStatements(ctx, nil) })
	if r.err != nil {
		return fmt.Errorf("key rotations: %w", r.err)
	}
	var seq int64 = 1
	if head != nil {
		seq = head.Seq + 1
	}
	if stmt := RetiredBy(r.stmts, mine, org, seq); stmt != nil {
		return fmt.Errorf("this run's key %s was rotated away (%s) when the organization's chain was at seq %d: "+
			"a manifest signed by it now, seq %d, is one verify reports as signed by a retired key for good; point signing.keyFile at the new key and rerun",
			mine, stmt.Key(), stmt.HeadSeq(org), seq)
	}
	if head == nil {
		return nil
	}
	_, headID, err := signerKey(head.Manifest)
	if err != nil || headID == "" || headID == mine {
		return nil // unsigned (checkSigner's case), or a signature verify reports
	}
	retired, back := "", false
	for _, s := range r.stmts {
		if s.From.KeyID == mine && retired == "" {
			retired = s.Key()
		}
		back = back || s.From.KeyID == headID && s.To.KeyID == mine
	}
	// Unless the key was rotated back to: a statement from the head's key to this one
	// accounts for the change.
	if retired == "" || back {
		return nil
	}
	return fmt.Errorf("the organization's chain is signed by key %s (manifest %d), and this run's key %s was rotated away (%s): "+
		"a manifest signed by it would change the chain back to a retired key, which verify reports for good; point signing.keyFile at the new key and rerun",
		headID, head.Seq, mine, retired)
}

// ErrRetiredKey is returned (wrapped) by CheckSigningKey for a key the store's rotation
// statements retired.
var ErrRetiredKey = errors.New("the signing key was rotated away")

// CheckSigningKey refuses key (nil: unsigned, nothing to refuse) when the store's
// rotation statements retired it (RetiredKey): a process configured with it (serve, run,
// export-task) would sign manifests, accounting objects and audit segments that verify
// reports as signed by a retired key, for good. It is a replica or job not switched to the
// new key yet, or one configured with an old copy; it stops before it writes anything, as
// a seal refuses each organization's manifest (checkRetired). One listing of the
// statements and a read of each.
func (l Ledger) CheckSigningKey(ctx context.Context, key ed25519.PrivateKey) error {
	if key == nil {
		return nil
	}
	stmts, err := l.RotationStatements(ctx, nil)
	if err != nil {
		return fmt.Errorf("key rotations: %w", err)
	}
	id := KeyID(key.Public().(ed25519.PublicKey))
	if r := RetiredKey(stmts, id); r != nil {
		return fmt.Errorf("%w: signing.keyFile is key %s, which the rotation statement %s (%s, to key %s) retired: "+
			"what it signs now verify reports as signed by a retired key; point signing.keyFile at the new key (or rotate back to this one with keys rotate)",
			ErrRetiredKey, id, r.Key(), r.RotatedAt, r.To.KeyID)
	}
	return nil
}

// RetiredKey returns a statement that rotated key id away (recording the chain heads:
// Bounded, as RetiredBy and RetiredAt count them) with no statement made after it that
// rotates back to id, nil when there is none: id may sign nothing new.
func RetiredKey(stmts []*KeyRotation, id string) *KeyRotation {
	for _, r := range stmts {
		if !r.Bounded() || r.From.KeyID != id {
			continue
		}
		back := slices.ContainsFunc(stmts, func(b *KeyRotation) bool {
			return b != r && b.Bounded() && b.To.KeyID == id && !madeAfter(r, b)
		})
		if !back {
			return r
		}
	}
	return nil
}

// RetiredSkew is how much later than a rotation statement an object signed by the key it
// retired may be dated before RetiredAt counts it as made after the rotation: the host
// that sealed or audited and the one that recorded the rotation keep their own clocks.
const RetiredSkew = time.Hour

// RetiredAt returns the statement after which key id may no longer sign an object dated
// t, nil when the statements let it: a statement from id that records the chain heads
// (Bounded), dated more than RetiredSkew before t, with no statement rotating back to id
// made between the two. It bounds by date what RetiredBy cannot bound by place: an audit
// segment (its last record's time), an accounting object (its sealedAt). Those dates are
// the signer's to write: a replica still on the old key, or a thief of it who dates
// honestly, is caught; a thief who backdates is not (a statement fixes no audit head).
func RetiredAt(stmts []*KeyRotation, id string, t time.Time) *KeyRotation {
	for _, r := range stmts {
		if !r.Bounded() || r.From.KeyID != id {
			continue
		}
		at, ok := r.rotatedAt()
		if !ok || !at.Add(RetiredSkew).Before(t) {
			continue
		}
		restored := slices.ContainsFunc(stmts, func(b *KeyRotation) bool {
			bt, ok := b.rotatedAt()
			return b != r && b.Bounded() && b.To.KeyID == id && ok && !bt.Before(at) && !t.Before(bt)
		})
		if !restored {
			return r
		}
	}
	return nil
}

func (r *KeyRotation) rotatedAt() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r.RotatedAt)
	return t, err == nil
}

// madeAfter reports whether statement r was made after s: its chain heads reach further
// along some organization's chain, or, when neither's do, it is dated later.
func madeAfter(r, s *KeyRotation) bool {
	further := func(x, y *KeyRotation) bool {
		return slices.ContainsFunc(x.Heads, func(h RotationHead) bool { return h.Seq > y.HeadSeq(h.Org) })
	}
	if further(r, s) {
		return true
	}
	if further(s, r) {
		return false
	}
	rt, _ := r.rotatedAt()
	st, _ := s.rotatedAt()
	return rt.After(st)
}

// retiredStatements returns, by statement, the statement that had retired one of its keys
// when it was made (see RotationStatements). Its old key authorizes the change, so that key
// must not have been rotated away already: of two statements from one key with no rotation
// back to it between them, the later is refused (both, when their heads and dates do not
// order them). A thief who backdates a statement past the genuine one's heads and date
// gets the genuine one refused instead: verify still reports the pair. Its new key may
// be a retired one only when the change comes from a key that key's rotation led to:
// rotating back to an old key, which only the holder of its successor can do. Otherwise a
// thief of the retired key signs a statement from a key of its own to it, and whoever
// trusts the retired key's successor (Ledger.RotatedTrust) would trust the thief's key.
func retiredStatements(stmts []*KeyRotation) map[*KeyRotation]*KeyRotation {
	out := map[*KeyRotation]*KeyRotation{}
	// restored reports whether a statement rotated back to id between s and r (s first).
	restored := func(id string, s, r *KeyRotation) bool {
		return slices.ContainsFunc(stmts, func(b *KeyRotation) bool {
			return b != r && b != s && b.Bounded() && b.To.KeyID == id && madeAfter(b, s) && madeAfter(r, b)
		})
	}
	// conflict reports whether r, from the key s is from too, was made after s with no
	// rotation back to that key between them, or in an order their heads and dates do
	// not tell.
	conflict := func(r, s *KeyRotation) bool {
		switch rs, sr := madeAfter(r, s), madeAfter(s, r); {
		case rs && !sr:
			return !restored(r.From.KeyID, s, r)
		case sr && !rs:
			return false // s is the later one
		}
		return true
	}
	for _, r := range stmts {
		for _, s := range stmts {
			if s != r && r.Bounded() && s.Bounded() && s.From.KeyID == r.From.KeyID && conflict(r, s) {
				out[r] = s
				break
			}
		}
	}
	var kept []*KeyRotation
	for _, r := range stmts {
		if out[r] == nil {
			kept = append(kept, r)
		}
	}
	graph := RotationGraph(kept)
	for _, r := range kept {
		if !r.Bounded() {
			continue
		}
		for _, s := range kept {
			if s != r && s.Bounded() && s.From.KeyID == r.To.KeyID && madeAfter(r, s) &&
				!restored(r.To.KeyID, s, r) && !Rotated(graph, r.To.KeyID, r.From.KeyID) {
				out[r] = s
				break
			}
		}
	}
	return out
}
