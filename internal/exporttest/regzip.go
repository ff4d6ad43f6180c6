package exporttest

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// Regzip returns the gzip of edit(the JSONL inside gz): a sealed export changed in the
// store, as tamper tests make one.
func Regzip(tb testing.TB, gz []byte, edit func(jsonl []byte) []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		tb.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(edit(plain)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}
