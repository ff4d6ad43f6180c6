package verify

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// chainOf builds the links of a sound chain 1…n, each naming the one before.
func chainOf(n int) []link {
	var links []link
	prev := ""
	for seq := 1; seq <= n; seq++ {
		lk := link{key: fmt.Sprintf("m%d", seq), seq: int64(seq), readable: true, previous: prev}
		lk.sum = sha256.Sum256([]byte(lk.key))
		prev = hexSum(lk.sum)
		links = append(links, lk)
	}
	return links
}

// TestCheckChainSeqMap: the seq-map walk orders manifests by seq, whatever order their
// keys came in, and reports a gap, a broken link, a first manifest naming a previous one
// and a fork (two manifests with one seq, one previous named twice).
func TestCheckChainSeqMap(t *testing.T) {
	tests := []struct {
		name   string
		change func([]link) []link
		base   int64 // a checkpoint: the links continue seq base
		want   []string
	}{
		{"sound", func(l []link) []link { return l }, 0, nil},
		{"keys out of seq order", func(l []link) []link { slices.Reverse(l); return l }, 0, nil},
		{"gap", func(l []link) []link { return slices.Delete(l, 2, 3) }, 0, []string{"m4: chain gap: expected seq 3"}},
		{"broken link", func(l []link) []link { l[3].previous = hexSum(sha256.Sum256(nil)); return l }, 0, []string{"m4: previous is"}},
		{"first names a previous", func(l []link) []link { l[0].previous = "ab"; return l }, 0, []string{"m1: first manifest names a previous one"}},
		{"two manifests at one seq", func(l []link) []link {
			f := l[2]
			f.key, f.sum = "fork", sha256.Sum256([]byte("fork"))
			return append(l, f)
		}, 0, []string{"fork: 2 manifests have seq 3"}},
		{"one previous named twice", func(l []link) []link {
			l[4].previous = l[2].previous // seq 5 names seq 2, as seq 3 does
			return l
		}, 0, []string{"m5: previous is", "fork: it and m3 both name"}},
		{"unreadable manifest: no link checked through it", func(l []link) []link { l[2].readable = false; return l }, 0, nil},
		{"after a checkpoint", func(l []link) []link { return l[3:] }, 3, nil},
		{"after a checkpoint, gap", func(l []link) []link { return l[4:] }, 3, []string{"m5: chain gap: expected seq 4"}},
		{"after a checkpoint, an older seq", func(l []link) []link { return l[1:] }, 3, []string{"m2: seq 2 is not after the verified seq 3", "m3: seq 3 is not after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := chainOf(6)
			var base *link
			if tt.base > 0 {
				base = &all[tt.base-1]
			}
			links := tt.change(slices.Clone(all))
			rep := &Report{}
			c := (*state)(nil).beginOrg("org")
			c.checkChain(base, links, rep)
			for _, w := range tt.want {
				if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("problems %q, want one with %q", rep.Problems, w)
				}
			}
			if len(rep.Problems) != len(tt.want) {
				t.Errorf("problems %q, want %d", rep.Problems, len(tt.want))
			}
			if tt.want == nil && c.sum.headSeq != 6 {
				t.Errorf("head seq %d, want 6", c.sum.headSeq)
			}
		})
	}
	reliability.Record(t, "security", "a chain with a gap, a broken link or a fork (two manifests at one seq, one previous named twice), in any key order", reliability.CleanFailure,
		"verify orders an organization's manifests by seq (the seq-map walk) and reports each as a problem")
}
