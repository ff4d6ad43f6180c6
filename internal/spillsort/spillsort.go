package spillsort

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// MaxOpenRuns bounds the run files open at once during a merge; more runs are first
// merged into fewer, MaxOpenRuns at a time.
const MaxOpenRuns = 64

// perRecordOverhead approximates what one in-memory record costs beyond its bytes (the
// slice header and the allocator's rounding), so that many tiny records respect the budget too.
const perRecordOverhead = 40

// Sorter collects records and yields them sorted by key. It is not safe for concurrent use.
type Sorter struct {
	tempDir string
	budget  int
	recs    [][]byte // uvarint(len key) key value
	used    int
	runs    []string // spilled run files, in the order they were written
	done    bool
}

// New returns a Sorter that keeps about budget bytes in memory and spills sorted runs to
// tempDir ("" means os.TempDir()).
func New(tempDir string, budget int) *Sorter {
	return &Sorter{tempDir: tempDir, budget: max(budget, 1<<16)}
}

// Add copies one record.
func (s *Sorter) Add(key, value []byte) error {
	if s.done {
		return errors.New("spillsort: add after iterate")
	}
	r := make([]byte, 0, binary.MaxVarintLen32+len(key)+len(value))
	r = binary.AppendUvarint(r, uint64(len(key)))
	r = append(r, key...)
	r = append(r, value...)
	s.recs = append(s.recs, r)
	s.used += len(r) + perRecordOverhead
	if s.used >= s.budget {
		return s.spill()
	}
	return nil
}

// Empty reports whether no record was added.
func (s *Sorter) Empty() bool { return len(s.recs) == 0 && len(s.runs) == 0 }

func split(r []byte) (key, value []byte) {
	n, w := binary.Uvarint(r)
	return r[w : w+int(n)], r[w+int(n):]
}

func (s *Sorter) sortMemory() {
	slices.SortStableFunc(s.recs, func(a, b []byte) int {
		ka, _ := split(a)
		kb, _ := split(b)
		return bytes.Compare(ka, kb)
	})
}

