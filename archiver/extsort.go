package archiver

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"

	"github.com/chatvault/chatvault/internal/crashpoint"
)

// A record is the unit of the external sort: one canonical line bound for one
// organization (or for the quarantine), with the fields it is ordered by.
//
// The order is (org, ts, id, rank, line): for an organization's records that is the export
// order of the format (eventTimestamp, messageId, event type, the line's bytes); the
// quarantine uses org -1, so it sorts first, and (file, line number) packed into ts.
// Identical lines of one organization end up adjacent, which is how duplicates collapse.
type record struct {
	org  int32
	rank uint8
	// kind is the content type (an index into contentTypes), carried for the manifest's
	// counts; it takes no part in the order.
	kind uint8
	// primary marks exactly one of the organizations a line is routed to, so that
	// day-level counts (exported, duplicates) count each input record once.
	primary bool
	ts      int64
	id      []byte
	line    []byte
}

func compareRecords(a, b *record) int {
	if c := cmp.Compare(a.org, b.org); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := bytes.Compare(a.id, b.id); c != 0 {
		return c
	}
	if c := cmp.Compare(a.rank, b.rank); c != 0 {
		return c
	}
	return bytes.Compare(a.line, b.line)
}

// entry is a record held in a sorter's arena: offsets instead of slices, so the arena can
// grow without invalidating earlier entries.
type entry struct {
	org     int32
	rank    uint8
	kind    uint8
	primary bool
	ts      int64
	idOff   int
	idLen   int32
	lineLen int32
}

// sorter collects records in memory up to a budget, spilling sorted runs to temporary
// files. Each pipeline worker owns one; the runs of all of them are merged at the end.
//
// The arena and the entry slice are allocated once at their full share of the budget,
// rather than grown by append, whose doubling would overshoot the budget by up to 2x.
// Untouched capacity costs address space, not resident memory.
type sorter struct {
	tempDir string
	arena   []byte
	entries []entry
	runs    []string // spilled run files
	spilled int64    // bytes written to runs
	added   int64    // records added
	free    func()   // releases arena and entries
	sorted  bool     // entries are sorted (until the next add)
}

// entryBytes is the size of an entry.
const entryBytes = int(unsafe.Sizeof(entry{}))

func newSorter(budget int, tempDir string) (*sorter, error) {
	// Canonical lines are hundreds of bytes and an entry is 32, so 1/16 of the budget
	// for entries leaves the arena, not the entry slice, as what usually fills first.
	entries := max(16, budget/16/entryBytes)
	arena := max(1024, budget-entries*entryBytes)
	mem, free, err := allocArena(arena + entries*entryBytes)
	if err != nil {
		return nil, err
	}
	// entry holds no pointers, so it may live in memory the collector does not scan.
	ents := unsafe.Slice((*entry)(unsafe.Pointer(&mem[arena])), entries)
	return &sorter{tempDir: tempDir, arena: mem[:0:arena], entries: ents[:0], free: free}, nil
}

func (s *sorter) size() int { return cap(s.arena) + cap(s.entries)*entryBytes }

// add copies r into the sorter, spilling first if the budget would be exceeded. A record
// larger than the whole arena still fits: the arena grows for it, once.
func (s *sorter) add(r *record) error {
	if len(s.entries) > 0 && (len(s.entries) == cap(s.entries) || len(s.arena)+len(r.id)+len(r.line) > cap(s.arena)) {
		if err := s.spill(); err != nil {
			return err
		}
	}
	s.added++
	s.sorted = false
	off := len(s.arena)
	s.arena = append(s.arena, r.id...)
	s.arena = append(s.arena, r.line...)
	s.entries = append(s.entries, entry{
		org: r.org, rank: r.rank, kind: r.kind, primary: r.primary, ts: r.ts,
		idOff: off, idLen: int32(len(r.id)), lineLen: int32(len(r.line)),
	})
	return nil
}

func (s *sorter) view(e *entry, r *record) {
	r.org, r.rank, r.kind, r.primary, r.ts = e.org, e.rank, e.kind, e.primary, e.ts
	r.id = s.arena[e.idOff : e.idOff+int(e.idLen)]
	r.line = s.arena[e.idOff+int(e.idLen) : e.idOff+int(e.idLen)+int(e.lineLen)]
}

