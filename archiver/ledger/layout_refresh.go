package ledger

import (
	"context"

	"github.com/chatvault/chatvault/archiver"
)

// RefreshStoreLayout is StoreLayout, except that a remembered absence of the marker is
// read again: what a sealer does once it holds the seal lease. Another process (a replica
// whose first seal of the default layout 3 wrote layout.json) may have moved the store to
// layout 3 within the last absentLayoutTTL; planned on the remembered absence, the days it
// sealed in layout 3 would look unsealed and be sealed again. A marker, once read, never
// changes, and is not read again.
func (l Ledger) RefreshStoreLayout(ctx context.Context) (*archiver.StoreLayout, error) {
	if key := archiver.LayoutStore(l.Store); key != nil {
		if h, ok := archiver.LayoutHints.Load(key); ok && h.(archiver.LayoutHint).Layout != nil {
			return h.(archiver.LayoutHint).Layout, nil
		}
		archiver.LayoutHints.Delete(key)
	}
	return l.StoreLayout(ctx)
}
