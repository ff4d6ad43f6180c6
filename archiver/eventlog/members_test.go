package eventlog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// TestGzipTruncatedNextMember: a file holding a whole gzip member and then only the
// header of another must fail as truncated, not end cleanly after the first member's
// lines (klauspost's multistream reader, unlike compress/gzip, took it as the end).
func TestGzipTruncatedNextMember(t *testing.T) {
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	zw.Write([]byte("{\"a\":1}\n"))
	zw.Close()
	for _, tail := range [][]byte{
		nil,
		member.Bytes(), // a second whole member is fine
		{0x1f, 0x8b, 8, 0x10, 0, 0, 0, 0, 0, 0xff, 'n', 'o', 't', 'e'}, // a comment that never ends
		{0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 0xff},                     // a name that never starts
		{0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff},                        // an extra field that never comes
		{0x1f, 0x8b},                                                   // half a header
	} {
		data := append(bytes.Clone(member.Bytes()), tail...)
		var got int
		err := NewScanner(0).ScanFile(t.Context(), "p.jsonl.gz", bytes.NewReader(data), func(archiver.Line) error { got++; return nil })
		_, stdErr := io.ReadAll(must(gzip.NewReader(bytes.NewReader(data))))
		if (err == nil) != (stdErr == nil) {
			t.Errorf("tail %q: Scan error %v, compress/gzip error %v", tail, err, stdErr)
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("tail %q: %v, want unexpected EOF", tail, err)
		}
	}
}

func must(r *gzip.Reader, err error) io.Reader {
	if err != nil {
		panic(err)
	}
	return r
}
