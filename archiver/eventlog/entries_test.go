package eventlog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestUnreadEntriesFailTheScan puts in a closed partition, beside a good event file, every
// kind of entry the reader does not read. Each must fail the scan with an error naming it
// (and every other such entry), because sealing the day without it would lose its lines
// without a word.
func TestUnreadEntriesFailTheScan(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, part string)
		want  []string // in the error
	}{
		{"event file with an upper-case suffix (part-0002.JSONL)", func(t *testing.T, part string) {
			write(t, part, "part-0002.JSONL", "{\"a\":2}\n")
		}, []string{"part-0002.JSONL", "lowercase"}},
		{"JSON file that is not JSON Lines (part-3.json.gz)", func(t *testing.T, part string) {
			write(t, part, "part-3.json.gz", "x")
		}, []string{"part-3.json.gz"}},
		{"subfolder with event files", func(t *testing.T, part string) {
			write(t, part, "sub/part-4.jsonl", "{\"a\":4}\n")
		}, []string{"sub/", "folder"}},
		{"empty subfolder", func(t *testing.T, part string) {
			if err := os.Mkdir(filepath.Join(part, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"empty/", "folder"}},
		{"folder named like an event file", func(t *testing.T, part string) {
			if err := os.Mkdir(filepath.Join(part, "part-5.jsonl"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"part-5.jsonl/", "folder"}},
		{"hidden editor swap file (.part-1.jsonl.swp)", func(t *testing.T, part string) {
			write(t, part, ".part-1.jsonl.swp", "x")
		}, []string{".part-1.jsonl.swp", "hidden"}},
		{"hidden event file (.part-9.jsonl)", func(t *testing.T, part string) {
			write(t, part, ".part-9.jsonl", "{\"a\":9}\n")
		}, []string{".part-9.jsonl", "hidden"}},
		{".DS_Store", func(t *testing.T, part string) {
			write(t, part, ".DS_Store", "x")
		}, []string{".DS_Store"}},
		{"_CLOSED as a folder", func(t *testing.T, part string) {
			if err := os.Remove(filepath.Join(part, "_CLOSED")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(part, "_CLOSED"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"_CLOSED/", "folder"}},
		{"_closed in the wrong case", func(t *testing.T, part string) {
			write(t, part, "_closed", "")
		}, []string{"_closed", "case"}},
		{"_SUCCESS marker", func(t *testing.T, part string) {
			write(t, part, "_SUCCESS", "")
		}, []string{"_SUCCESS"}},
		{"side file with a space in its name", func(t *testing.T, part string) {
			write(t, part, "read me.txt", "x")
		}, []string{`"2026-11-22/read me.txt"`}},
		{"name with a byte that is not UTF-8", func(t *testing.T, part string) {
			write(t, part, "notes-\xff.txt", "x")
		}, []string{`notes-\xff.txt`}},
		{"event file whose name is not UTF-8", func(t *testing.T, part string) {
			write(t, part, "part-\xff.jsonl", "{\"a\":2}\n")
		}, []string{`part-\xff.jsonl`, "not valid UTF-8"}},
		{"symlink to a folder, named like an event file", func(t *testing.T, part string) {
			if err := os.Mkdir(filepath.Join(part, "..", "elsewhere"), 0o755); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../elsewhere", filepath.Join(part, "link.jsonl"))
		}, []string{"link.jsonl", "folder"}},
		{"dangling symlink named like an event file", func(t *testing.T, part string) {
			symlink(t, "nowhere.jsonl", filepath.Join(part, "gone.jsonl"))
		}, []string{"gone.jsonl"}},
		{"named pipe named like an event file", func(t *testing.T, part string) {
			if err := syscall.Mkfifo(filepath.Join(part, "fifo.jsonl"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, []string{"fifo.jsonl", "not a regular file"}},
		{"several at once, all named", func(t *testing.T, part string) {
			write(t, part, "part-0002.JSONL", "{\"a\":2}\n")
			write(t, part, "_SUCCESS", "")
			write(t, part, "sub/x.jsonl", "{}\n")
		}, []string{"part-0002.JSONL", "_SUCCESS", "sub/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			d := writeTree(t, root, map[string][]byte{
				testDay + "/part-0001.jsonl": []byte("{\"a\":1}\n"),
				testDay + "/_CLOSED":         nil,
			})
			tt.setup(t, filepath.Join(root, testDay))
			_, err := scanAll(t.Context(), t, d, testDay)
			if err == nil {
				t.Fatal("Scan succeeded: the day would be sealed without the entry")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Scan error %q does not say %q", err, w)
				}
			}
			reliability.Record(t, "input", "partition entry that is not read: "+tt.name, reliability.CleanFailure,
				"the run fails naming every such entry; nothing is sealed (list side files in export.ignoreFiles)")
		})
	}
}

// TestEventFileNames reads event files whose names hold spaces, quotes and characters
// beyond ASCII: a name is any UTF-8 with the suffix.
func TestEventFileNames(t *testing.T) {
	names := []string{"part 0001.jsonl", "part-\"2\".jsonl", "partie-été.jsonl.gz", "part-\t3.jsonl"}
	files := map[string][]byte{testDay + "/_CLOSED": nil}
	var want []string
	for _, n := range names {
		data := []byte("{}\n")
		if strings.HasSuffix(n, ".gz") {
			data = gzipped(t, "{}\n")
		}
		files[testDay+"/"+n] = data
		want = append(want, testDay+"/"+n)
	}
	d := writeTree(t, t.TempDir(), files)
	lines, err := scanAll(t.Context(), t, d, testDay)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.File)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
	reliability.Record(t, "input", "event files named with spaces, quotes, tabs, accents", reliability.Kept,
		"read like any other; a name that is not UTF-8 is refused instead, naming it")
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIgnoredFiles lists side files in Dir.Ignore. A file a pattern names is not read as
// events but hashed, and Scan returns its size and SHA-256; a pattern never hides an event
// file or _CLOSED, and never a folder or a name a manifest cannot record.
func TestIgnoredFiles(t *testing.T) {
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	ign := func(name, data string) archiver.IgnoredFile {
		return archiver.IgnoredFile{Name: testDay + "/" + name, Size: int64(len(data)), SHA256: sum(data)}
	}
	tests := []struct {
		name    string
		ignore  []string
		setup   func(t *testing.T, part string)
		ignored []archiver.IgnoredFile
		unread  []string // entries that fail the scan, in its error
	}{
		{"_SUCCESS marker", []string{"_SUCCESS"}, func(t *testing.T, part string) {
			write(t, part, "_SUCCESS", "")
		}, []archiver.IgnoredFile{ign("_SUCCESS", "")}, nil},
		{"hidden files by .*", []string{".*"}, func(t *testing.T, part string) {
			write(t, part, ".DS_Store", "finder")
			write(t, part, ".part-1.jsonl.swp", "vim")
		}, []archiver.IgnoredFile{ign(".DS_Store", "finder"), ign(".part-1.jsonl.swp", "vim")}, nil},
		{"name with a space, by *.txt", []string{"*.txt"}, func(t *testing.T, part string) {
			write(t, part, "read me.txt", "notes\n")
		}, []archiver.IgnoredFile{ign("read me.txt", "notes\n")}, nil},
		{"symlink to a file inside the event log", []string{"manifest.csv"}, func(t *testing.T, part string) {
			write(t, part, "../shared/m.csv", "a,b\n")
			symlink(t, "../shared/m.csv", filepath.Join(part, "manifest.csv"))
		}, []archiver.IgnoredFile{ign("manifest.csv", "a,b\n")}, nil},
		{"* hides no event file and not _CLOSED", []string{"*"}, func(t *testing.T, part string) {
			write(t, part, "part-0002.jsonl", "{\"a\":2}\n")
			write(t, part, "x.bin", "\x00")
		}, []archiver.IgnoredFile{ign("x.bin", "\x00")}, nil},
		{"a folder is never ignored", []string{"sub"}, func(t *testing.T, part string) {
			write(t, part, "sub/part-4.jsonl", "{}\n")
		}, nil, []string{"sub/", "only files can be ignored"}},
		{"an empty folder is never ignored", []string{"*"}, func(t *testing.T, part string) {
			if err := os.Mkdir(filepath.Join(part, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, nil, []string{"empty/", "only files can be ignored"}},
		{"a name that is not UTF-8 is never ignored", []string{"*.txt"}, func(t *testing.T, part string) {
			write(t, part, "notes-\xff.txt", "x")
		}, nil, []string{`notes-\xff.txt`, "not valid UTF-8"}},
		{"a pattern matches the whole name", []string{"_SUCC"}, func(t *testing.T, part string) {
			write(t, part, "_SUCCESS", "")
		}, nil, []string{"_SUCCESS"}},
		{"ignored and unread together: the unread fail the scan", []string{"_SUCCESS"}, func(t *testing.T, part string) {
			write(t, part, "_SUCCESS", "")
			write(t, part, "part-0002.JSONL", "{}\n")
		}, nil, []string{"part-0002.JSONL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			d := writeTree(t, root, map[string][]byte{
				testDay + "/part-0001.jsonl": []byte("{\"a\":1}\n"),
				testDay + "/_CLOSED":         nil,
			})
			d.Ignore = tt.ignore
			tt.setup(t, filepath.Join(root, testDay))
			p, err := d.Stat(t.Context(), day(t, testDay))
			if err != nil || !p.Closed {
				t.Fatalf("Stat = %+v, %v; want a closed partition", p, err)
			}
			var lines []string
			ignored, err := d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
				lines = append(lines, l.File+":"+string(l.Bytes))
				return nil
			})
			if tt.unread != nil {
				if !errors.Is(err, archiver.ErrUnreadEntries) || len(lines) != 0 {
					t.Fatalf("Scan delivered %q, error %v; want nothing and ErrUnreadEntries", lines, err)
				}
				for _, w := range tt.unread {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Scan error %q does not say %q", err, w)
					}
				}
				reliability.Record(t, "input", "export.ignoreFiles: "+tt.name, reliability.CleanFailure,
					"the run fails naming the entry; nothing is sealed")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ignored, tt.ignored) {
				t.Errorf("ignored = %+v, want %+v", ignored, tt.ignored)
			}
			var want []string
			for _, f := range tt.ignored {
				want = append(want, f.Name)
			}
			if !slices.Equal(p.Ignored, want) {
				t.Errorf("Stat lists ignored %q, want %q", p.Ignored, want)
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, testDay+"/part-") {
					t.Errorf("Scan read %q, which is no event file", l)
				}
			}
			reliability.Record(t, "input", "export.ignoreFiles: "+tt.name, reliability.Kept,
				"not read as events; its name, size and SHA-256 go to every manifest of the day; event files are read all the same")
		})
	}
}

func TestIgnorePatternsChecked(t *testing.T) {
	for _, p := range []string{"[", "a/b", "", "\\"} {
		d := writeTree(t, t.TempDir(), map[string][]byte{testDay + "/a.jsonl": nil})
		d.Ignore = []string{"ok", p}
		if _, err := d.Stat(t.Context(), day(t, testDay)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("Stat with pattern %q: error %v, want one naming it", p, err)
		}
	}
}
