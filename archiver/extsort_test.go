package archiver

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

func randomRecords(n int, seed uint64) []record {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]record, n)
	for i := range out {
		n := rng.IntN(1000)
		out[i] = record{
			org:  int32(rng.IntN(5)) - 1,
			ts:   int64(rng.IntN(50)), // few distinct values, so later keys decide
			id:   []byte(fmt.Sprintf("m-%d", rng.IntN(20))),
			rank: uint8(rng.IntN(3)),
			kind: uint8(n % 5), // a function of the line, as the content type is
			line: []byte(fmt.Sprintf(`{"n":%d}`, n)),
		}
		out[i].primary = out[i].org%2 == 0
	}
	return out
}

// TestExternalSort checks that spilling, multi-level merging and the in-memory tail give
// exactly the order of an in-memory sort, whatever the budget and the number of sorters.
func TestExternalSort(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		sorters int
		budget  int
	}{
		{"in memory", 1000, 1, 1 << 30},
		{"spills", 5000, 1, 4 << 10},
		{"several sorters", 5000, 3, 8 << 10},
		{"more runs than the fan-in", 20000, 2, 1 << 10},
		{"empty", 0, 2, 1 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			recs := randomRecords(tt.n, uint64(tt.n))
			sorters := make([]*sorter, tt.sorters)
			for i := range sorters {
				s, err := newSorter(tt.budget, tmp)
				if err != nil {
					t.Fatal(err)
				}
				defer s.release()
				sorters[i] = s
			}
			for i := range recs {
				if err := sorters[i%tt.sorters].add(&recs[i]); err != nil {
					t.Fatal(err)
				}
			}
			runs := 0
			for _, s := range sorters {
				runs += len(s.runs)
			}
			if tt.name == "more runs than the fan-in" && runs <= maxFanIn {
				t.Fatalf("only %d runs; the test needs more than %d", runs, maxFanIn)
			}
			m, closeRuns, err := mergeSorters(sorters, tmp)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			err = m.each(func(r *record) error {
				got = append(got, fmt.Sprintf("%d|%d|%s|%d|%d|%v|%s", r.org, r.ts, r.id, r.rank, r.kind, r.primary, r.line))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := closeRuns(); err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(recs, func(a, b record) int { return compareRecords(&a, &b) })
			want := make([]string, len(recs))
			for i, r := range recs {
				want[i] = fmt.Sprintf("%d|%d|%s|%d|%d|%v|%s", r.org, r.ts, r.id, r.rank, r.kind, r.primary, r.line)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("merged %d records out of order or altered (want %d)", len(got), len(want))
			}
			left, _ := os.ReadDir(tmp)
			if len(left) != 0 {
				t.Errorf("%d run files left behind", len(left))
			}
		})
	}
}

func TestSorterHonoursBudget(t *testing.T) {
	s, err := newSorter(64<<10, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.release()
	recs := randomRecords(20000, 7)
	arena0 := s.arena[:1]
	for i := range recs {
		if err := s.add(&recs[i]); err != nil {
			t.Fatal(err)
		}
		if s.size() > 64<<10 {
			t.Fatalf("sorter holds %d bytes, budget %d", s.size(), 64<<10)
		}
		if len(s.entries) > 0 && &s.arena[:1][0] != &arena0[0] {
			t.Fatal("the arena was reallocated")
		}
	}
	if len(s.runs) == 0 {
		t.Fatal("no run spilled")
	}
}

func TestSplitMemory(t *testing.T) {
	tests := []struct{ budget, arenas, heap int64 }{
		{256 << 20, 192 << 20, 48 << 20},
		{1 << 30, 768 << 20, 240 << 20},
		{64 << 20, 48 << 20, 16 << 20}, // the heap never gets less than 16 MiB
		{64 << 10, 48 << 10, 16 << 20},
	}
	for _, tt := range tests {
		arenas, heap := SplitMemory(tt.budget)
		if arenas != tt.arenas || heap != tt.heap {
			t.Errorf("SplitMemory(%d) = %d, %d; want %d, %d", tt.budget, arenas, heap, tt.arenas, tt.heap)
		}
	}
}