func (s *sorter) sort() {
	defer func() { s.sorted = true }()
	slices.SortFunc(s.entries, func(a, b entry) int {
		// The same order as compareRecords; org and ts usually decide, so compare them
		// before touching the arena.
		if c := cmp.Compare(a.org, b.org); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		if c := bytes.Compare(s.arena[a.idOff:a.idOff+int(a.idLen)], s.arena[b.idOff:b.idOff+int(b.idLen)]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		la, lb := a.idOff+int(a.idLen), b.idOff+int(b.idLen)
		return bytes.Compare(s.arena[la:la+int(a.lineLen)], s.arena[lb:lb+int(b.lineLen)])
	})
}

// spill sorts the buffered entries and writes them as one run file.
func (s *sorter) spill() error {
	s.sort()
	f, err := os.CreateTemp(s.tempDir, "chatvault-run-*")
	if err != nil {
		return fmt.Errorf("create sort run: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	w := newRunWriter(crashpoint.Writer("temp.write", f))
	var r record
	for i := range s.entries {
		s.view(&s.entries[i], &r)
		if err := w.write(&r); err != nil {
			f.Close()
			return fmt.Errorf("write sort run %s: %w", f.Name(), err)
		}
	}
	if err := w.flush(); err != nil {
		f.Close()
		return fmt.Errorf("write sort run %s: %w", f.Name(), err)
	}
	s.spilled += w.n
	if err := f.Close(); err != nil {
		return fmt.Errorf("close sort run: %w", err)
	}
	crashpoint.Hit("sort.spill")
	s.arena = s.arena[:0]
	s.entries = s.entries[:0]
	return nil
}

// remove deletes the sorter's run files.
func (s *sorter) remove() {
	for _, name := range s.runs {
		os.Remove(name)
	}
	s.runs = nil
}

// release removes the run files and frees the sorter's memory; the sorter and anything
// viewed through it must not be used afterwards.
func (s *sorter) release() {
	s.remove()
	if s.free != nil {
		s.free()
		s.free = nil
	}
	s.arena, s.entries = nil, nil
}

// Run file format: per record, uvarint(org+1) byte(rank | kind<<2 | primary<<7) varint(ts)
// uvarint(len id) id uvarint(len line) line. Runs are private temporary files read back
// by the same process, so the format needs no versioning.
type runWriter struct {
	w   *bufio.Writer
	n   int64
	hdr []byte
}

func newRunWriter(w io.Writer) *runWriter {
	return &runWriter{w: bufio.NewWriterSize(w, 1<<20), hdr: make([]byte, 0, 4*binary.MaxVarintLen64+1)}
}

func (w *runWriter) write(r *record) error {
	h := w.hdr[:0]
	h = binary.AppendUvarint(h, uint64(int64(r.org)+1))
	flags := r.rank&3 | (r.kind&0x1f)<<2
	if r.primary {
		flags |= 0x80
	}
	h = append(h, flags)
	h = binary.AppendVarint(h, r.ts)
	h = binary.AppendUvarint(h, uint64(len(r.id)))
	if _, err := w.w.Write(h); err != nil {
		return err
	}
	if _, err := w.w.Write(r.id); err != nil {
		return err
	}
	h = binary.AppendUvarint(h[:0], uint64(len(r.line)))
	if _, err := w.w.Write(h); err != nil {
		return err
	}
	_, err := w.w.Write(r.line)
	w.n += int64(len(h) + len(r.id) + len(r.line) + 12)
	return err
}

func (w *runWriter) flush() error { return w.w.Flush() }

// runReader reads one run file back, record by record, reusing its buffers.
type runReader struct {
	name string
	f    *os.File
	r    *bufio.Reader
	buf  []byte
	rec  record
}

func openRun(name string) (*runReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open sort run: %w", err)
	}
	return &runReader{name: name, f: f, r: bufio.NewReaderSize(f, 256<<10)}, nil
}

// next reads the next record into rr.rec; io.EOF at the end.
func (rr *runReader) next() error {
	org, err := binary.ReadUvarint(rr.r)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return rr.corrupt(err)
	}
	flags, err := rr.r.ReadByte()
	if err != nil {
		return rr.corrupt(err)
	}
	ts, err := binary.ReadVarint(rr.r)
	if err != nil {
		return rr.corrupt(err)
	}
	idLen, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return rr.corrupt(err)
	}
	rr.buf = rr.buf[:0]
	if rr.buf, err = readN(rr.r, rr.buf, int(idLen)); err != nil {
		return rr.corrupt(err)
	}
	lineLen, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return rr.corrupt(err)
	}
	if rr.buf, err = readN(rr.r, rr.buf, int(lineLen)); err != nil {
		return rr.corrupt(err)
	}
	rr.rec = record{
		org: int32(int64(org) - 1), rank: flags & 3, kind: flags >> 2 & 0x1f, primary: flags&0x80 != 0, ts: ts,
		id: rr.buf[:idLen], line: rr.buf[idLen:],
	}
	return nil
}

