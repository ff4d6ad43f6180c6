package archiver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Witness records every organization's chain head at one moment, to be kept where the
// store's own administrator cannot rewrite it (a second bucket, another system). The store
// alone cannot show that its newest days were deleted when every organization's newest day
// went at once; a witness taken after a night's run can: verify --witness fails when a
// chain is shorter than, or differs from, a witnessed head. Since each manifest names its
// predecessor's SHA-256, matching the head's hash at its seq vouches for the whole chain
// up to it.
type Witness struct {
	Version int `json:"version"`
	// Store is the store's location as configured when the witness was made; informative.
	Store string `json:"store"`
	// CreatedAt is when the witness was made (RFC 3339, UTC).
	CreatedAt string        `json:"createdAt"`
	Heads     []WitnessHead `json:"heads"`
	// AuditHeads (version 2 on) are the organizations' audit chain heads (see
	// witness_audit.go); absent when the store held no audit segment. A version 1 witness
	// has none and witnesses the manifest chains only.
	AuditHeads []WitnessAuditHead `json:"auditHeads,omitempty"`
	// Signature is set when a signing key is configured: over the witness encoded without
	// it, like a manifest's.
	Signature *Signature `json:"signature,omitempty"`
}

// WitnessHead is one organization's chain head.
type WitnessHead struct {
	Org      string `json:"org"`
	Seq      int64  `json:"seq"`
	Date     string `json:"date"`
	Revision int    `json:"revision"`
	// SHA256 is the hex SHA-256 of the head manifest as stored.
	SHA256 string `json:"sha256"`
}

// WitnessVersion is the version of the witness files this build writes. Version 2 added
// the audit chain heads; version 1 files (manifest heads only) are still read.
const WitnessVersion = 2

// Heads returns every organization's chain head, sorted by organization id (see
// chainHeads). A head refused (HeadsChecked's refused) fails it.
func (l Ledger) Heads(ctx context.Context) ([]WitnessHead, error) {
	heads, refused, err := l.HeadsChecked(ctx)
	if err == nil && len(refused) > 0 {
		err = fmt.Errorf("witness: %w", errors.Join(refused...))
	}
	if err != nil {
		return nil, err
	}
	return heads, nil
}

