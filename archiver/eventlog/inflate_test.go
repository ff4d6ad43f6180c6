package eventlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestGzipInflatedAhead: while Scan delivers the lines of one file, the next gzipped file
// is already being inflated, on its own goroutine: the callback for the first file's
// first line waits until the next file's first inflated bytes are ready, which a scan
// that inflates one file after the other never gets to (it fails after a deadline far
// beyond what inflating a few KiB takes). The lines delivered are the same, in order.
func TestGzipInflatedAhead(t *testing.T) {
	var plain, zipped strings.Builder
	for i := range 200 {
		fmt.Fprintf(&plain, "{\"n\":%d}\n", i)
		fmt.Fprintf(&zipped, "{\"n\":%d}\n", 1000+i)
	}
	d := writeTree(t, filepath.Join(t.TempDir(), "log"), map[string][]byte{
		testDay + "/part-0001.jsonl":    []byte(plain.String()),
		testDay + "/part-0002.jsonl.gz": gzipped(t, zipped.String()),
		testDay + "/part-0003.jsonl.gz": gzipped(t, plain.String()),
	})
	ready := make(chan string, 16)
	inflateHook = func(name string) {
		select {
		case ready <- name:
		default:
		}
	}
	defer func() { inflateHook = nil }()
	var got []string
	var waited bool
	_, err := d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
		if !waited {
			waited = true
			deadline := time.After(10 * time.Second)
			for name := ""; name != testDay+"/part-0002.jsonl.gz"; {
				select {
				case name = <-ready:
				case <-deadline:
					return fmt.Errorf("the next gzipped file was not inflated while %s was read", l.File)
				}
			}
		}
		got = append(got, l.File+":"+string(l.Bytes))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 600 || got[0] != testDay+"/part-0001.jsonl:{\"n\":0}" || got[200] != testDay+"/part-0002.jsonl.gz:{\"n\":1000}" ||
		got[599] != testDay+"/part-0003.jsonl.gz:{\"n\":199}" {
		t.Fatalf("%d lines, not the files' lines in order: %q … %q", len(got), got[:min(3, len(got))], got[max(0, len(got)-3):])
	}
	reliability.Record(t, "operations", "gzipped event files", reliability.Kept,
		"TestGzipInflatedAhead: the next gzipped event file is inflated on its own goroutine while the lines of the one before are read; the lines delivered are the same, in order")
}

// TestGzipInflatedOnce: a scan of several gzipped files inflates each exactly once (the
// inflater started ahead is the one its file is read through), and when it returns, every
// inflating goroutine has ended and every file it opened is closed, also when the
// callback stops the scan early.
func TestGzipInflatedOnce(t *testing.T) {
	files := map[string][]byte{}
	var names []string
	for i := range 5 {
		var b strings.Builder
		for j := range 100 {
			fmt.Fprintf(&b, "{\"f\":%d,\"n\":%d}\n", i, j)
		}
		name := fmt.Sprintf("%s/part-%04d.jsonl.gz", testDay, i)
		names = append(names, name)
		files[name] = gzipped(t, b.String())
	}
	files[testDay+"/part-0002.jsonl"] = []byte("{\"plain\":1}\n") // a plain file between them
	d := writeTree(t, filepath.Join(t.TempDir(), "log"), files)
	for _, stopAt := range []int{-1, 0, 150} {
		inflated := map[string]int{}
		var mu sync.Mutex
		inflateHook = func(name string) {
			mu.Lock()
			inflated[name]++
			mu.Unlock()
		}
		goroutines, fds := runtime.NumGoroutine(), openFiles(t)
		n := 0
		_, err := d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
			if n == stopAt {
				return errors.New("stop")
			}
			n++
			return nil
		})
		inflateHook = nil
		if (err != nil) != (stopAt >= 0) {
			t.Fatalf("stop at %d: %v", stopAt, err)
		}
		if stopAt < 0 {
			if n != 501 {
				t.Fatalf("%d lines, want 501", n)
			}
			for _, name := range names {
				if inflated[name] != 1 {
					t.Errorf("%s was inflated %d times, want once", name, inflated[name])
				}
			}
		}
		for name, k := range inflated {
			if k > 1 {
				t.Errorf("stop at %d: %s was inflated %d times", stopAt, name, k)
			}
		}
		if g := goroutinesDownTo(goroutines); g > goroutines {
			t.Errorf("stop at %d: %d goroutines after the scan, %d before: an inflater is still running", stopAt, g, goroutines)
		}
		if f := openFiles(t); f > fds {
			t.Errorf("stop at %d: %d files open after the scan, %d before", stopAt, f, fds)
		}
	}
}

// goroutinesDownTo returns the number of goroutines once it is at most want, or after
// ten seconds. A goroutine that has done its work may not have exited the instant Scan
// returns (the race detector's and the runtime's own come and go too, under load); one
// that is still inflating never gets there.
func goroutinesDownTo(want int) int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := runtime.NumGoroutine()
		if g <= want || time.Now().After(deadline) {
			return g
		}
		runtime.Gosched()
	}
}

// openFiles counts the process's open file descriptors (Linux), or returns 0.
func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(entries)
}
