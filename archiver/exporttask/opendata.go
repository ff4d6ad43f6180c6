package exporttask

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
)

// openData opens a sealed day's export as stored (gzip), through the ledger. A manifest
// that names no data object and no record (an empty day of store layout 3, which stores
// no export for it) reads as a gzip of nothing, without a request: the engine never
// builds an object's key itself.
func openData(ctx context.Context, l archiver.Ledger, m *archiver.StoredManifest) (io.ReadCloser, error) {
	if m.Data.Key == "" && m.Data.Records == 0 {
		return io.NopCloser(bytes.NewReader(emptyGzip())), nil
	}
	return l.OpenObject(ctx, m.Data.Key, m.Data.VersionID)
}

// emptyGzip is a gzip of no bytes, made once.
var emptyGzip = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Close() // writing to memory cannot fail
	return b.Bytes()
})