func (rr *runReader) corrupt(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read sort run %s: %w", rr.name, err)
}

func (rr *runReader) close() error { return rr.f.Close() }

func readN(r *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n]
	_, err := io.ReadFull(r, buf[start:])
	return buf, err
}

// recordSource yields records in order.
type recordSource interface {
	next() error // io.EOF at the end
	current() *record
}

func (rr *runReader) current() *record { return &rr.rec }

// memRun iterates over a sorter's sorted in-memory entries.
type memRun struct {
	s   *sorter
	i   int
	rec record
}

func (m *memRun) next() error {
	if m.i >= len(m.s.entries) {
		return io.EOF
	}
	m.s.view(&m.s.entries[m.i], &m.rec)
	m.i++
	return nil
}

func (m *memRun) current() *record { return &m.rec }

// merger is a k-way merge over sorted sources.
type merger struct {
	h mergeHeap
}

type mergeHeap []recordSource

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return compareRecords(h[i].current(), h[j].current()) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(recordSource)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newMerger(srcs []recordSource) (*merger, error) {
	m := &merger{}
	for _, s := range srcs {
		switch err := s.next(); {
		case err == io.EOF:
		case err != nil:
			return nil, err
		default:
			m.h = append(m.h, s)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// each calls fn with every record in order. The record is valid only during the call.
func (m *merger) each(fn func(*record) error) error {
	for len(m.h) > 0 {
		top := m.h[0]
		if err := fn(top.current()); err != nil {
			return err
		}
		switch err := top.next(); {
		case err == io.EOF:
			heap.Pop(&m.h)
		case err != nil:
			return err
		default:
			heap.Fix(&m.h, 0)
		}
	}
	return nil
}

// maxFanIn bounds the run files open at once during a merge; more runs are first merged
// in groups into longer runs, so open files stay bounded however large the day is.
const maxFanIn = 64

// mergeSorters returns a merger over every run of every sorter, with the sorters' last
// buffers sorted in memory. The caller closes the returned closer, which also removes
// the run files.
func mergeSorters(sorters []*sorter, tempDir string) (*merger, func() error, error) {
	var runs []string
	for _, s := range sorters {
		runs = append(runs, s.runs...)
	}
	cleanup := func() error {
		for _, s := range sorters {
			s.remove()
		}
		return nil
	}
	for len(runs)+len(sorters) > maxFanIn {
		// Merge the oldest maxFanIn runs into one.
		n := min(maxFanIn, len(runs))
		merged, err := mergeRunFiles(runs[:n], tempDir)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		for _, name := range runs[:n] {
			os.Remove(name)
		}
		runs = append(runs[n:], merged)
		sorters[0].runs = append(sorters[0].runs, merged) // so cleanup removes it
	}
	var srcs []recordSource
	var open []*runReader
	closeAll := func() error {
		var errs []error
		for _, r := range open {
			errs = append(errs, r.close())
		}
		cleanup()
		return errors.Join(errs...)
	}
	for _, name := range runs {
		r, err := openRun(name)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		open = append(open, r)
		srcs = append(srcs, r)
	}
	for _, s := range sorters {
		if !s.sorted {
			s.sort()
		}
		srcs = append(srcs, &memRun{s: s})
	}
	m, err := newMerger(srcs)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return m, closeAll, nil
}

func mergeRunFiles(names []string, tempDir string) (string, error) {
	var srcs []recordSource
	var open []*runReader
	defer func() {
		for _, r := range open {
			r.close()
		}
	}()
	for _, name := range names {
		r, err := openRun(name)
		if err != nil {
			return "", err
		}
		open = append(open, r)
		srcs = append(srcs, r)
	}
	m, err := newMerger(srcs)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(tempDir, "chatvault-run-*")
	if err != nil {
		return "", fmt.Errorf("create sort run: %w", err)
	}
	w := newRunWriter(crashpoint.Writer("temp.write", f))
	err = m.each(w.write)
	if err == nil {
		err = w.flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("merge sort runs: %w", err)
	}
	return f.Name(), nil
}
