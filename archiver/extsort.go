package archiver

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"unsafe"

	"github.com/chatvault/chatvault/internal/spillsort"
)

// A record is the unit of the external sort: one canonical line bound for one
// organization (or for the quarantine), with the fields it is ordered by.
//
// The order is (org, ts, id, rank, line): for an organization's records that is the export
// order of the format (eventTimestamp, messageId, event type, the line's bytes); the
// quarantine uses org -1, so it sorts first, and (file, line number) packed into ts.
// Identical lines of one organization end up adjacent, which is how duplicates collapse.
type Record struct {
	org  int32
	Rank uint8
	// kind is the content type (an index into contentTypes), carried for the manifest's
	// counts; it takes no part in the order.
	kind uint8
	// primary marks exactly one of the organizations a line is routed to, so that
	// day-level counts (exported, duplicates) count each input record once.
	primary bool
	Ts      int64
	ID      []byte
	Line    []byte
}

// CompareRecords orders records as the sort and every export do: by organization, then
// (eventTimestamp, messageId, event type rank, line bytes). Package ledger checks a stored
// export's order with it.
func CompareRecords(a, b *Record) int {
	if c := cmp.Compare(a.org, b.org); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Ts, b.Ts); c != 0 {
		return c
	}
	if c := bytes.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Rank, b.Rank); c != 0 {
		return c
	}
	return bytes.Compare(a.Line, b.Line)
}

// The seal's records go through the one external sort of the module, internal/spillsort,
// which the export formats use too. A record becomes a spillsort.Record whose value is the
// line and whose key is
//
//	org+2^31 (4 bytes, big-endian)  ts+2^63 (8 bytes, big-endian)  rank  kind|primary<<7  id
//
// so that the first 12 bytes order like (org, ts) and decide most comparisons without
// reading the records; compareSorted orders the rest. The message id is most often in the
// line already, as the canonical encoding writes it: the key then holds only where (a 0
// byte, the offset and the length as uvarints), not the id again; otherwise a 1 byte and
// the id. That saves the id's 36 bytes per record in the arena and in every spilled run.
const (
	keyOrder   = 12 // org and ts
	keyRank    = 12
	keyFlags   = 13
	keyID      = 14
	idInLine   = 0
	idFollows  = 1
	primaryBit = 0x80
)

// messageIDKey precedes the id in a canonical line. Inside a JSON string a quote is
// always escaped, so these bytes can only be a member's key, and the bytes after it are
// checked against the id anyway.
var messageIDKey = []byte(`"messageId":"`)

// appendKey appends r's sort key (see above) to dst.
func appendKey(dst []byte, r *Record) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.org)^1<<31)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Ts)^1<<63)
	flags := r.kind & 0x7f
	if r.primary {
		flags |= primaryBit
	}
	dst = append(dst, r.Rank, flags)
	if off := idOffset(r.Line, r.ID); off >= 0 {
		dst = append(dst, idInLine)
		dst = binary.AppendUvarint(dst, uint64(off))
		return binary.AppendUvarint(dst, uint64(len(r.ID)))
	}
	dst = append(dst, idFollows)
	return append(dst, r.ID...)
}

// idOffset returns where id's bytes are in line, or -1.
func idOffset(line, id []byte) int {
	if len(id) == 0 {
		return 0
	}
	// A canonical line's id is a slice of the line itself (model.DecodeCanonical aliases
	// its strings): its offset is where it points, without searching the line.
	if len(line) > 0 {
		l, p := uintptr(unsafe.Pointer(unsafe.SliceData(line))), uintptr(unsafe.Pointer(unsafe.SliceData(id)))
		if len(id) <= len(line) && p >= l && p-l <= uintptr(len(line)-len(id)) {
			return int(p - l)
		}
	}
	i := bytes.Index(line, messageIDKey)
	if i < 0 {
		return -1
	}
	i += len(messageIDKey)
	if rest := line[i:]; len(rest) > len(id) && bytes.Equal(rest[:len(id)], id) && rest[len(id)] == '"' {
		return i
	}
	return -1
}

// sortedID returns the message id of a sorted record.
func sortedID(r spillsort.Record) []byte {
	k := r.Key
	if k[keyID] == idFollows {
		return k[keyID+1:]
	}
	off, n := binary.Uvarint(k[keyID+1:])
	size, _ := binary.Uvarint(k[keyID+1+n:])
	return r.Value[off : off+size]
}

