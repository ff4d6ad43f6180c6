package fastzip

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

var modified = time.Date(2026, 11, 23, 14, 5, 7, 0, time.UTC)

type entry struct {
	name    string
	method  uint16
	content string
}

// stdZip is what archive/zip with the pooled compressor writes for entries.
func stdZip(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	Register(zw)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method, Modified: modified})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// streamZip is what Writer writes for entries.
func streamZip(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := NewWriter(&buf, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method, Modified: modified})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBack checks that archive/zip reads exactly entries from b.
func readBack(t testing.TB, b []byte, entries []entry) *zip.Reader {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(entries) {
		t.Fatalf("%d entries read, want %d", len(zr.File), len(entries))
	}
	for i, f := range zr.File {
		e := entries[i]
		if f.Name != e.name || f.Method != e.method || !f.Modified.Equal(modified) {
			t.Fatalf("entry %d: %q method %d modified %v, want %q method %d modified %v",
				i, f.Name, f.Method, f.Modified, e.name, e.method, modified)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil || string(got) != e.content {
			t.Fatalf("%s: read %d bytes (%v), want %d", f.Name, len(got), err, len(e.content))
		}
	}
	return zr
}

func manyEntries(n int, method uint16, size int) []entry {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]entry, n)
	for i := range out {
		var sb strings.Builder
		for sb.Len() < size {
			fmt.Fprintf(&sb, "entry %d word %d; ", i, r.IntN(50))
		}
		out[i] = entry{fmt.Sprintf("d%03d/f%06d.txt", i%7, i), method, sb.String()[:size]}
	}
	return out
}

// TestSameAsArchiveZip checks that Writer writes the bytes archive/zip writes for the
// headers the export formats use, and that they read back.
func TestSameAsArchiveZip(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
	}{
		{"no entries", nil},
		{"one deflated", []entry{{"a.txt", zip.Deflate, strings.Repeat("hello ", 100)}}},
		{"one stored", []entry{{"a.bin", zip.Store, "raw bytes"}}},
		{"empty content", []entry{{"empty", zip.Deflate, ""}, {"empty2", zip.Store, ""}}},
		{"non-ASCII names", []entry{
			{"chats/réunion.html", zip.Deflate, "é"},
			{"日本語/ファイル.txt", zip.Store, "名前"},
			{"back\\slash", zip.Deflate, "x"},
		}},
		{"many mixed", append(manyEntries(300, zip.Deflate, 2000), manyEntries(200, zip.Store, 100)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := streamZip(t, tc.entries)
			if want := stdZip(t, tc.entries); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes differ from archive/zip's %d", len(got), len(want))
			}
			zr := readBack(t, got, tc.entries)
			for _, f := range zr.File {
				ascii := !strings.ContainsFunc(f.Name, func(r rune) bool { return r > 0x7d || r == '\\' })
				if utf8Flag := f.Flags&flagUTF8 != 0; utf8Flag == ascii {
					t.Errorf("%s: UTF-8 flag %v", f.Name, utf8Flag)
				}
				if f.Flags&flagDataDescriptor == 0 {
					t.Errorf("%s: no data descriptor flag", f.Name)
				}
			}
		})
	}
}

// TestZip64Count writes more entries than the classic end record can count.
func TestZip64Count(t *testing.T) {
	entries := manyEntries(70_000, zip.Store, 20)
	for i := 0; i < len(entries); i += 10 {
		entries[i].method = zip.Deflate
	}
	got := streamZip(t, entries)
	if want := stdZip(t, entries); !bytes.Equal(got, want) {
		t.Fatalf("%d bytes differ from archive/zip's %d", len(got), len(want))
	}
	readBack(t, got, entries)
	end := got[len(got)-directoryEndLen:]
	if n := binary.LittleEndian.Uint16(end[10:]); n != math.MaxUint16 {
		t.Fatalf("classic end record counts %d entries, want 0xffff", n)
	}
	loc := got[len(got)-directoryEndLen-directory64LocLen:]
	if sig := binary.LittleEndian.Uint32(loc); sig != directory64LocSignature {
		t.Fatalf("no ZIP64 end locator: %#x", sig)
	}
}

