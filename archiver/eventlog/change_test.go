package eventlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestScanDetectsChanges changes the partition while Scan reads its first file. Every
// change must fail the scan with ErrPartitionChanged naming the file, because what was
// read may be a view of the day that never existed (half of a file, two versions mixed).
// Reading the same partition untouched succeeds.
func TestScanDetectsChanges(t *testing.T) {
	files := map[string][]byte{
		testDay + "/part-0001.jsonl": []byte("{\"a\":1}\n{\"a\":2}\n"),
		testDay + "/part-0002.jsonl": []byte("{\"b\":1}\n"),
		testDay + "/_SUCCESS":        []byte("ok\n"),
	}
	tests := []struct {
		name   string
		change func(t *testing.T, part string)
		want   string
	}{
		{"untouched", func(*testing.T, string) {}, ""},
		{"file being read appended to", func(t *testing.T, part string) {
			appendFile(t, filepath.Join(part, "part-0001.jsonl"), "{\"a\":3}\n")
		}, "part-0001.jsonl went from 16 to 24 bytes"},
		{"file not read yet appended to", func(t *testing.T, part string) {
			appendFile(t, filepath.Join(part, "part-0002.jsonl"), "{\"b\":2}\n")
		}, "part-0002.jsonl"},
		{"file not read yet replaced", func(t *testing.T, part string) {
			tmp := filepath.Join(part, ".tmp")
			if err := os.WriteFile(tmp, []byte("{\"c\":1}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(part, "part-0002.jsonl")); err != nil {
				t.Fatal(err)
			}
		}, "part-0002.jsonl was replaced"},
		{"file rewritten in place, same size", func(t *testing.T, part string) {
			name := filepath.Join(part, "part-0001.jsonl")
			if err := os.WriteFile(name, []byte("{\"a\":8}\n{\"a\":9}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Make sure the clock moved, whatever the file system's time resolution.
			later := time.Now().Add(time.Second)
			if err := os.Chtimes(name, later, later); err != nil {
				t.Fatal(err)
			}
		}, "part-0001.jsonl was modified"},
		{"file added", func(t *testing.T, part string) {
			appendFile(t, filepath.Join(part, "part-0003.jsonl"), "{\"d\":1}\n")
		}, "part-0003.jsonl"},
		{"ignored file appended to", func(t *testing.T, part string) {
			appendFile(t, filepath.Join(part, "_SUCCESS"), "more\n")
		}, "_SUCCESS went from 3 to 8 bytes"},
		{"ignored file replaced", func(t *testing.T, part string) {
			if err := os.Remove(filepath.Join(part, "_SUCCESS")); err != nil {
				t.Fatal(err)
			}
			appendFile(t, filepath.Join(part, "_SUCCESS"), "ok\n")
		}, "_SUCCESS"},
		{"ignored file removed", func(t *testing.T, part string) {
			if err := os.Remove(filepath.Join(part, "_SUCCESS")); err != nil {
				t.Fatal(err)
			}
		}, "_SUCCESS"},
		{"ignored file added", func(t *testing.T, part string) {
			appendFile(t, filepath.Join(part, "notes.txt"), "late\n")
		}, "notes.txt"},
		{"unread file added", func(t *testing.T, part string) {
			appendFile(t, filepath.Join(part, "part-0003.JSONL"), "{}\n")
		}, "part-0003.JSONL"},
		{"file removed", func(t *testing.T, part string) {
			if err := os.Remove(filepath.Join(part, "part-0002.jsonl")); err != nil {
				t.Fatal(err)
			}
		}, "part-0002.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			d := writeTree(t, root, files)
			d.Ignore = []string{"_SUCCESS", "*.txt"}
			changed := false
			_, err := d.Scan(context.Background(), day(t, testDay), func(archiver.Line) error {
				if !changed {
					changed = true
					tt.change(t, filepath.Join(root, testDay))
				}
				return nil
			})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Scan = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrPartitionChanged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Scan = %v, want ErrPartitionChanged naming %q", err, tt.want)
			}
			if strings.Contains(tt.name, "ignored") || strings.Contains(tt.name, "unread") {
				reliability.Record(t, "input", "partition changed while read: "+tt.name, reliability.CleanFailure,
					"ErrPartitionChanged naming it; nothing is sealed, a later run reads the partition as it then is")
			}
		})
	}
}

func appendFile(t *testing.T, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
