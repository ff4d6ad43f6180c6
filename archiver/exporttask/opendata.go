package exporttask

import (
	"bytes"
	"context"
	"io"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// openData opens a sealed day's export as stored (gzip), through the ledger. A manifest
// whose data names no object (an empty day of store layout 3, which stores no export for
// it: DataObject.Keyless) reads as the constant empty gzip (archiver.EmptyExport),
// without a request: the engine never builds an object's key itself.
func openData(ctx context.Context, l ledger.Ledger, m *archiver.StoredManifest) (io.ReadCloser, error) {
	if m.Data.Keyless() {
		return io.NopCloser(bytes.NewReader(archiver.EmptyExport())), nil
	}
	return l.OpenObject(ctx, m.Data.Key, m.Data.VersionID)
}