func (s *Sorter) spill() error {
	s.sortMemory()
	f, err := os.CreateTemp(s.tempDir, "chatvault-spill-*")
	if err != nil {
		return fmt.Errorf("spillsort: create run: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	w := bufio.NewWriterSize(f, 64<<10)
	var hdr [2 * binary.MaxVarintLen64]byte
	for _, r := range s.recs {
		k, v := split(r)
		n := binary.PutUvarint(hdr[:], uint64(len(k)))
		n += binary.PutUvarint(hdr[n:], uint64(len(v)))
		w.Write(hdr[:n])
		w.Write(k)
		if _, err := w.Write(v); err != nil {
			break
		}
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spillsort: write run: %w", err)
	}
	clear(s.recs)
	s.recs = s.recs[:0]
	s.used = 0
	return nil
}

// Iterate calls fn with every record in key order. key and value are valid only during
// the call. A Sorter can be iterated once; Close it afterwards.
func (s *Sorter) Iterate(fn func(key, value []byte) error) error {
	if s.done {
		return errors.New("spillsort: iterated twice")
	}
	s.done = true
	s.sortMemory()
	// Leave room for the in-memory run; merging the oldest runs first keeps the merge stable.
	for len(s.runs) > MaxOpenRuns-1 {
		if err := s.mergeOldest(MaxOpenRuns); err != nil {
			return err
		}
	}
	srcs := make([]source, 0, len(s.runs)+1)
	defer func() {
		for _, src := range srcs {
			src.close()
		}
	}()
	for _, name := range s.runs {
		rr, err := openRun(name)
		if err != nil {
			return err
		}
		srcs = append(srcs, rr)
	}
	srcs = append(srcs, &memRun{recs: s.recs})
	return merge(srcs, fn)
}

// mergeOldest merges the n oldest runs into one run that takes their place.
func (s *Sorter) mergeOldest(n int) error {
	srcs := make([]source, 0, n)
	closeAll := func() {
		for _, src := range srcs {
			src.close()
		}
	}
	for _, name := range s.runs[:n] {
		rr, err := openRun(name)
		if err != nil {
			closeAll()
			return err
		}
		srcs = append(srcs, rr)
	}
	f, err := os.CreateTemp(s.tempDir, "chatvault-spill-*")
	if err != nil {
		closeAll()
		return fmt.Errorf("spillsort: create run: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	var hdr [2 * binary.MaxVarintLen64]byte
	err = merge(srcs, func(k, v []byte) error {
		m := binary.PutUvarint(hdr[:], uint64(len(k)))
		m += binary.PutUvarint(hdr[m:], uint64(len(v)))
		w.Write(hdr[:m])
		w.Write(k)
		_, err := w.Write(v)
		return err
	})
	closeAll()
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("spillsort: merge runs: %w", err)
	}
	for _, name := range s.runs[:n] {
		os.Remove(name)
	}
	s.runs = append([]string{f.Name()}, s.runs[n:]...)
	return nil
}

// Close removes the spilled runs and drops the records.
func (s *Sorter) Close() error {
	var errs []error
	for _, name := range s.runs {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.runs, s.recs, s.done = nil, nil, true
	return errors.Join(errs...)
}

type source interface {
	// next advances; it returns io.EOF after the last record.
	next() error
	current() (key, value []byte)
	close()
}

type memRun struct {
	recs [][]byte
	i    int
	k, v []byte
}

func (m *memRun) next() error {
	if m.i >= len(m.recs) {
		return io.EOF
	}
	m.k, m.v = split(m.recs[m.i])
	m.i++
	return nil
}
func (m *memRun) current() ([]byte, []byte) { return m.k, m.v }
func (m *memRun) close()                    {}

type runReader struct {
	f    *os.File
	r    *bufio.Reader
	buf  []byte
	k, v []byte
}

func openRun(name string) (*runReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("spillsort: open run: %w", err)
	}
	return &runReader{f: f, r: bufio.NewReaderSize(f, 32<<10)}, nil
}

func (rr *runReader) next() error {
	kl, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("spillsort: read run %s: %w", rr.f.Name(), err)
	}
	vl, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return fmt.Errorf("spillsort: read run %s: %w", rr.f.Name(), noEOF(err))
	}
	n := int(kl + vl)
	if cap(rr.buf) < n {
		rr.buf = make([]byte, n)
	}
	rr.buf = rr.buf[:n]
	if _, err := io.ReadFull(rr.r, rr.buf); err != nil {
		return fmt.Errorf("spillsort: read run %s: %w", rr.f.Name(), noEOF(err))
	}
	rr.k, rr.v = rr.buf[:kl], rr.buf[kl:]
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (rr *runReader) current() ([]byte, []byte) { return rr.k, rr.v }
func (rr *runReader) close()                    { rr.f.Close() }

// mergeHeap orders sources by their current key, then by their index, which is the order
// their records were added: that keeps equal keys stable.
type mergeHeap struct {
	srcs []source
	idx  []int
}

func (h *mergeHeap) Len() int { return len(h.srcs) }
func (h *mergeHeap) Less(i, j int) bool {
	ki, _ := h.srcs[i].current()
	kj, _ := h.srcs[j].current()
	if c := bytes.Compare(ki, kj); c != 0 {
		return c < 0
	}
	return h.idx[i] < h.idx[j]
}
func (h *mergeHeap) Swap(i, j int) {
	h.srcs[i], h.srcs[j] = h.srcs[j], h.srcs[i]
	h.idx[i], h.idx[j] = h.idx[j], h.idx[i]
}
func (h *mergeHeap) Push(x any) { panic("unused") }
func (h *mergeHeap) Pop() any {
	n := len(h.srcs) - 1
	h.srcs, h.idx = h.srcs[:n], h.idx[:n]
	return nil
}

func merge(srcs []source, fn func(k, v []byte) error) error {
	h := &mergeHeap{}
	for i, src := range srcs {
		switch err := src.next(); {
		case err == io.EOF:
		case err != nil:
			return err
		default:
			h.srcs = append(h.srcs, src)
			h.idx = append(h.idx, i)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		k, v := h.srcs[0].current()
		if err := fn(k, v); err != nil {
			return err
		}
		switch err := h.srcs[0].next(); {
		case err == io.EOF:
			heap.Pop(h)
		case err != nil:
			return err
		default:
			heap.Fix(h, 0)
		}
	}
	return nil
}
