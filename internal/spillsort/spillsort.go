package spillsort

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"unsafe"

	"github.com/chatvault/chatvault/internal/crashpoint"
)

// MaxOpenRuns bounds the run files open at once during a merge; more runs are first
// merged into fewer, MaxOpenRuns at a time.
const MaxOpenRuns = 64

// minBudget is the smallest memory a Sorter works with.
const minBudget = 2 << 10

// Record is one record: the key it is ordered by and the value carried with it. The
// slices a Sorter hands out are valid only during the call they are handed to.
type Record struct {
	Key, Value []byte
}

// Options shape a Sorter.
type Options struct {
	// TempDir receives the spilled runs ("" means os.TempDir()).
	TempDir string
	// Budget is how much memory the records may take (their bytes, and an index entry of
	// 32 bytes each) before a sorted run spills to TempDir. Ignored when Memory is set.
	Budget int
	// Memory, when set, is where the Sorter keeps its records: the caller allocates it
	// once (the seal allocates it outside the Go heap, which the collector then never
	// scans) and frees it after Close; its length is the budget. The Sorter holds no more
	// than that, but for one record larger than all of it, which it holds alone.
	Memory []byte
	// Compare orders two records whose first Prefix key bytes are equal. Nil means by the
	// rest of the key, and records with equal keys come back in the order they were added
	// (the sort is stable). A Compare must be a total order that finds equal only records
	// that are interchangeable: the sort and merge are then not stable, which is faster.
	Compare func(a, b Record) int
	// Prefix is how many leading key bytes (at most 16) compare like bytes.Compare and
	// decide the order when they differ. They are kept beside each record's index entry,
	// so that most comparisons read nothing else. Zero means 16 when Compare is nil, none
	// otherwise.
	Prefix int
	// IOBuffer is the buffer of each run file read back (64 KiB when zero); runs are
	// written with four times that.
	IOBuffer int
}

// entry indexes a record held in the arena: offsets, not slices, so that the index holds
// no pointers (it may live in memory the collector does not scan) and the arena may grow
// without invalidating it.
type entry struct {
	p0, p1     uint64 // the key's first Prefix bytes, big-endian, zero-padded to 16
	off        int    // of the key in the arena; the value follows it
	klen, vlen uint32
}

const entryBytes = int(unsafe.Sizeof(entry{}))

// Sorter collects records and yields them sorted. It is not safe for concurrent use.
type Sorter struct {
	opt    Options
	prefix int
	// mask0 and mask1 keep a key's first prefix bytes of its first 16 (keyPrefix).
	mask0, mask1 uint64
	// maxArena and maxEnts split the budget between the records' bytes and their index.
	maxArena, maxEnts int
	fixed             []byte // Options.Memory's arena part, when set: where the arena returns after a spill
	arena             []byte
	ents              []entry
	runs              []string // spilled run files, in the order they were written
	spill             int64    // bytes written to runs
	sorted            bool     // ents is sorted (until the next Add)
	done              bool
	released          bool // Release let go of the memory
}

// New returns a Sorter by key, stable, that keeps about budget bytes in memory and spills
// sorted runs to tempDir ("" means os.TempDir()).
func New(tempDir string, budget int) *Sorter {
	return NewSorter(Options{TempDir: tempDir, Budget: budget})
}

