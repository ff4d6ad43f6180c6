package eventlog_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestSnapshotCapped: the directory snapshot of a folder event log was read whole with
// no bound (os.ReadFile), where the S3 one is capped: a snapshot of several GiB, or a
// link to /dev/zero, was read until the kernel killed the process, and a named pipe with
// no writer blocked the command for ever (it then ignored SIGTERM). Each way of reading
// it (whole, as a stream for `run --date`, through the event log's root) refuses a
// snapshot over its cap before reading it (an ObjectTooLargeError naming it), and one
// that is not a regular file before opening it (ErrNotRegular); a snapshot within the
// cap reads as before. The pipe is opened by no one else: a refusal that opened it would
// hang here.
func TestSnapshotCapped(t *testing.T) {
	dir := t.TempDir()
	small := []byte(`{"organizations":[]}`)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("directory.json", small)
	// Sparse: 3 MiB of zeros that take no disk, over a cap of 1 MiB.
	if f, err := os.Create(filepath.Join(dir, "big.json")); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(3 << 20); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.json")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	const max = 1 << 20
	readers := map[string]func(name string) ([]byte, error){
		"ReadSnapshot": func(name string) ([]byte, error) { return eventlog.ReadSnapshot(filepath.Join(dir, name), max) },
		"OpenSnapshot": func(name string) ([]byte, error) {
			rc, err := eventlog.OpenSnapshot(filepath.Join(dir, name), max)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		},
		"Dir.ReadFile": func(name string) ([]byte, error) {
			d, err := eventlog.NewDir(dir)
			if err != nil {
				return nil, err
			}
			d.MaxSnapshotBytes = max
			return d.ReadFile(t.Context(), name)
		},
	}
	for rname, read := range readers {
		for _, tc := range []struct {
			name       string
			tooLarge   bool
			notRegular bool
		}{
			{"directory.json", false, false},
			{"big.json", true, false},
			{"zero.json", false, true},
			{"pipe.json", false, true},
		} {
			t.Run(rname+"/"+tc.name, func(t *testing.T) {
				b, err := read(tc.name)
				switch {
				case tc.tooLarge:
					var tl *archiver.ObjectTooLargeError
					if !errors.As(err, &tl) || tl.Cap != max || !strings.HasSuffix(tl.Key, tc.name) {
						t.Fatalf("%d bytes, %v; want an ObjectTooLargeError naming %s with cap %d", len(b), err, tc.name, max)
					}
				case tc.notRegular && rname == "Dir.ReadFile" && tc.name == "zero.json":
					// The event log's root refuses a link out of it before its target is seen.
					if err == nil || !strings.Contains(err.Error(), tc.name) {
						t.Fatalf("%d bytes, %v; want an error naming %s", len(b), err, tc.name)
					}
				case tc.notRegular:
					if !errors.Is(err, eventlog.ErrNotRegular) || !strings.Contains(err.Error(), tc.name) {
						t.Fatalf("%d bytes, %v; want ErrNotRegular naming %s", len(b), err, tc.name)
					}
				default:
					if err != nil || string(b) != string(small) {
						t.Fatalf("%q, %v; want %q", b, err, small)
					}
				}
			})
		}
	}
	reliability.Record(t, "input", "folder event log's directory snapshot huge (past directory.maxSize), a link to /dev/zero, or a named pipe", reliability.CleanFailure,
		"refused before it is read (its size) or opened (not a regular file: a pipe no longer blocks the command), the error naming the file and the cap; one within the cap reads as before")
}

// TestSnapshotGrowsPastCap: a snapshot within its cap when opened that grows past it
// while `run --date` decodes it as a stream fails at the cap, not at its end.
func TestSnapshotGrowsPastCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.json")
	if err := os.WriteFile(path, []byte(strings.Repeat(" ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := eventlog.OpenSnapshot(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(strings.Repeat(" ", 5000))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	n, err := io.Copy(io.Discard, rc)
	var tl *archiver.ObjectTooLargeError
	if !errors.As(err, &tl) || n > 1001 {
		t.Fatalf("read %d bytes, %v; want at most 1001 and an ObjectTooLargeError", n, err)
	}
}
