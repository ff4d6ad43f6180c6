package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"github.com/chatvault/chatvault/archiver"
)

// emptyExport is the constant gzip of nothing that a day without records sealed in layout
// 3 serves: its manifest names no object (the design's "an empty export without an
// object"), so there is nothing to open and nothing to presign. Built once; never
// modified.
var emptyExport = sync.OnceValues(func() ([]byte, string) {
	b := archiver.EmptyExport()
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
})

// servedData is the object the API serves for a manifest's data: the data as the manifest
// names it, or, for a day without records that names no object (DataObject.Keyless), the
// constant empty gzip with its own size and SHA-256, which the gzip coding is then
// checked against. A keyless data that claims records, or JSONL other than nothing, is a
// manifest the API does not serve (errMismatch): serving the empty gzip under its headers
// would tell the client records exist that no object holds.
func servedData(m *archiver.StoredManifest) (archiver.DataObject, error) {
	d := m.Data
	if !d.Keyless() {
		return d, nil
	}
	if d.Records != 0 || d.JSONLSize != 0 || d.JSONLSHA256 != archiver.EmptySHA256 {
		return d, fmt.Errorf("%s: names no export object but says %d records, %d bytes of JSONL: %w", m.Key, d.Records, d.JSONLSize, errMismatch)
	}
	b, sum := emptyExport()
	d.Size, d.SHA256 = int64(len(b)), sum
	return d, nil
}

// emptyReader reads the constant empty gzip.
func emptyReader() io.Reader {
	b, _ := emptyExport()
	return bytes.NewReader(b)
}
