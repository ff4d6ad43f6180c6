package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/archiver"
)

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
	id := archiver.KeyID(key.Public().(ed25519.PublicKey))
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
func RetiredKey(stmts []*archiver.KeyRotation, id string) *archiver.KeyRotation {
	for _, r := range stmts {
		if !r.Bounded() || r.From.KeyID != id {
			continue
		}
		back := slices.ContainsFunc(stmts, func(b *archiver.KeyRotation) bool {
			return b != r && b.Bounded() && b.To.KeyID == id && !madeAfter(r, b)
		})
		if !back {
			return r
		}
	}
	return nil
}

// madeAfter reports whether statement r was made after s: its chain heads reach further
// along some organization's chain, or, when neither's do, it is dated later.
func madeAfter(r, s *archiver.KeyRotation) bool {
	further := func(x, y *archiver.KeyRotation) bool {
		return slices.ContainsFunc(x.Heads, func(h archiver.RotationHead) bool { return h.Seq > y.HeadSeq(h.Org) })
	}
	if further(r, s) {
		return true
	}
	if further(s, r) {
		return false
	}
	rt, _ := r.RotatedTime()
	st, _ := s.RotatedTime()
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
func retiredStatements(stmts []*archiver.KeyRotation) map[*archiver.KeyRotation]*archiver.KeyRotation {
	out := map[*archiver.KeyRotation]*archiver.KeyRotation{}
	// restored reports whether a statement rotated back to id between s and r (s first).
	restored := func(id string, s, r *archiver.KeyRotation) bool {
		return slices.ContainsFunc(stmts, func(b *archiver.KeyRotation) bool {
			return b != r && b != s && b.Bounded() && b.To.KeyID == id && madeAfter(b, s) && madeAfter(r, b)
		})
	}
	// conflict reports whether r, from the key s is from too, was made after s with no
	// rotation back to that key between them, or in an order their heads and dates do
	// not tell.
	conflict := func(r, s *archiver.KeyRotation) bool {
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
	var kept []*archiver.KeyRotation
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