// compareSorted orders two sorted records whose (org, ts) are equal: by id, rank and line,
// as compareRecords does.
func compareSorted(a, b spillsort.Record) int {
	if c := bytes.Compare(sortedID(a), sortedID(b)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Key[keyRank], b.Key[keyRank]); c != 0 {
		return c
	}
	return bytes.Compare(a.Value, b.Value)
}

// stringBytes returns s's bytes without copying them, for a record's id on its way into
// the sorter, which copies what it keeps (a copy per line was an allocation per line).
// The bytes must not be written.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// viewSorted sets r to the record rec holds; r's slices alias rec's.
func viewSorted(rec spillsort.Record, r *Record) {
	k := rec.Key
	r.org = int32(binary.BigEndian.Uint32(k) ^ 1<<31)
	r.Ts = int64(binary.BigEndian.Uint64(k[4:]) ^ 1<<63)
	r.Rank, r.kind, r.primary = k[keyRank], k[keyFlags]&0x7f, k[keyFlags]&primaryBit != 0
	r.ID, r.Line = sortedID(rec), rec.Value
}

// sorter is one pipeline worker's share of the external sort: a spillsort.Sorter over
// memory allocated once, outside the Go heap (allocArena), at the worker's share of the
// budget. Untouched memory costs address space, not resident memory.
type sorter struct {
	s     *spillsort.Sorter
	key   []byte
	added int64  // records added
	free  func() // releases the memory
	size  int64  // of the memory, until it is freed
}

// sortArenaBytes is the memory the process's sorters hold outside the Go heap now: what
// the runtime's soft memory limit cannot see, and must leave to them (Options.OnSortMemory).
var sortArenaBytes atomic.Int64

// minSorterMemory is the least a sorter is given, whatever the budget.
const minSorterMemory = 4 << 10

func newSorter(budget int, tempDir string) (*sorter, error) {
	mem, free, err := allocArena(max(budget, minSorterMemory))
	if err != nil {
		return nil, err
	}
	sortArenaBytes.Add(int64(len(mem)))
	s := spillsort.NewSorter(spillsort.Options{
		TempDir: tempDir, Memory: mem, Compare: compareSorted, Prefix: keyOrder,
		// Up to 64 runs are read back at once: 256 KiB each stays within the heap's share.
		IOBuffer: 256 << 10,
	})
	return &sorter{s: s, free: free, size: int64(len(mem))}, nil
}

// add copies r into the sorter, spilling first if the budget would be exceeded.
func (s *sorter) add(r *Record) error {
	s.added++
	s.key = appendKey(s.key[:0], r)
	return s.s.Add(s.key, r.Line)
}

// sort sorts the records in memory now, so that workers sort their last runs in parallel.
func (s *sorter) sort() { s.s.Sort() }

// spilled is the bytes written to runs; runs their number.
func (s *sorter) spilled() int64 { return s.s.Spilled() }
func (s *sorter) runs() int      { return s.s.Runs() }

// release removes the run files and frees the sorter's memory; the sorter and anything
// viewed through it must not be used afterwards.
func (s *sorter) release() {
	s.s.Close()
	s.freeArena()
}

// account counts n bytes of the sorter's memory as held from now on (sortArenaBytes).
func (s *sorter) account(n int64) {
	sortArenaBytes.Add(n - s.size)
	s.size = n
}

// freeArena unmaps the sorter's memory once nothing refers to it any more.
func (s *sorter) freeArena() {
	if s.free != nil {
		s.free()
		s.free = nil
		sortArenaBytes.Add(-s.size)
		s.size = 0
	}
}

// merger is the merge of every worker's sorter.
type merger struct {
	sorters []*sorter
}

// keepInMemory is the most a sorter that never spilled keeps in its arena for the merge
// whatever the budget; more is kept only while the budget has room for it, else spilled
// and the arena unmapped first (releaseArenas).
const keepInMemory = 4 << 20

// mergeSorters returns the merge of every run of every sorter. The caller closes the
// returned closer, which removes the run files.
func mergeSorters(sorters []*sorter, _ string) (*merger, func() error, error) {
	closeRuns := func() error {
		var errs []error
		for _, s := range sorters {
			errs = append(errs, s.s.RemoveRuns())
		}
		return errors.Join(errs...)
	}
	return &merger{sorters: sorters}, closeRuns, nil
}

// each calls fn with every record in order. The record is valid only during the call.
func (m *merger) each(fn func(*Record) error) error {
	ss := make([]*spillsort.Sorter, len(m.sorters))
	for i, s := range m.sorters {
		ss[i] = s.s
	}
	var r Record
	return spillsort.Merge(ss, func(rec spillsort.Record) error {
		viewSorted(rec, &r)
		return fn(&r)
	})
}
