package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/chatvault/chatvault/archiver"
)

// Heads returns every organization's chain head, sorted by organization id (see
// chainHeads). A head refused (HeadsChecked's refused) fails it.
func (l Ledger) Heads(ctx context.Context) ([]archiver.WitnessHead, error) {
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
func (l Ledger) HeadsChecked(ctx context.Context) (heads []archiver.WitnessHead, refused []error, err error) {
	heads = []archiver.WitnessHead{}
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
			heads = append(heads, archiver.WitnessHead{Org: org, Seq: m.Seq, Date: m.Date, Revision: m.Revision, SHA256: archiver.HexSum(m.SHA256)})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("witness: %w", err)
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].Org < heads[j].Org })
	return heads, refused, nil
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
func (l Ledger) CheckWitnessed(ctx context.Context, w *archiver.Witness, org string) error {
	i := slices.IndexFunc(w.Heads, func(h archiver.WitnessHead) bool { return h.Org == org })
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
	case m.Seq == wh.Seq && archiver.HexSum(m.SHA256) != wh.SHA256:
		return fmt.Errorf("%w: organization %s's chain head seq %d is not the manifest the witness of %s names: "+
			"check the store with chatvault verify --witness", ErrBehindWitness, org, m.Seq, w.CreatedAt)
	}
	return nil
}
