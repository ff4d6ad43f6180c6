package fastzip

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestRoundTrip writes many entries through reused compressors and reads them back with
// the standard library.
func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	Register(zw)
	want := map[string]string{}
	for i := range 50 {
		name := fmt.Sprintf("f%02d.txt", i)
		content := strings.Repeat(fmt.Sprintf("entry %d says hello; ", i), i*50+1)
		want[name] = content
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != want[f.Name] {
			t.Fatalf("%s: %d bytes, %v", f.Name, len(got), err)
		}
		if f.Method != zip.Deflate || f.CompressedSize64 >= f.UncompressedSize64 && f.UncompressedSize64 > 100 {
			t.Errorf("%s: not compressed (%d of %d)", f.Name, f.CompressedSize64, f.UncompressedSize64)
		}
	}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
}
