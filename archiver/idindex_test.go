package archiver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIDIndex(t *testing.T) {
	m := newIDIndex[int]()
	ids := []string{
		"0a1c2e3f-0000-4000-8000-00000000aaaa", // canonical: a 16-byte key
		"0A1C2E3F-0000-4000-8000-00000000AAAA", // the same UUID spelled otherwise: another id
		"0a1c2e3f000040008000000000000aaaa",
		"u-ada",
		"",
		"0a1c2e3f-0000-4000-8000-00000000aaag", // not hex
		"0a1c2e3f-0000-4000-8000-00000000aaa",  // short
	}
	for i, id := range ids {
		m.set(id, i)
	}
	if n := m.n + len(m.other); n != len(ids) {
		t.Fatalf("%d entries, want %d: distinct ids must not share a key", n, len(ids))
	}
	for i, id := range ids {
		if v, ok := m.get(id); !ok || v != i {
			t.Errorf("get(%q) = %d, %v; want %d", id, v, ok, i)
		}
	}
	if _, ok := m.get("0a1c2e3f-0000-4000-8000-00000000aaab"); ok {
		t.Error("found an id that was never set")
	}
	if !slices.ContainsFunc(m.slots, func(s idSlot[int]) bool {
		return s.used && s.key == [16]byte{0x0a, 0x1c, 0x2e, 0x3f, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0xaa, 0xaa}
	}) {
		t.Error("the canonical UUID is not stored as its 16 bytes")
	}
}

// TestIDSet: the chat index's sets give back every id exactly as it was added, once, in
// string order, whether it was kept as a 16-byte key or as a string, and whether it came
// as a string or as bytes of a record.
func TestIDSet(t *testing.T) {
	ids := []string{
		"0a1c2e3f-0000-4000-8000-00000000aaaa",
		"0A1C2E3F-0000-4000-8000-00000000AAAA",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
		"00000000-0000-0000-0000-000000000000",
		"u-ada",
		"",
		"0a1c2e3f-0000-4000-8000-00000000aaa",
	}
	s := newIDSet()
	for round := range 3 { // every id again: no duplicates
		for i, id := range ids {
			if (i+round)%2 == 0 {
				s.add(id)
			} else {
				s.addBytes([]byte(id))
			}
		}
	}
	for i := range 2000 { // enough to grow the table several times
		s.add(fmt.Sprintf("%08x-0000-4000-8000-000000000000", i))
	}
	want := slices.Clone(ids)
	for i := range 2000 {
		want = append(want, fmt.Sprintf("%08x-0000-4000-8000-000000000000", i))
	}
	slices.Sort(want)
	want = slices.Compact(want)
	got := s.sorted()
	if !slices.Equal(got, want) {
		t.Fatalf("sorted() gave %d ids, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	if s.len() != len(want) {
		t.Errorf("len() = %d, want %d", s.len(), len(want))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func uuidsForTest(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
	}
	return ids
}

// BenchmarkIDIndex looks up ids in a table of 31,000 (the 1M-event bench day's chats, whose
// table a seal's decoding keeps evicting from the caches) and of 1,000,000 (a table larger
// than the caches, where each lookup's cache misses show).
func BenchmarkIDIndex(b *testing.B) {
	for _, n := range []int{31_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkIDIndex(b, n) })
	}
}

func benchmarkIDIndex(b *testing.B, n int) {
	ids := uuidsForTest(n, 7)
	m := newIDIndex[int32]()
	mm := map[[16]byte]int32{}
	for i, id := range ids {
		m.set(id, int32(i))
		k, _ := uuidKey(id)
		mm[k] = int32(i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	order := make([]string, 1<<16)
	for i := range order {
		order[i] = ids[rng.IntN(len(ids))]
	}
	b.Run("table", func(b *testing.B) {
		var sum int32
		for i := range b.N {
			v, _ := m.get(order[i&(len(order)-1)])
			sum += v
		}
		_ = sum
	})
	b.Run("parse", func(b *testing.B) {
		var sum byte
		for i := range b.N {
			k, _ := uuidKey(order[i&(len(order)-1)])
			sum += k[3]
		}
		_ = sum
	})
	b.Run("map", func(b *testing.B) {
		var sum int32
		for i := range b.N {
			k, _ := uuidKey(order[i&(len(order)-1)])
			sum += mm[k]
		}
		_ = sum
	})
}

// TestIDIndexProbes fills tables with ids that share all but a few bytes (as ids that
// count up, or chosen to collide under an unseeded placement, do) and with random ones,
// and counts how far each id's slot is from where its probe starts: a few slots on
// average, never a long run, so lookups stay one cache miss and building stays linear.
func TestIDIndexProbes(t *testing.T) {
	const n = 100_000
	counting := make([]string, n)
	for i := range counting {
		counting[i] = fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
	}
	shifted := make([]string, n)
	for i := range shifted {
		shifted[i] = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i<<12)
	}
	for _, tc := range []struct {
		name string
		ids  []string
	}{
		{"random", uuidsForTest(n, 9)},
		{"counting in the last bytes", counting},
		{"counting in the first bytes' high bits", shifted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newIDIndex[int32]()
			for i, id := range tc.ids {
				m.set(id, int32(i))
			}
			mask := uint64(len(m.slots) - 1)
			var total, longest uint64
			for i, s := range m.slots {
				if !s.used {
					continue
				}
				d := (uint64(i) - m.hash(&s.key)) & mask
				total += d
				longest = max(longest, d)
			}
			for i, id := range tc.ids {
				if v, ok := m.get(id); !ok || v != int32(i) {
					t.Fatalf("get(%q) = %d, %v; want %d", id, v, ok, i)
				}
			}
			mean := float64(total) / float64(m.n)
			t.Logf("%d ids in %d slots: %.2f slots from home on average, %d at most", m.n, len(m.slots), mean, longest)
			if m.n != n || mean > 3 || longest > 200 {
				t.Fatalf("%d ids, %.2f slots from home on average, %d at most: want %d, at most 3 and 200", m.n, mean, longest, n)
			}
		})
	}
}
