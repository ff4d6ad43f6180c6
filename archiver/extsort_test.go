package archiver

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/internal/spillsort"
)

func randomRecords(n int, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]Record, n)
	for i := range out {
		n := rng.IntN(1000)
		out[i] = Record{
			org:  int32(rng.IntN(5)) - 1,
			Ts:   int64(rng.IntN(50)), // few distinct values, so later keys decide
			ID:   []byte(fmt.Sprintf("m-%d", rng.IntN(20))),
			Rank: uint8(rng.IntN(3)),
			kind: uint8(n % 5), // a function of the line, as the content type is
		}
		// The id as the canonical line holds it, a longer id that starts like it, or none.
		switch id := out[i].ID; n % 3 {
		case 0:
			out[i].Line = []byte(fmt.Sprintf(`{"messageId":"%s","n":%d}`, id, n))
		case 1:
			out[i].Line = []byte(fmt.Sprintf(`{"messageId":"%s0","n":%d}`, id, n))
		default:
			out[i].Line = []byte(fmt.Sprintf(`{"n":%d}`, n))
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
				runs += s.runs()
			}
			if tt.name == "more runs than the fan-in" && runs <= spillsort.MaxOpenRuns {
				t.Fatalf("only %d runs; the test needs more than %d", runs, spillsort.MaxOpenRuns)
			}
			m, closeRuns, err := mergeSorters(sorters, tmp)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			err = m.each(func(r *Record) error {
				got = append(got, fmt.Sprintf("%d|%d|%s|%d|%d|%v|%s", r.org, r.Ts, r.ID, r.Rank, r.kind, r.primary, r.Line))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := closeRuns(); err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(recs, func(a, b Record) int { return CompareRecords(&a, &b) })
			want := make([]string, len(recs))
			for i, r := range recs {
				want[i] = fmt.Sprintf("%d|%d|%s|%d|%d|%v|%s", r.org, r.Ts, r.ID, r.Rank, r.kind, r.primary, r.Line)
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

// TestSortRecordsHoldTheIDOnce counts the bytes a sorter holds for records whose canonical
// line carries the message id, as every exported record's does: the id is not copied
// beside the line again (it was: 36 bytes of a UUID per record, in memory and in every
// spilled run), only where it is in the line.
func TestSortRecordsHoldTheIDOnce(t *testing.T) {
	s, err := newSorter(1<<20, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.release()
	const n = 1000
	id := "5d2e8f10-3c4b-4a6d-8e9f-0a1b2c3d4e5f"
	var lines int
	for i := range n {
		line := fmt.Appendf(nil, `{"eventType":"sent","chatId":"c","timestamp":%d,"eventTimestamp":%d,"messageId":"%s","n":%d}`, i, i, id, i)
		lines += len(line)
		if err := s.add(&Record{org: 1, Ts: int64(i), ID: []byte(id), Rank: 1, Line: line, primary: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Beyond its line, a record costs its 32-byte index entry and its key; with the id
	// copied beside the line that was 32+36 = 68 bytes.
	const entry = 32
	perRecord := (s.s.Held() - lines) / n
	t.Logf("%d bytes held per record beyond its line (id %d bytes)", perRecord, len(id))
	if perRecord >= entry+len(id) {
		t.Errorf("a record costs %d bytes beyond its line: the %d-byte id is still copied beside it", perRecord, len(id))
	}
	var got int
	m, closeRuns, _ := mergeSorters([]*sorter{s}, "")
	defer closeRuns()
	if err := m.each(func(r *Record) error {
		if string(r.ID) != id || r.org != 1 || r.Ts != int64(got) || r.Rank != 1 || !r.primary {
			t.Fatalf("record %d came back as org %d ts %d id %q rank %d primary %v", got, r.org, r.Ts, r.ID, r.Rank, r.primary)
		}
		got++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("%d records came back, want %d", got, n)
	}
	reliability.Record(t, "operations", "sort records of a seal", reliability.Kept,
		"TestSortRecordsHoldTheIDOnce: the message id is kept once, in the line, not copied beside it in memory and in spilled runs (a record held 68 bytes beyond its line, now 49)")
}