// NewSorter returns a Sorter with the options opt.
func NewSorter(opt Options) *Sorter {
	s := &Sorter{opt: opt, prefix: opt.Prefix}
	if s.prefix <= 0 && opt.Compare == nil {
		s.prefix = 16
	}
	s.prefix = min(max(s.prefix, 0), 16)
	s.mask0, s.mask1 = prefixMask(min(s.prefix, 8)), prefixMask(max(s.prefix-8, 0))
	if s.opt.IOBuffer <= 0 {
		s.opt.IOBuffer = 64 << 10
	}
	budget := len(opt.Memory)
	if opt.Memory == nil {
		budget = max(opt.Budget, minBudget)
	}
	// Records are hundreds of bytes and an entry is 32, so 1/16 of the memory for the
	// index leaves the arena, not the index, as what usually fills first.
	s.maxEnts = max(16, budget/16/entryBytes)
	s.maxArena = budget - s.maxEnts*entryBytes
	s.maxArena -= s.maxArena % int(unsafe.Alignof(entry{}))
	if s.maxArena < minBudget/2 {
		panic("spillsort: Options.Memory is too small")
	}
	if mem := opt.Memory; mem != nil {
		s.fixed = mem[:0:s.maxArena]
		s.arena = s.fixed
		s.ents = unsafe.Slice((*entry)(unsafe.Pointer(&mem[s.maxArena])), s.maxEnts)[:0]
	}
	// Otherwise both grow from the heap as records come, up to the same sizes.
	return s
}

// Add copies one record into the Sorter, spilling a sorted run first when it would not
// fit the budget.
func (s *Sorter) Add(key, value []byte) error {
	if s.done {
		return errors.New("spillsort: add after iterate")
	}
	if s.released {
		return errors.New("spillsort: add after release")
	}
	n := len(key) + len(value)
	if len(s.ents) > 0 && s.full(n) {
		if err := s.spillRun(); err != nil {
			return err
		}
	}
	if s.fixed == nil {
		s.growHeap(n)
	}
	off := len(s.arena)
	s.arena = append(s.arena, key...)
	s.arena = append(s.arena, value...)
	p0, p1 := s.keyPrefix(key)
	s.ents = append(s.ents, entry{p0: p0, p1: p1, off: off, klen: uint32(len(key)), vlen: uint32(len(value))})
	s.sorted = false
	return nil
}

func (s *Sorter) full(n int) bool {
	return len(s.ents) == s.maxEnts || len(s.arena)+n > s.maxArena
}

// growHeap makes room for a record of n bytes and its entry, growing the buffers by
// doubling but never past their share of the budget (but for one record larger than all
// of it, which is held alone).
func (s *Sorter) growHeap(n int) {
	if need := len(s.arena) + n; need > cap(s.arena) {
		s.arena = slices.Grow(s.arena, max(need, min(2*cap(s.arena), s.maxArena))-len(s.arena))
	}
	if len(s.ents) == cap(s.ents) {
		s.ents = slices.Grow(s.ents, max(16, min(len(s.ents), s.maxEnts-len(s.ents))))
	}
}

