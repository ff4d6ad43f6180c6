package ledger

import (
	"context"

	"github.com/chatvault/chatvault/archiver"
)

// ReadManifest reads and decodes the manifest stored under key.
func (l Ledger) ReadManifest(ctx context.Context, key string) (*archiver.StoredManifest, error) {
	return l.readManifest(ctx, key)
}
