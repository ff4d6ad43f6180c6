package ledger

import (
	"context"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// StoreLayout returns the store's layout marker, nil when it has none (see StoreLayout):
// one read per process and store (absent: once a minute).
func (l Ledger) StoreLayout(ctx context.Context) (*archiver.StoreLayout, error) {
	key := archiver.LayoutStore(l.Store)
	if key != nil {
		if h, ok := archiver.LayoutHints.Load(key); ok {
			h := h.(archiver.LayoutHint)
			if h.Layout != nil || time.Since(h.At) < archiver.AbsentLayoutTTL {
				return h.Layout, nil
			}
		}
	}
	sl, err := archiver.ReadStoreLayout(ctx, l.Store)
	if err != nil {
		return nil, err
	}
	if key != nil {
		archiver.LayoutHints.Store(key, archiver.LayoutHint{Layout: sl, At: time.Now()})
	}
	return sl, nil
}
