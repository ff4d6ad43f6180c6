package eventlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// concurrentTree writes a partition of plain and gzipped files of n lines each.
func concurrentTree(t *testing.T, n int) *Dir {
	t.Helper()
	files := map[string][]byte{testDay + "/_CLOSED": nil}
	for i, name := range []string{"a.jsonl", "b.jsonl.gz", "c.jsonl", "d.jsonl.gz", "e.jsonl"} {
		var b strings.Builder
		for j := range n {
			fmt.Fprintf(&b, `{"f":%d,"l":%d}`+"\n", i, j)
		}
		if strings.HasSuffix(name, ".gz") {
			files[testDay+"/"+name] = gzipped(t, b.String())
		} else {
			files[testDay+"/"+name] = []byte(b.String())
		}
	}
	return writeTree(t, t.TempDir(), files)
}

// TestScanConcurrentOverlapsFiles: with two readers, a gzipped file is read while a plain
// file is: the scan delivers a line of b.jsonl.gz before a.jsonl's first line has been
// handed back. Read in turn (Scan), a.jsonl would have to be finished first, which a
// blocked fn never lets happen: the test then fails at its deadline.
func TestScanConcurrentOverlapsFiles(t *testing.T) {
	d := concurrentTree(t, 2000)
	seenB := make(chan struct{})
	var once sync.Once
	overlapped := false
	_, err := d.ScanConcurrent(context.Background(), day(t, testDay), 2, func(r int, l archiver.Line) error {
		switch {
		case strings.HasSuffix(l.File, "b.jsonl.gz"):
			once.Do(func() { close(seenB) })
		case strings.HasSuffix(l.File, "a.jsonl") && l.Number == 1:
			select {
			case <-seenB:
				overlapped = true
			case <-time.After(30 * time.Second):
				return errors.New("no line of b.jsonl.gz while a.jsonl's first line was held: the files are read in turn")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !overlapped {
		t.Fatal("a.jsonl's first line never came")
	}
	reliability.Record(t, "operations", "partition of plain and gzipped files read by the seal", reliability.Kept,
		"two files read at once, so a gzipped file inflates on one core while another file's lines are decoded")
}

// TestScanConcurrentSameLines: the concurrent scan delivers the lines Scan does, each
// file's in order and from one reader, and returns an error from fn unchanged.
func TestScanConcurrentSameLines(t *testing.T) {
	d := concurrentTree(t, 3000)
	want, err := scanAll(context.Background(), t, d, testDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, readers := range []int{1, 2, 3, 8} {
		var mu sync.Mutex
		var lines []got
		readerOf := map[string]int{}
		last := map[string]int64{}
		_, err := d.ScanConcurrent(context.Background(), day(t, testDay), readers, func(r int, l archiver.Line) error {
			mu.Lock()
			defer mu.Unlock()
			if r < 0 || r >= readers {
				return fmt.Errorf("reader %d of %d", r, readers)
			}
			if was, ok := readerOf[l.File]; ok && was != r {
				return fmt.Errorf("%s read by readers %d and %d", l.File, was, r)
			}
			readerOf[l.File] = r
			if l.Number != last[l.File]+1 {
				return fmt.Errorf("%s: line %d after %d", l.File, l.Number, last[l.File])
			}
			last[l.File] = l.Number
			lines = append(lines, got{File: l.File, Number: l.Number, Text: string(l.Bytes)})
			return nil
		})
		if err != nil {
			t.Fatalf("%d readers: %v", readers, err)
		}
		slices.SortStableFunc(lines, func(a, b got) int { return strings.Compare(a.File, b.File) })
		if !slices.Equal(lines, want) {
			t.Fatalf("%d readers: %d lines, Scan %d, or not the same", readers, len(lines), len(want))
		}
	}
	stop := errors.New("stop")
	if _, err := d.ScanConcurrent(context.Background(), day(t, testDay), 2, func(int, archiver.Line) error { return stop }); err != stop {
		t.Fatalf("fn's error came back as %v", err)
	}
}

// TestReadOrder: concurrent readers take the costliest files first, a gzipped file
// counting eight times its size, ties in the partition's order.
func TestReadOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		sizes []int64
		want  []int
	}{
		{"plain by size", []string{"a.jsonl", "b.jsonl", "c.jsonl"}, []int64{10, 30, 20}, []int{1, 2, 0}},
		{"gzipped first", []string{"a.jsonl", "b.jsonl.gz", "c.jsonl", "d.jsonl.gz"}, []int64{100, 30, 100, 30}, []int{1, 3, 0, 2}},
		{"a large plain file before a small gzipped one", []string{"a.jsonl.gz", "b.jsonl"}, []int64{10, 100}, []int{1, 0}},
		{"ties keep the partition's order", []string{"a.jsonl", "b.jsonl", "c.jsonl"}, []int64{5, 5, 5}, []int{0, 1, 2}},
		{"none", nil, nil, []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			infos := make([]fs.FileInfo, len(tc.sizes))
			for i, n := range tc.sizes {
				infos[i] = sizedInfo(n)
			}
			if got := readOrder(tc.files, infos); !slices.Equal(got, tc.want) {
				t.Fatalf("readOrder = %v, want %v", got, tc.want)
			}
		})
	}
}

type sizedInfo int64

func (s sizedInfo) Name() string       { return "" }
func (s sizedInfo) Size() int64        { return int64(s) }
func (s sizedInfo) Mode() fs.FileMode  { return 0 }
func (s sizedInfo) ModTime() time.Time { return time.Time{} }
func (s sizedInfo) IsDir() bool        { return false }
func (s sizedInfo) Sys() any           { return nil }

// TestScanConcurrentGzippedFirst: two readers begin with the two gzipped files, whatever
// their place in the partition, so that neither is left inflating alone at the end. Each
// reader's first line waits until both readers have one, so the first two files are
// those the readers took first.
func TestScanConcurrentGzippedFirst(t *testing.T) {
	d := concurrentTree(t, 500)
	var mu sync.Mutex
	first := map[int]string{}
	both := make(chan struct{})
	_, err := d.ScanConcurrent(context.Background(), day(t, testDay), 2, func(r int, l archiver.Line) error {
		mu.Lock()
		_, seen := first[r]
		if !seen {
			first[r] = l.File
			if len(first) == 2 {
				close(both)
			}
		}
		mu.Unlock()
		if !seen {
			select {
			case <-both:
			case <-time.After(30 * time.Second):
				return errors.New("the other reader delivered no line")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{first[0], first[1]}
	slices.Sort(got)
	if want := []string{testDay + "/b.jsonl.gz", testDay + "/d.jsonl.gz"}; !slices.Equal(got, want) {
		t.Fatalf("the readers began with %q, want %q", got, want)
	}
}
