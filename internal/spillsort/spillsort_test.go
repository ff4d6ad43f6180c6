package spillsort

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestSortStableAcrossRuns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		budget int
	}{
		{"memory only", 1000, 1 << 20},
		{"a few runs", 5000, 1 << 16},
		{"more runs than files open at once", 100000, 1 << 16}, // about 90 runs: a pre-merge
		{"empty", 0, 1 << 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := New(dir, tc.budget)
			rng := rand.New(rand.NewPCG(1, 2))
			type rec struct{ k, v string }
			var want []rec
			for i := range tc.n {
				// Few distinct keys, so stability is tested; values carry the insertion index.
				k := string(AppendInt64(AppendString(nil, fmt.Sprint(rng.IntN(50))), int64(rng.IntN(5)-2)))
				v := fmt.Sprintf("%08d", i)
				want = append(want, rec{k, v})
				if err := s.Add([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "more runs than files open at once" && len(s.runs) <= MaxOpenRuns {
				t.Fatalf("only %d runs: the case does not test the pre-merge", len(s.runs))
			}
			slices.SortStableFunc(want, func(a, b rec) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
			var got []rec
			if err := s.Iterate(func(r Record) error {
				got = append(got, rec{string(r.Key), string(r.Value)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d records, want %d, or a different order", len(got), len(want))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 0 {
				t.Fatalf("%d run files left behind", len(left))
			}
		})
	}
}

func TestKeyOrder(t *testing.T) {
	keys := [][]byte{
		AppendInt64(AppendString(nil, "a"), -5),
		AppendInt64(AppendString(nil, "a"), 0),
		AppendInt64(AppendString(nil, "a"), 7),
		AppendInt64(AppendString(nil, "a\x00"), -9),
		AppendInt64(AppendString(nil, "a\x00b"), 0),
		AppendInt64(AppendString(nil, "ab"), -1),
		AppendInt64(AppendString(nil, "b"), -1<<62),
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			t.Errorf("key %d does not sort before key %d", i-1, i)
		}
	}
}

func TestSpillFailsCleanly(t *testing.T) {
	s := New(t.TempDir()+"/missing", 1<<16)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = s.Add([]byte("k"), []byte("value value value"))
	}
	if err == nil {
		t.Fatal("spilling into a missing folder succeeded")
	}
}

// TestSorterHonoursMemory fills a Sorter given its memory (as the seal gives it, outside
// the Go heap): it never holds more than that memory, never moves its arena elsewhere,
// and spills instead.
func TestSorterHonoursMemory(t *testing.T) {
	mem := make([]byte, 64<<10)
	s := NewSorter(Options{TempDir: t.TempDir(), Memory: mem})
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 20000 {
		k := AppendInt64(nil, int64(rng.IntN(100)))
		v := make([]byte, rng.IntN(400))
		if err := s.Add(k, v); err != nil {
			t.Fatal(err)
		}
		if s.Held() > len(mem) {
			t.Fatalf("record %d: the sorter holds %d bytes in %d of memory", i, s.Held(), len(mem))
		}
		if len(s.arena) > 0 && &s.arena[0] != &mem[0] {
			t.Fatal("the arena left the memory it was given")
		}
	}
	if s.Runs() == 0 {
		t.Fatal("no run spilled")
	}
	// One record larger than all of the memory still goes through, alone.
	if err := s.Add([]byte("z"), make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]byte("z"), []byte("after")); err != nil {
		t.Fatal(err)
	}
	if len(s.arena) > 0 && &s.arena[0] != &mem[0] {
		t.Fatal("after the large record, the arena did not return to its memory")
	}
}

// TestMergeSorters merges several Sorters with a Compare over their records, and a
// Prefix that decides most comparisons, as the seal does with one Sorter per worker: the
// result is every record in the Compare order, whatever spilled.
func TestMergeSorters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sorters int
		n       int
		memory  int
	}{
		{"memory only", 2, 500, 1 << 20},
		{"spills", 3, 5000, 8 << 10},
		{"more runs than files open at once", 2, 8000, 16 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Keys: a 4-byte group that the prefix covers, then a byte the prefix does not;
			// records equal in both are ordered by their value.
			cmpRest := func(a, b Record) int {
				if c := bytes.Compare(a.Key[4:], b.Key[4:]); c != 0 {
					return c
				}
				return bytes.Compare(a.Value, b.Value)
			}
			ss := make([]*Sorter, tc.sorters)
			for i := range ss {
				ss[i] = NewSorter(Options{TempDir: dir, Memory: make([]byte, tc.memory), Compare: cmpRest, Prefix: 4})
			}
			rng := rand.New(rand.NewPCG(3, 4))
			var want []string
			for i := range tc.n {
				k := []byte{0, 0, byte(rng.IntN(4)), byte(rng.IntN(30)), byte(rng.IntN(3))}
				v := fmt.Appendf(nil, "%06d", rng.IntN(1000000))
				want = append(want, string(k)+string(v))
				if err := ss[i%tc.sorters].Add(k, v); err != nil {
					t.Fatal(err)
				}
			}
			runs := 0
			for _, s := range ss {
				runs += s.Runs()
			}
			if tc.name == "more runs than files open at once" && runs <= MaxOpenRuns {
				t.Fatalf("only %d runs: the case does not test the pre-merge", runs)
			}
			slices.Sort(want) // byte order of key then value is the Compare order here
			var got []string
			if err := Merge(ss, func(r Record) error {
				got = append(got, string(r.Key)+string(r.Value))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d records, want %d, or a different order", len(got), len(want))
			}
			for _, s := range ss {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("%d run files left behind", len(left))
			}
		})
	}
}