// keyPrefix returns the key's first Prefix bytes as two big-endian words, zero-padded.
// A key of 16 bytes or more is read as two words and masked: copying Prefix bytes into a
// zeroed array was a tenth of Add (the seal's prefix is 12).
func (s *Sorter) keyPrefix(key []byte) (uint64, uint64) {
	if len(key) >= 16 {
		p0, p1 := binary.BigEndian.Uint64(key[:8]), binary.BigEndian.Uint64(key[8:16])
		return p0 & s.mask0, p1 & s.mask1
	}
	var b [16]byte
	copy(b[:s.prefix], key)
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// prefixMask keeps the first n (0 to 8) bytes of a big-endian word.
func prefixMask(n int) uint64 {
	if n == 0 {
		return 0
	}
	return ^uint64(0) << (64 - 8*n)
}

func (s *Sorter) record(e *entry) Record {
	k := s.arena[e.off : e.off+int(e.klen) : e.off+int(e.klen)]
	return Record{Key: k, Value: s.arena[e.off+int(e.klen) : e.off+int(e.klen)+int(e.vlen)]}
}

// compareRest orders two records whose prefixes are equal.
func (s *Sorter) compareRest(a, b Record) int {
	if s.opt.Compare != nil {
		return s.opt.Compare(a, b)
	}
	return bytes.Compare(a.Key, b.Key)
}

// Sort sorts the records held in memory now rather than when they are merged, so that
// several Sorters (one per worker) can sort their last runs in parallel.
func (s *Sorter) Sort() {
	if s.sorted {
		return
	}
	byEntry := func(a, b entry) int {
		if c := cmp.Compare(a.p0, b.p0); c != 0 {
			return c
		}
		if c := cmp.Compare(a.p1, b.p1); c != 0 {
			return c
		}
		return s.compareRest(s.record(&a), s.record(&b))
	}
	if s.opt.Compare == nil {
		slices.SortStableFunc(s.ents, byEntry)
	} else {
		slices.SortFunc(s.ents, byEntry)
	}
	s.sorted = true
}

// Empty reports whether no record was added.
func (s *Sorter) Empty() bool { return len(s.ents) == 0 && len(s.runs) == 0 }

// Runs is the number of runs spilled so far; Spilled their bytes.
func (s *Sorter) Runs() int { return len(s.runs) }

// Spilled is the number of bytes written to runs so far.
func (s *Sorter) Spilled() int64 { return s.spill }

// Held is the memory the records held now take, index entries included; it never
// exceeds the budget but for one record larger than the budget.
func (s *Sorter) Held() int { return len(s.arena) + len(s.ents)*entryBytes }

// Spare returns the parts of Options.Memory that the records held now leave unused: the
// arena's tail and the index's. A caller that keeps the records for a merge after a spill
// gives those pages back (they were touched by the runs before). None without
// Options.Memory or after Release.
func (s *Sorter) Spare() [][]byte {
	mem := s.opt.Memory
	if mem == nil || s.released || s.fixed == nil {
		return nil
	}
	arena := mem[:s.maxArena]
	if len(s.arena) > 0 && unsafe.SliceData(s.arena) == unsafe.SliceData(s.fixed) {
		arena = mem[len(s.arena):s.maxArena] // else the records moved to the heap: all of it
	}
	return [][]byte{arena, mem[s.maxArena+len(s.ents)*entryBytes:]}
}

// spillRun sorts the records in memory and writes them as one run file.
func (s *Sorter) spillRun() error {
	s.Sort()
	f, err := os.CreateTemp(s.opt.TempDir, "chatvault-run-*")
	if err != nil {
		return fmt.Errorf("spillsort: create sort run: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	w := newRunWriter(crashpoint.Writer("temp.write", f), 4*s.opt.IOBuffer)
	for i := range s.ents {
		if err := w.write(s.record(&s.ents[i])); err != nil {
			break
		}
	}
	err = w.flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spillsort: write sort run %s: %w", f.Name(), err)
	}
	s.spill += w.n
	crashpoint.Hit("sort.spill")
	if s.fixed != nil {
		// A record larger than all of Memory moved the arena to the heap; let it go.
		s.arena = s.fixed[:0]
	} else if cap(s.arena) > s.maxArena {
		s.arena = nil // grown for one large record: do not keep it
	} else {
		s.arena = s.arena[:0]
	}
	s.ents = s.ents[:0]
	return nil
}

// Release writes the records held in memory as one more run and lets go of the memory
// they were in, Options.Memory included, which the caller may then free: a merge of
// spilled runs holds only its read buffers. Add fails afterwards; Merge, Iterate and
// Close work as before.
func (s *Sorter) Release() error {
	if s.released {
		return nil
	}
	if len(s.ents) > 0 {
		if err := s.spillRun(); err != nil {
			return err
		}
	}
	s.arena, s.fixed, s.ents, s.released = nil, nil, nil, true
	return nil
}

// Iterate calls fn with every record in order. A Sorter can be iterated once; Close it
// afterwards.
func (s *Sorter) Iterate(fn func(Record) error) error {
	return Merge([]*Sorter{s}, fn)
}

// Merge calls fn with the records of every sorter in one order; the sorters must have
// been made with the same Compare and Prefix. Records with equal keys (Compare nil) come
// in the order they were added to one sorter, and those of an earlier sorter first. Each
// sorter can be merged once; Close them afterwards.
func Merge(sorters []*Sorter, fn func(Record) error) error {
	if len(sorters) == 0 {
		return nil
	}
	for _, s := range sorters {
		if s.done {
			return errors.New("spillsort: iterated twice")
		}
		s.done = true
		s.Sort()
	}
	// The sources in order: each sorter's runs, oldest first, then its records in memory.
	// Merging the oldest runs first keeps the merge stable for one sorter.
	var runs int
	for _, s := range sorters {
		runs += len(s.runs)
	}
	for runs+len(sorters) > MaxOpenRuns {
		s := sorters[0]
		for _, o := range sorters {
			if len(o.runs) > len(s.runs) {
				s = o
			}
		}
		n := min(len(s.runs), MaxOpenRuns)
		if n < 2 {
			return fmt.Errorf("spillsort: %d sorters are more than a merge can open at once", len(sorters))
		}
		if err := s.mergeOldest(n); err != nil {
			return err
		}
		runs -= n - 1
	}
	var srcs []source
	defer func() {
		for _, src := range srcs {
			src.close()
		}
	}()
	for _, s := range sorters {
		for _, name := range s.runs {
			rr, err := openRun(name, s.opt.IOBuffer)
			if err != nil {
				return err
			}
			srcs = append(srcs, rr)
		}
		srcs = append(srcs, &memRun{s: s})
	}
	return merge(sorters[0], srcs, fn)
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
		rr, err := openRun(name, s.opt.IOBuffer)
		if err != nil {
			closeAll()
			return err
		}
		srcs = append(srcs, rr)
	}
	f, err := os.CreateTemp(s.opt.TempDir, "chatvault-run-*")
	if err != nil {
		closeAll()
		return fmt.Errorf("spillsort: create sort run: %w", err)
	}
	w := newRunWriter(crashpoint.Writer("temp.write", f), 4*s.opt.IOBuffer)
	err = merge(s, srcs, w.write)
	closeAll()
	if err == nil {
		err = w.flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("spillsort: merge sort runs: %w", err)
	}
	for _, name := range s.runs[:n] {
		os.Remove(name)
	}
	s.runs = append([]string{f.Name()}, s.runs[n:]...)
	return nil
}

// RemoveRuns deletes the spilled run files; the records in memory stay.
func (s *Sorter) RemoveRuns() error {
	var errs []error
	for _, name := range s.runs {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.runs = nil
	return errors.Join(errs...)
}

// Close removes the spilled runs and drops the records. Options.Memory is the caller's
// to free, afterwards.
func (s *Sorter) Close() error {
	err := s.RemoveRuns()
	s.arena, s.fixed, s.ents, s.done = nil, nil, nil, true
	return err
}

type source interface {
	// next advances; it returns io.EOF after the last record.
	next() error
	current() Record
	close()
}

// memRun iterates over a sorter's sorted records in memory.
type memRun struct {
	s   *Sorter
	i   int
	rec Record
}

func (m *memRun) next() error {
	if m.i >= len(m.s.ents) {
		return io.EOF
	}
	m.rec = m.s.record(&m.s.ents[m.i])
	m.i++
	return nil
}
func (m *memRun) current() Record { return m.rec }
func (m *memRun) close()          {}

// Run file format, per record: uvarint(len key) uvarint(len value) key value. Runs are
// private temporary files read back by the same process, so the format needs no version.
type runWriter struct {
	w   *bufio.Writer
	n   int64
	hdr [2 * binary.MaxVarintLen64]byte
}

func newRunWriter(w io.Writer, size int) *runWriter {
	return &runWriter{w: bufio.NewWriterSize(w, size)}
}

func (w *runWriter) write(r Record) error {
	n := binary.PutUvarint(w.hdr[:], uint64(len(r.Key)))
	n += binary.PutUvarint(w.hdr[n:], uint64(len(r.Value)))
	w.w.Write(w.hdr[:n])
	w.w.Write(r.Key)
	_, err := w.w.Write(r.Value)
	w.n += int64(n + len(r.Key) + len(r.Value))
	return err
}

func (w *runWriter) flush() error { return w.w.Flush() }

type runReader struct {
	f   *os.File
	r   *bufio.Reader
	buf []byte
	rec Record
}

func openRun(name string, size int) (*runReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("spillsort: open sort run: %w", err)
	}
	return &runReader{f: f, r: bufio.NewReaderSize(f, size)}, nil
}

// next reads the run's next record. A record that fits the read buffer is returned in
// place, not copied out (345 MB a 1M-event day): it stays valid until the next call, as
// the merge needs, since only a read of this run moves the buffer's bytes.
func (rr *runReader) next() error {
	head, err := rr.r.Peek(2 * binary.MaxVarintLen64)
	if len(head) == 0 {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("spillsort: read sort run %s: %w", rr.f.Name(), err)
	}
	kl, n1 := binary.Uvarint(head)
	var vl uint64
	n2 := 0
	if n1 > 0 {
		vl, n2 = binary.Uvarint(head[n1:])
	}
	if n1 <= 0 || n2 <= 0 || kl > math.MaxInt32 || vl > math.MaxInt32 {
		if err == nil {
			err = errors.New("corrupt record header")
		}
		return fmt.Errorf("spillsort: read sort run %s: %w", rr.f.Name(), noEOF(err))
	}
	if _, err := rr.r.Discard(n1 + n2); err != nil {
		return fmt.Errorf("spillsort: read sort run %s: %w", rr.f.Name(), noEOF(err))
	}
	n := int(kl + vl)
	var b []byte
	if n <= rr.r.Size() {
		if b, err = rr.r.Peek(n); err == nil {
			_, err = rr.r.Discard(n)
		}
	} else {
		if cap(rr.buf) < n {
			rr.buf = make([]byte, n)
		}
		b = rr.buf[:n]
		_, err = io.ReadFull(rr.r, b)
	}
	if err != nil {
		return fmt.Errorf("spillsort: read sort run %s: %w", rr.f.Name(), noEOF(err))
	}
	rr.rec = Record{Key: b[:kl:kl], Value: b[kl:n:n]}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (rr *runReader) current() Record { return rr.rec }
func (rr *runReader) close()          { rr.f.Close() }

// mergeHeap orders sources by their current record, then by their index, which is the
// order their records were added: that keeps equal keys stable.
// mergeHead is a source's current record in the merge, with its key's prefix worked out
// once rather than in every comparison (the heap compares each record two or three times;
// the prefix's copy was a third of the merge).
type mergeHead struct {
	p0, p1 uint64
	rec    Record
	src    source
	idx    int // the source's place in the list: equal records come out in that order
}

func (s *Sorter) less(a, b *mergeHead) bool {
	if a.p0 != b.p0 {
		return a.p0 < b.p0
	}
	if a.p1 != b.p1 {
		return a.p1 < b.p1
	}
	if c := s.compareRest(a.rec, b.rec); c != 0 {
		return c < 0
	}
	return a.idx < b.idx
}

// advance moves h's source on and reports false after its last record.
func (s *Sorter) advance(h *mergeHead) (bool, error) {
	switch err := h.src.next(); {
	case err == io.EOF:
		return false, nil
	case err != nil:
		return false, err
	}
	h.rec = h.src.current()
	h.p0, h.p1 = s.keyPrefix(h.rec.Key)
	return true, nil
}

// merge calls fn with the records of srcs in s's order: a binary heap of the sources'
// current records, written out here rather than through container/heap, whose interface
// calls were most of the merge's own time.
func merge(s *Sorter, srcs []source, fn func(Record) error) error {
	h := make([]mergeHead, 0, len(srcs))
	for i, src := range srcs {
		h = append(h, mergeHead{src: src, idx: i})
		ok, err := s.advance(&h[len(h)-1])
		if err != nil {
			return err
		}
		if !ok {
			h = h[:len(h)-1]
		}
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && s.less(&h[r], &h[l]) {
				m = r
			}
			if !s.less(&h[m], &h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(h) > 0 {
		if err := fn(h[0].rec); err != nil {
			return err
		}
		ok, err := s.advance(&h[0])
		if err != nil {
			return err
		}
		if !ok {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return nil
}
