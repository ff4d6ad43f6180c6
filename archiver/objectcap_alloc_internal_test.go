package archiver

import (
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// spaceReader serves n spaces, counting them; with sized, it also says it holds size bytes
// (as the stores' readers do: a file's Stat, an S3 answer's Content-Length).
type spaceReader struct {
	n, served int64
}

func (s *spaceReader) Read(p []byte) (int, error) {
	if s.served >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.served)]
	for i := range p {
		p[i] = ' '
	}
	s.served += int64(len(p))
	return len(p), nil
}

type sizedSpaceReader struct {
	*spaceReader
	size int64
}

func (s *sizedSpaceReader) Size() int64 { return s.size }

// TestCappedReadAllocatesTheCap: a read of an object whole, up to its kind's cap, used to
// allocate about twice what it read (io.ReadAll's chunks, then the copy into one slice):
// an object at the cap cost twice the cap, and a refusal too. A refusal must cost at most
// the cap and a little, and a read whose reader knows the object's size (every store's)
// allocates that size and a little, whatever the size, or nothing when it is over the cap.
func TestCappedReadAllocatesTheCap(t *testing.T) {
	const capBytes, slack = 8 << 20, 256 << 10
	key := "something/else.json" // a control object
	defer SetObjectCapForTest("control object", capBytes)()
	type capCase struct {
		name     string
		r        io.Reader
		served   *int64
		tooLarge bool
		maxAlloc int64
	}
	var tests []capCase
	// add offers n bytes, saying the size is size (-1: saying nothing).
	add := func(name string, n, size int64, tooLarge bool, maxAlloc int64) {
		s := &spaceReader{n: n}
		var r io.Reader = s
		if size >= 0 {
			r = &sizedSpaceReader{s, size}
		}
		tests = append(tests, capCase{name, r, &s.served, tooLarge, maxAlloc})
	}
	add("size unknown, over the cap", 64<<20, -1, true, capBytes+slack)
	add("size known, at the cap", capBytes, capBytes, false, capBytes+slack)
	add("size known, half the cap", capBytes/2, capBytes/2, false, capBytes/2+slack)
	add("size known, over the cap", 64<<20, 64<<20, true, slack)
	add("size understated, over the cap", 64<<20, 1<<20, true, capBytes+slack)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b, err := readCapped(tc.r, key)
			runtime.ReadMemStats(&after)
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			if tc.tooLarge != errors.Is(err, ErrObjectTooLarge) || (!tc.tooLarge && (err != nil || int64(len(b)) != *tc.served)) {
				t.Fatalf("read %d bytes, returned %d, err %v; want too large %v", *tc.served, len(b), err, tc.tooLarge)
			}
			t.Logf("read %d bytes, allocated %d", *tc.served, alloc)
			if alloc > tc.maxAlloc {
				t.Fatalf("allocated %d bytes reading %d (cap %d), want at most %d", alloc, *tc.served, capBytes, tc.maxAlloc)
			}
		})
	}
	reliability.Record(t, "security", "a control object at or past its kind's cap, read whole", reliability.Refused,
		"a refusal allocates at most the cap and a little (nothing when the store says the size first), and an object read with its size known allocates its size and a little: before, about twice either")
}
