package eventlog

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// refLine is a line as the package documentation defines it, computed the slow, obvious
// way: the oracle the scanner is checked against.
type refLine struct {
	number int64
	text   []byte
}

// referenceLines splits content by the rules of the package documentation: a leading BOM
// is dropped, lines end at "\n", one "\r" before it (or at the end of the file) belongs
// to the ending. Blank lines are returned too: whether one is delivered depends on the
// limit (a blank line over it is delivered as too long), which checkLines decides.
func referenceLines(content []byte) []refLine {
	content = bytes.TrimPrefix(content, bom)
	if len(content) == 0 {
		return nil
	}
	pieces := bytes.Split(content, []byte("\n"))
	if len(pieces[len(pieces)-1]) == 0 {
		pieces = pieces[:len(pieces)-1] // nothing after the last newline
	}
	var out []refLine
	for i, p := range pieces {
		out = append(out, refLine{number: int64(i + 1), text: bytes.TrimSuffix(p, []byte("\r"))})
	}
	return out
}

// checkLines compares what Scan delivered for one file with the reference: every
// non-blank line, and every line over max, arrives once, in order, with its number;
// lines up to max arrive whole; longer ones as their head, with their size and hash.
func checkLines(t *testing.T, file string, content []byte, max int, lines []archiver.Line) {
	t.Helper()
	var want []refLine
	for _, r := range referenceLines(content) {
		if len(r.text) > max || len(bytes.Trim(r.text, " \t\r\n")) > 0 {
			want = append(want, r)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("%s: %d lines delivered, want %d", file, len(lines), len(want))
	}
	for i, l := range lines {
		r := want[i]
		if l.File != file || l.Number != r.number {
			t.Fatalf("%s: line %d delivered as %s:%d, want line %d", file, i, l.File, l.Number, r.number)
		}
		if len(r.text) <= max {
			if l.Err != nil || !bytes.Equal(l.Bytes, r.text) {
				t.Fatalf("%s:%d = %q (err %v), want %q", file, r.number, l.Bytes, l.Err, r.text)
			}
			continue
		}
		var tl *archiver.LineTooLongError
		if !errors.As(l.Err, &tl) || !errors.Is(l.Err, ErrLineTooLong) {
			t.Fatalf("%s:%d: %d bytes over the %d limit, Err = %v", file, r.number, len(r.text), max, l.Err)
		}
		if tl.Size != int64(len(r.text)) || tl.SHA256 != sha256.Sum256(r.text) || tl.Limit != max {
			t.Fatalf("%s:%d: too long line reported as %d bytes, hash %x; want %d, %x",
				file, r.number, tl.Size, tl.SHA256, len(r.text), sha256.Sum256(r.text))
		}
		if head := min(len(r.text), max, TooLongHeadBytes); !bytes.Equal(l.Bytes, r.text[:head]) {
			t.Fatalf("%s:%d: head %q, want %q", file, r.number, l.Bytes, r.text[:head])
		}
	}
}

// FuzzScan builds a partition from arbitrary bytes: the bytes as a plain file, gzipped,
// and as they are under a .gz name (mostly not gzip at all, sometimes a mutated stream).
// Scan must never panic; the plain and gzipped files must deliver exactly the lines of
// the reference splitter (so every byte is in a delivered line, a line ending, a BOM or a
// blank line); the raw .gz file must either deliver what a gunzip of it holds or fail
// with an error that names it. limit sets MaxLineBytes (1 to 64) so that the fuzzer
// reaches lines longer than the limit and than the 16-byte read buffer.
func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"eventType":"sent"}`+"\n"), byte(16))
	f.Add([]byte("a\r\n\r\nb\n\n  \t\nc"), byte(4))
	f.Add([]byte("\xEF\xBB\xBFx\n\xEF\xBB\xBFy\r"), byte(1))
	f.Add([]byte(strings.Repeat("x", 100)+"\r\n"+strings.Repeat(" ", 40)+"\ny\r"), byte(17))
	f.Add([]byte("\x00\x00\x00\n\xff\xfe{\x00}\n"), byte(8))
	var gz bytes.Buffer
	zw := stdgzip.NewWriter(&gz)
	zw.Write([]byte("one\ntwo\r\nthree"))
	zw.Close()
	f.Add(gz.Bytes(), byte(3))
	f.Add(gz.Bytes()[:gz.Len()-3], byte(3))
	f.Fuzz(func(t *testing.T, data []byte, limit byte) {
		max := 1 + int(limit)%64
		var zipped bytes.Buffer
		zw := stdgzip.NewWriter(&zipped)
		zw.Write(data)
		zw.Close()
		const (
			plain  = testDay + "/part-1.jsonl"
			zipd   = testDay + "/part-2.jsonl.gz"
			rawGz  = testDay + "/part-3.jsonl.gz"
			closed = testDay + "/_CLOSED"
		)
		root := t.TempDir()
		for name, b := range map[string][]byte{plain: data, zipd: zipped.Bytes(), rawGz: data, closed: nil} {
			p := filepath.Join(root, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d, err := NewDir(root)
		if err != nil {
			t.Fatal(err)
		}
		d.MaxLineBytes, d.bufSize = max, 16
		byFile := map[string][]archiver.Line{}
		_, err = d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
			l.Bytes = bytes.Clone(l.Bytes)
			byFile[l.File] = append(byFile[l.File], l)
			return nil
		})
		checkLines(t, plain, data, max, byFile[plain])
		checkLines(t, zipd, data, max, byFile[zipd])
		if err != nil {
			if !strings.Contains(err.Error(), rawGz) {
				t.Fatalf("Scan error %q does not name %s", err, rawGz)
			}
			return
		}
		// Accepted as gzip: it must be gzip, and deliver what it holds.
		zr, zerr := stdgzip.NewReader(bytes.NewReader(data))
		var inner []byte
		if zerr == nil {
			inner, zerr = io.ReadAll(zr)
		}
		if zerr != nil {
			t.Fatalf("Scan accepted %s, which compress/gzip refuses: %v", rawGz, zerr)
		}
		checkLines(t, rawGz, inner, max, byFile[rawGz])
	})
}
