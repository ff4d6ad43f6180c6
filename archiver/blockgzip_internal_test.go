package archiver

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
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
	// Four blocks at once, as exports were written with pgzip; the bytes depend on the
	// block size only.
	if err := zw.SetConcurrency(gzipBlock, 4); err != nil {
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

// TestBlockGzipHoldsTwoBlocks counts the block buffers a compressor keeps once it has
// written a large export: two (one being filled while the other is compressed), not four.
// A seal keeps a compressor for each of its stagers (Workers+2) for the whole seal, and
// their buffers were the largest part of the writing phase's live heap: with four blocks
// each, the live heap of the 1M-event bench day sat at the runtime's soft limit (48 MiB of
// the 256 MiB budget) and the collector ran back to back (273 collections in the run;
// 50 with two). The bytes written do not depend on it (TestBlockGzipSameBytesAsPgzip).
func TestBlockGzipHoldsTwoBlocks(t *testing.T) {
	src := bytes.Repeat([]byte(`{"messageId":"m","text":"hello world"}`+"\n"), 8*gzipBlock/38)
	var z blockGzip
	z.Reset(io.Discard)
	if _, err := z.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	var used, held int
	for i := range z.slots {
		if s := &z.slots[i]; cap(s.in) > 0 {
			used++
			held += cap(s.in) + s.out.Cap()
		}
	}
	t.Logf("%d bytes through the compressor: %d block buffers kept, %d bytes", len(src), used, held)
	if used > 2 {
		t.Errorf("the compressor keeps %d block buffers (%d bytes), want at most 2", used, held)
	}
	reliability.Record(t, "operations", "compressors kept by a seal", reliability.Kept,
		"TestBlockGzipHoldsTwoBlocks: an export's compressor keeps two 1 MiB blocks (one filled while the other is compressed), not four, so the writers' buffers no longer hold the live heap at the runtime's soft limit; the bytes written are the same")
}
