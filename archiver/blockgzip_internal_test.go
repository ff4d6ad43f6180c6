package archiver

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// pgzipBytes compresses b as the writer did with pgzip before blockGzip.
func pgzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw, err := pgzip.NewWriterLevel(&out, gzipLevel)
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.SetConcurrency(gzipBlock, gzipBlocks); err != nil {
		t.Fatal(err)
	}
	zw.Header = pgzip.Header{OS: 255, ModTime: time.Unix(0, 0)}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestBlockGzipSameBytesAsPgzip: exports sealed before blockGzip and after it have the
// same bytes for the same records, whatever the size (block boundaries, dictionaries,
// more blocks than compressors), also from a reused writer and in odd-sized writes.
func TestBlockGzipSameBytesAsPgzip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Compressible but not trivial: words from a small vocabulary with random numbers.
	var src []byte
	words := []string{`{"messageId":"`, `","text":"hello`, ` world`, `"}`, "\n", "deploy", "🍕"}
	for len(src) < 6*gzipBlock {
		src = append(src, words[r.IntN(len(words))]...)
		src = append(src, byte('0'+r.IntN(10)))
	}
	sizes := []int{0, 1, 100, tailSize - 1, tailSize, tailSize + 1, gzipBlock - 1, gzipBlock, gzipBlock + 1,
		gzipBlock + tailSize, 3*gzipBlock + 7, 4 * gzipBlock, 4*gzipBlock + 1, 5*gzipBlock + 12345, 6 * gzipBlock}
	var z blockGzip
	for _, chunk := range []int{1 << 20, 4096, 333} {
		for _, n := range sizes {
			in := src[:n]
			var out bytes.Buffer
			z.Reset(&out)
			for p := in; len(p) > 0; {
				k := min(chunk, len(p))
				if _, err := z.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			if want := pgzipBytes(t, in); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("%d bytes in writes of %d: %d bytes out, pgzip wrote %d, not the same", n, chunk, out.Len(), len(want))
			}
			zr, err := gzip.NewReader(&out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, in) {
				t.Fatalf("%d bytes: decoded %d bytes, not the input", n, len(got))
			}
		}
	}
}

// errWriter fails every write after the first n bytes.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, io.ErrShortWrite
	}
	w.n -= len(p)
	return len(p), nil
}

// TestBlockGzipWriteError: a failing destination is reported, and the writer is usable
// again after Reset (it goes back to the free list).
func TestBlockGzipWriteError(t *testing.T) {
	in := bytes.Repeat([]byte("0123456789abcdef\n"), 5*gzipBlock/17)
	var z blockGzip
	z.Reset(&errWriter{n: 100})
	_, werr := z.Write(in)
	cerr := z.Close()
	if werr == nil && cerr == nil {
		t.Fatal("no error from a destination that fails")
	}
	var out bytes.Buffer
	z.Reset(&out)
	if _, err := z.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), pgzipBytes(t, in)) {
		t.Fatal("a reset writer does not write what pgzip does")
	}
}
