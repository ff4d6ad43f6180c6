package archiver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/chatvault/chatvault/model"
)

// Directory is a directory snapshot as a seal uses it: decoded and validated, with the
// SHA-256 of its bytes, which every manifest records. A run that seals several days loads
// it once and hands the same Directory to each (Sealer.SealDirectory), rather than keeping
// the snapshot's bytes, tens of megabytes on a large platform, for the whole run and
// decoding them again per day.
type Directory struct {
	*model.Directory
	// SHA256 is the hex SHA-256 of the snapshot's bytes.
	SHA256 string
}

// LoadDirectory decodes a directory snapshot from r as it streams past, hashing it on
// the way; it never holds r's bytes whole (see model.DecodeDirectory).
func LoadDirectory(r io.Reader) (*Directory, error) {
	h := sha256.New()
	d, err := model.DecodeDirectory(io.TeeReader(r, h))
	if err != nil {
		return nil, err
	}
	// The decoder reads to the end of its input (it checks nothing follows the object),
	// but a reader it stopped short of must not pass for hashed.
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return &Directory{Directory: d, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ParseDirectory is LoadDirectory for a snapshot already in memory.
func ParseDirectory(data []byte) (*Directory, error) {
	return LoadDirectory(bytes.NewReader(data))
}
