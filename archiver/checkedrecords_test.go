package archiver_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatvault/chatvault/archiver"
)

func TestCheckedRecords(t *testing.T) {
	sealed := "{\"a\":1}\n{\"b\":2}\n"
	sum := sha256.Sum256([]byte(sealed))
	m := &archiver.StoredManifest{Manifest: &archiver.Manifest{Data: archiver.DataObject{Key: "k", Records: 2, JSONLSHA256: hex.EncodeToString(sum[:])}}}
	for _, tc := range []struct {
		name, read string
		ok         bool
	}{
		{"as sealed", sealed, true},
		{"a line added", sealed + "{\"c\":3}\n", false},
		{"the last newline cut", strings.TrimSuffix(sealed, "\n"), false},
		{"a line changed, same count", "{\"a\":1}\n{\"b\":3}\n", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A byte at a time, so a line's count cannot depend on where reads end.
			_, err := io.ReadAll(archiver.CheckedRecords(iotest.OneByteReader(strings.NewReader(tc.read)), m))
			var mm *archiver.RecordsMismatchError
			if tc.ok != (err == nil) || (!tc.ok && !errors.As(err, &mm)) {
				t.Fatalf("read %q: %v, want ok %v", tc.read, err, tc.ok)
			}
		})
	}
}