// TestSorterHonoursHeapBudget fills a Sorter that takes its memory from the heap, as the
// export formats' do: what it has allocated (its buffers' capacity, not only what they
// hold) stays within about the budget, so append's doubling does not double it.
func TestSorterHonoursHeapBudget(t *testing.T) {
	const budget = 256 << 10
	s := New(t.TempDir(), budget)
	defer s.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		if err := s.Add(AppendInt64(nil, int64(rng.IntN(100))), make([]byte, rng.IntN(300))); err != nil {
			t.Fatal(err)
		}
		if got := cap(s.arena) + cap(s.ents)*entryBytes; got > budget+budget/4 {
			t.Fatalf("record %d: the sorter has allocated %d bytes for a budget of %d", i, got, budget)
		}
	}
	if s.Runs() == 0 {
		t.Fatal("no run spilled")
	}
}

// TestReleaseLetsGoOfMemory releases a sorter over caller-owned memory, then scribbles
// over that memory: the merge must still yield every record in order, read from the runs
// alone, so the caller may unmap the memory before merging.
func TestReleaseLetsGoOfMemory(t *testing.T) {
	for _, n := range []int{0, 10, 5000} { // nothing, memory only, runs and memory
		mem := make([]byte, 64<<10)
		s := NewSorter(Options{TempDir: t.TempDir(), Memory: mem})
		var want []string
		for i := range n {
			k := fmt.Sprintf("%08d", (i*7919)%n)
			want = append(want, k)
			if err := s.Add([]byte(k), []byte("v"+k)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		if s.Held() != 0 {
			t.Fatalf("%d records: %d bytes held after Release", n, s.Held())
		}
		if err := s.Add([]byte("x"), nil); err == nil {
			t.Fatal("Add after Release succeeded")
		}
		for i := range mem {
			mem[i] = 0xff
		}
		slices.Sort(want)
		var got []string
		if err := s.Iterate(func(r Record) error {
			if string(r.Value) != "v"+string(r.Key) {
				t.Fatalf("record %q carries %q", r.Key, r.Value)
			}
			got = append(got, string(r.Key))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%d records: got %d back, or out of order", n, len(got))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSpareIsWhatTheRecordsDoNotUse: after a spill, the records held again and the parts
// Spare returns make up all of Options.Memory, and the records' bytes are outside them.
func TestSpareIsWhatTheRecordsDoNotUse(t *testing.T) {
	mem := make([]byte, 64<<10)
	s := NewSorter(Options{TempDir: t.TempDir(), Memory: mem})
	defer s.Close()
	for i := range 1000 {
		if err := s.Add(fmt.Appendf(nil, "key-%06d", i), bytes.Repeat([]byte{'v'}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Runs() == 0 || s.Held() == 0 {
		t.Fatalf("%d runs, %d bytes held: the test needs a spill and records after it", s.Runs(), s.Held())
	}
	spare := 0
	for _, b := range s.Spare() {
		spare += len(b)
		for i := range b {
			b[i] = 0 // as if the pages were given back
		}
	}
	if s.Held()+spare != len(mem) {
		t.Fatalf("%d bytes held and %d spare, want %d in all", s.Held(), spare, len(mem))
	}
	n := 0
	err := s.Iterate(func(r Record) error {
		if len(r.Value) != 100 || r.Value[0] != 'v' {
			t.Fatalf("record %q: value overwritten", r.Key)
		}
		n++
		return nil
	})
	if err != nil || n != 1000 {
		t.Fatalf("iterated %d records (%v), want 1000", n, err)
	}
	if s.Release() != nil || s.Spare() != nil {
		t.Fatal("Spare after Release must be nothing")
	}
}

// TestRunRecordsOfEverySize spills records from empty to three read buffers long, in
// several runs, and reads them back: those that fit a run's read buffer come back in
// place, the others copied out, and every one must be intact and in order while the
// merge moves between runs.
func TestRunRecordsOfEverySize(t *testing.T) {
	const ioBuffer = 4 << 10
	s := NewSorter(Options{TempDir: t.TempDir(), Budget: 16 << 10, IOBuffer: ioBuffer})
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[string]string{}
	for i := range 400 {
		size := rng.IntN(3 * ioBuffer)
		if i%7 == 0 {
			size = 0
		}
		k := fmt.Sprintf("%06d", rng.IntN(1_000_000))
		for want[k] != "" {
			k += "x"
		}
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		v = append(v, fmt.Sprint(i)...)
		want[k] = string(v)
		if err := s.Add([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if s.Runs() < 3 {
		t.Fatalf("only %d runs spilled: the case does not test reading runs back", s.Runs())
	}
	var prev string
	n := 0
	if err := s.Iterate(func(r Record) error {
		k := string(r.Key)
		if k <= prev {
			return fmt.Errorf("key %q after %q", k, prev)
		}
		if string(r.Value) != want[k] {
			return fmt.Errorf("key %q: value of %d bytes, want %d", k, len(r.Value), len(want[k]))
		}
		prev = k
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("read %d records back, want %d", n, len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTruncatedRunFails cuts a spilled run short, inside a record's header and inside a
// record's bytes: the merge must fail naming the run, never end early as if the run had.
func TestTruncatedRunFails(t *testing.T) {
	for _, cut := range []int{1, 3, 40} { // bytes left of the last record
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			s := NewSorter(Options{TempDir: t.TempDir(), Budget: 4 << 10, IOBuffer: 1 << 10})
			for i := range 200 {
				if err := s.Add([]byte(fmt.Sprintf("%05d", i)), bytes.Repeat([]byte("v"), 100)); err != nil {
					t.Fatal(err)
				}
			}
			if s.Runs() == 0 {
				t.Fatal("nothing spilled")
			}
			run := s.runs[0]
			fi, err := os.Stat(run)
			if err != nil {
				t.Fatal(err)
			}
			// A record here is 2 header bytes, a 5-byte key and 100 bytes of value.
			if err := os.Truncate(run, fi.Size()-107+int64(cut)); err != nil {
				t.Fatal(err)
			}
			err = s.Iterate(func(Record) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "read sort run") {
				t.Fatalf("merge of a truncated run: %v, want a read error", err)
			}
			s.Close()
		})
	}
}

// TestKeyPrefix: the prefix words of every key length and every Prefix are the key's
// first Prefix bytes, zero-padded to 16, whether the key is read as two masked words
// (16 bytes or more) or copied.
func TestKeyPrefix(t *testing.T) {
	key := []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\xff\xfe\xfd\xfc")
	for prefix := 0; prefix <= 16; prefix++ {
		for n := 0; n <= len(key); n++ {
			opt := Options{Budget: 1 << 20, Prefix: prefix}
			if prefix == 0 {
				opt.Compare = func(a, b Record) int { return bytes.Compare(a.Key, b.Key) }
			}
			s := NewSorter(opt)
			var want [16]byte
			copy(want[:s.prefix], key[:n])
			p0, p1 := s.keyPrefix(key[:n])
			if w0, w1 := binary.BigEndian.Uint64(want[:8]), binary.BigEndian.Uint64(want[8:]); p0 != w0 || p1 != w1 {
				t.Fatalf("prefix %d, key of %d bytes: %016x %016x, want %016x %016x", s.prefix, n, p0, p1, w0, w1)
			}
		}
	}
}