// TestZip64Offsets lowers the ZIP64 threshold so that entries start, and sizes reach,
// beyond it: readers must then find offsets and sizes in the ZIP64 extra fields.
func TestZip64Offsets(t *testing.T) {
	const limit = 5000
	old := zip64Limit
	zip64Limit = limit
	t.Cleanup(func() { zip64Limit = old })

	r := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 3*limit)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	entries := []entry{
		{"small-first", zip.Deflate, "before the limit"},
		{"big-stored", zip.Store, string(noise[:2*limit])},      // sizes beyond the limit
		{"big-deflated", zip.Deflate, string(noise[:limit+10])}, // noise does not compress
		{"after", zip.Deflate, strings.Repeat("past the limit ", 40)},
		{"después", zip.Store, "offset beyond the limit"},
	}
	got := streamZip(t, entries)
	zr := readBack(t, got, entries)
	for _, f := range zr.File {
		// Past the limit, sizes and offsets are in a ZIP64 extra field (the classic
		// fields hold all ones): reading the right content proves it was used.
		if hasZip64Extra(f.Extra) != (f.Name != "small-first") {
			t.Errorf("%s: ZIP64 extra field %v", f.Name, hasZip64Extra(f.Extra))
		}
		if off, err := f.DataOffset(); err != nil || off < limit && f.Name == "después" {
			t.Errorf("%s: data offset %d (%v)", f.Name, off, err)
		}
	}
	// The central directory starts beyond the limit: ZIP64 end records.
	if sig := binary.LittleEndian.Uint32(got[len(got)-directoryEndLen-directory64LocLen:]); sig != directory64LocSignature {
		t.Fatalf("no ZIP64 end locator: %#x", sig)
	}
	if off := binary.LittleEndian.Uint32(got[len(got)-directoryEndLen+16:]); off != math.MaxUint32 {
		t.Fatalf("classic directory offset %d, want all ones", off)
	}
	if out := os.Getenv("FASTZIP_KEEP"); out != "" {
		// For checking by hand with other readers: FASTZIP_KEEP=/tmp/z.zip, then unzip -t.
		os.WriteFile(out, got, 0o644)
	}
}

func hasZip64Extra(extra []byte) bool {
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if id == zip64ExtraID {
			return true
		}
		extra = extra[min(4+n, len(extra)):]
	}
	return false
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

var errDiskFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// openIn lists this process's open files inside dir (Linux only; nil elsewhere).
func openIn(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatal(err)
		}
		return nil
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			open = append(open, target)
		}
	}
	return open
}

// TestTempFileReleased checks that the central directory's file leaves neither a name nor
// an open descriptor after Close, after a failed write, and after Abort.
func TestTempFileReleased(t *testing.T) {
	entries := manyEntries(2000, zip.Deflate, 3000)
	tests := []struct {
		name    string
		out     io.Writer
		abort   bool
		wantErr error
	}{
		{"closed", io.Discard, false, nil},
		{"output fails in the entries", &failAfter{n: 100_000}, false, errDiskFull},
		{"output fails in the central directory", &failAfter{n: len(streamZip(t, entries)) - 1000}, false, errDiskFull},
		{"aborted", io.Discard, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			zw, err := NewWriter(tc.out, dir)
			if err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("the temporary file keeps a name: %v", left)
			}
			if len(openIn(t, dir)) != 1 && runtime.GOOS == "linux" {
				t.Fatalf("open in the temp folder: %v, want the central directory file", openIn(t, dir))
			}
			var werr error
			for _, e := range entries {
				w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method, Modified: modified})
				if err == nil {
					_, err = io.WriteString(w, e.content)
				}
				if err != nil {
					werr = err
					break
				}
				if tc.abort {
					zw.Abort()
					break
				}
			}
			if err := zw.Close(); werr == nil {
				werr = err
			}
			switch {
			case tc.abort && werr == nil:
				t.Fatal("Close after Abort succeeded")
			case !tc.abort && !errors.Is(werr, tc.wantErr):
				t.Fatalf("error %v, want %v", werr, tc.wantErr)
			}
			// A failed archive stays failed: no further entry is accepted.
			if werr != nil {
				if _, err := zw.CreateHeader(&zip.FileHeader{Name: "late"}); err == nil {
					t.Fatal("entry accepted after a failure")
				}
			}
			if open := openIn(t, dir); len(open) != 0 {
				t.Fatalf("still open: %v", open)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
			if tc.wantErr != nil {
				reliability.Record(t, "fault", "ZIP export output fails: "+tc.name, reliability.CleanFailure,
					"the write error is returned (wrapped) by the entry or Close; the central directory's temporary file is released")
			}
		})
	}
}

// TestHeapDoesNotGrowWithEntries compares the live heap after 10,000 and after 200,000
// entries: archive/zip would hold about 0.2 KiB more per entry (about 40 MiB here).
func TestHeapDoesNotGrowWithEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200,000 entries")
	}
	zw, err := NewWriter(io.Discard, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(strings.Repeat("a line of a chat transcript\n", 20))
	add := func(from, to int) {
		for i := from; i < to; i++ {
			m := zip.Store
			if i%16 == 0 {
				m = zip.Deflate
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("2026-11-%02d/CV-TASK-%07d.rsmf", i%30+1, i), Method: m, Modified: modified})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(content); err != nil {
				t.Fatal(err)
			}
		}
	}
	live := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC() // the second collection empties the compressor pool's victim cache
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	add(0, 10_000)
	before := live()
	add(10_000, 200_000)
	after := live()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	growth := int64(after) - int64(before)
	t.Logf("live heap after 10,000 entries %d B, after 200,000 %d B (%+d B)", before, after, growth)
	if growth > 1<<20 {
		t.Fatalf("live heap grew by %d bytes over 190,000 entries", growth)
	}
}