// HeadsChecked returns every organization's chain head, sorted by organization id, and
// apart, one error for each organization whose head is refused as not the manifest sealed
// at its key (ErrUntrustedManifest: an old manifest copied there, no key needed). Those
// are left out rather than failing every organization's: one object planted in one
// organization's folder must not stop the witnessing of all the others. err is for what
// stops the listing (the store failing).
func (l Ledger) HeadsChecked(ctx context.Context) (heads []WitnessHead, refused []error, err error) {
	heads = []WitnessHead{}
	err = l.Orgs(ctx, func(org string) error {
		m, err := l.Head(ctx, org)
		if errors.Is(err, ErrUntrustedManifest) {
			refused = append(refused, fmt.Errorf("chain head of %s: %w", org, err))
			return nil
		}
		if err != nil {
			return fmt.Errorf("chain head of %s: %w", org, err)
		}
		if m != nil {
			// The organization whose folder holds the chain, not the one the manifest claims.
			org, _, _ := strings.Cut(strings.TrimPrefix(m.Key, "orgs/"), "/")
			heads = append(heads, WitnessHead{Org: org, Seq: m.Seq, Date: m.Date, Revision: m.Revision, SHA256: hexSum(m.SHA256)})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("witness: %w", err)
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Org < heads[j].Org })
	return heads, refused, nil
}

// NewWitness makes the witness of the manifest chain heads and the audit chain heads,
// signed with key when it is not nil.
func NewWitness(heads []WitnessHead, audit []WitnessAuditHead, store string, now time.Time, key ed25519.PrivateKey) ([]byte, error) {
	w := &Witness{Version: WitnessVersion, Store: store, CreatedAt: now.UTC().Format(time.RFC3339), Heads: heads, AuditHeads: audit}
	if w.Heads == nil {
		w.Heads = []WitnessHead{}
	}
	if key != nil {
		body, err := encodeWitness(w)
		if err != nil {
			return nil, err
		}
		w.Signature = newSignature(key, body)
	}
	return encodeWitness(w)
}

func encodeWitness(w *Witness) ([]byte, error) {
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode witness: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseWitness reads a witness file and checks its signature, if it has one: against the
// trusted keys when there are any (then an unsigned witness is refused too, since anyone
// could have written it), against the key it carries otherwise.
func ParseWitness(b []byte, trusted []ed25519.PublicKey) (*Witness, error) {
	var w Witness
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	switch {
	case w.Version != 1 && w.Version != WitnessVersion:
		return nil, fmt.Errorf("witness: unsupported version %d", w.Version)
	case w.Version == 1 && w.AuditHeads != nil:
		return nil, errors.New("witness: version 1 has no audit heads")
	}
	if err := checkAuditHeads(w.AuditHeads); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, h := range w.Heads {
		switch {
		case h.Org == "" || h.Seq < 1 || len(h.SHA256) != 64:
			return nil, fmt.Errorf("witness: malformed head %+v", h)
		case seen[h.Org]:
			return nil, fmt.Errorf("witness: organization %s twice", h.Org)
		}
		seen[h.Org] = true
	}
	if w.Signature == nil {
		if len(trusted) > 0 {
			return nil, errors.New("witness: not signed, but trusted public keys were given: an unsigned witness proves nothing about who made it")
		}
		return &w, nil
	}
	unsigned := w
	unsigned.Signature = nil
	body, err := encodeWitness(&unsigned)
	if err != nil {
		return nil, err
	}
	if err := checkSignature("witness", w.Signature, body, trusted); err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	return &w, nil
}

// ErrBehindWitness is returned (wrapped) by CheckWitnessed when the store holds less of an
// organization's chain than a witness shows: sealed days were deleted from the store.
var ErrBehindWitness = errors.New("the store lost sealed days its witness shows")

// CheckWitnessed checks org's chain head in the store against w's head of org (nil when w
// names none): the store's chain must reach the witnessed seq, and at that seq be the
// witnessed manifest. A store emptied of its sealed days lists none of them, and the slice
// records of the continuous verification that would tell can be deleted with them; the
// witness, kept outside the store, is what still shows that the days were sealed, so a
// day the store has no manifest of is not reported as never sealed. It costs one Head
// lookup; a chain further along than the witness (days sealed since) passes.
func (l Ledger) CheckWitnessed(ctx context.Context, w *Witness, org string) error {
	i := slices.IndexFunc(w.Heads, func(h WitnessHead) bool { return h.Org == org })
	if i < 0 {
		return nil
	}
	wh := w.Heads[i]
	m, err := l.Head(ctx, org)
	if err != nil {
		return fmt.Errorf("witness: chain head of %s: %w", org, err)
	}
	switch {
	case m == nil:
		return fmt.Errorf("%w: organization %s has no manifest in the store, and the witness of %s names its chain head seq %d (%s): "+
			"check the store with chatvault verify --witness", ErrBehindWitness, org, w.CreatedAt, wh.Seq, wh.Date)
	case m.Seq < wh.Seq:
		return fmt.Errorf("%w: organization %s's chain ends at seq %d (%s) in the store, and the witness of %s names seq %d (%s): "+
			"check the store with chatvault verify --witness", ErrBehindWitness, org, m.Seq, m.Date, w.CreatedAt, wh.Seq, wh.Date)
	case m.Seq == wh.Seq && hexSum(m.SHA256) != wh.SHA256:
		return fmt.Errorf("%w: organization %s's chain head seq %d is not the manifest the witness of %s names: "+
			"check the store with chatvault verify --witness", ErrBehindWitness, org, m.Seq, w.CreatedAt)
	}
	return nil
}
