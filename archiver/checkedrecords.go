package archiver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// RecordsMismatchError is what a CheckedRecords reader returns at its end when the JSONL
// read is not the one its manifest names.
type RecordsMismatchError struct {
	Key                string
	Records, Want      int64
	SHA256, WantSHA256 string
}

func (e *RecordsMismatchError) Error() string {
	return fmt.Sprintf("%s: the sealed export read back as %d records with SHA-256 %s; its manifest says %d and %s (run chatvault verify)",
		e.Key, e.Records, e.SHA256, e.Want, e.WantSHA256)
}

// CheckedRecords returns a reader of r, the JSONL of m's export (its gzip already
// undone), that at its end returns a *RecordsMismatchError instead of io.EOF when what was
// read is not what m names: its record count and the SHA-256 of its JSONL. For readers
// that take something from an export other than serving it (the attachment references a
// capture fetches, the membership changes a custodian task selects chats by): a changed
// export would otherwise steer them unchecked.
func CheckedRecords(r io.Reader, m *StoredManifest) io.Reader {
	return &checkedRecords{r: r, m: m, h: sha256.New()}
}

type checkedRecords struct {
	r       io.Reader
	m       *StoredManifest
	h       hash.Hash
	records int64
	partial bool // the last byte read was not a newline
}

func (c *checkedRecords) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.h.Write(p[:n])
		c.records += int64(bytes.Count(p[:n], []byte{'\n'}))
		c.partial = p[n-1] != '\n'
	}
	if err == io.EOF {
		records := c.records
		if c.partial {
			records++
		}
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.m.Data.JSONLSHA256 || records != c.m.Data.Records {
			return n, &RecordsMismatchError{Key: c.m.Data.Key, Records: records, Want: c.m.Data.Records, SHA256: got, WantSHA256: c.m.Data.JSONLSHA256}
		}
	}
	return n, err
}
