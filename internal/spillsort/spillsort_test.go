package spillsort

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
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
			if err := s.Iterate(func(k, v []byte) error {
				got = append(got, rec{string(k), string(v)})
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
