package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/klauspost/compress/gzip"
)

const testDay = "2026-11-22"

// got is what a test keeps of a delivered line.
type got struct {
	File    string
	Number  int64
	Text    string
	TooLong bool
}

func (g got) String() string {
	return fmt.Sprintf("%s:%d:%q(tooLong=%t)", g.File, g.Number, g.Text, g.TooLong)
}

func day(t testing.TB, s string) archiver.Day {
	t.Helper()
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// writeTree writes files (names relative to root, "/"-separated) and returns a Dir on root.
func writeTree(t testing.TB, root string, files map[string][]byte) *Dir {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func scanAll(ctx context.Context, t testing.TB, d *Dir, dayName string) ([]got, error) {
	t.Helper()
	var lines []got
	_, err := d.Scan(ctx, day(t, dayName), func(l archiver.Line) error {
		if l.Err != nil && !errors.Is(l.Err, ErrLineTooLong) {
			t.Errorf("line %s:%d: unexpected Err %v", l.File, l.Number, l.Err)
		}
		lines = append(lines, got{l.File, l.Number, string(l.Bytes), l.Err != nil})
		return nil
	})
	return lines, err
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func TestScanLines(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name    string
		content string
		max     int // MaxLineBytes; 0 means the default
		want    []got
	}{
		{"empty file", "", 0, nil},
		{"lf", "a\nb\n", 0, []got{{"", 1, "a", false}, {"", 2, "b", false}}},
		{"crlf", "a\r\nb\r\n", 0, []got{{"", 1, "a", false}, {"", 2, "b", false}}},
		{"no final newline", "a\nb", 0, []got{{"", 1, "a", false}, {"", 2, "b", false}}},
		{"final cr without newline", "a\r\nb\r", 0, []got{{"", 1, "a", false}, {"", 2, "b", false}}},
		{"inner cr kept", "a\rb\n\rx\r\r\n\r\r\n", 0, []got{{"", 1, "a\rb", false}, {"", 2, "\rx\r", false}}},
		{"bom stripped", "\xEF\xBB\xBF{}\n{}\n", 0, []got{{"", 1, "{}", false}, {"", 2, "{}", false}}},
		{"bom only at file start", "a\n\xEF\xBB\xBFb\n", 0, []got{{"", 1, "a", false}, {"", 2, "\xEF\xBB\xBFb", false}}},
		{"bom only", "\xEF\xBB\xBF", 0, nil},
		{"short file", "{", 0, []got{{"", 1, "{", false}}},
		{"blank lines skipped but counted", "\n\na\n \t\r\n\r\nb\n\n", 0,
			[]got{{"", 3, "a", false}, {"", 6, "b", false}}},
		// With the 16-byte test buffer these cross the buffer boundary: 15 bytes plus "\n"
		// fill it exactly, the others need assembling.
		{"buffer boundary", x(15) + "\n" + x(16) + "\n" + x(17) + "\r\n" + x(33), 0, []got{
			{"", 1, x(15), false}, {"", 2, x(16), false}, {"", 3, x(17), false}, {"", 4, x(33), false}}},
		{"too long", "short\n" + x(17) + "\nafter\n", 16, []got{
			{"", 1, "short", false}, {"", 2, x(16), true}, {"", 3, "after", false}}},
		{"too long crlf", x(17) + "\r\nz\r\n", 16, []got{{"", 1, x(16), true}, {"", 2, "z", false}}},
		{"much too long", x(1000) + "\n\nz\n", 16, []got{{"", 1, x(16), true}, {"", 3, "z", false}}},
		{"too long final line", "a\n" + x(100), 16, []got{{"", 1, "a", false}, {"", 2, x(16), true}}},
		{"too long blank line", strings.Repeat(" ", 40) + "\nz\n", 16, []got{
			{"", 1, strings.Repeat(" ", 16), true}, {"", 2, "z", false}}},
		{"exactly max crlf", x(16) + "\r\nz", 16, []got{{"", 1, x(16), false}, {"", 2, "z", false}}},
		{"exactly max lf", x(16) + "\nz", 16, []got{{"", 1, x(16), false}, {"", 2, "z", false}}},
		{"exactly max final", x(16), 16, []got{{"", 1, x(16), false}}},
		{"exactly max final cr", x(16) + "\r", 16, []got{{"", 1, x(16), false}}},
		{"exactly max after bom", "\xEF\xBB\xBF" + x(16) + "\n", 16, []got{{"", 1, x(16), false}}},
		// With the 16-byte buffer, the "\r" ends one read and the "\n" is the next: the
		// hash of the too long line must still leave the ending out.
		{"too long, cr at the buffer's edge", x(31) + "\r\nz\n", 4, []got{{"", 1, x(4), true}, {"", 2, "z", false}}},
		{"max plus cr is too long", x(16) + "y\r\n", 16, []got{{"", 1, x(16), true}}},
	}
	for _, tt := range tests {
		for _, gz := range []bool{false, true} {
			for _, bufSize := range []int{0, 16} {
				name := fmt.Sprintf("%s/gz=%t/buf=%d", tt.name, gz, bufSize)
				t.Run(name, func(t *testing.T) {
					file, data := testDay+"/part-1.jsonl", []byte(tt.content)
					if gz {
						file, data = file+".gz", gzipped(t, tt.content)
					}
					d := writeTree(t, t.TempDir(), map[string][]byte{file: data})
					d.MaxLineBytes, d.bufSize = tt.max, bufSize
					lines, err := scanAll(t.Context(), t, d, testDay)
					if err != nil {
						t.Fatal(err)
					}
					want := slices.Clone(tt.want)
					for i := range want {
						want[i].File = file
					}
					if !slices.Equal(lines, want) {
						t.Errorf("lines\n got %v\nwant %v", lines, want)
					}
					// And against the reference splitter, with sizes and hashes.
					var all []archiver.Line
					_, err = d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
						l.Bytes = bytes.Clone(l.Bytes)
						all = append(all, l)
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					checkLines(t, file, []byte(tt.content), d.maxLineBytes(), all)
				})
			}
		}
	}
}

func TestScanTooLongError(t *testing.T) {
	tests := []struct {
		max  int
		want string
	}{
		{0, "line of 67108865 bytes exceeds the 64 MiB limit"},
		{16, "line of 17 bytes exceeds the 16 B limit"},
		{4 << 10, "line of 4097 bytes exceeds the 4 KiB limit"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			limit := tt.max
			if limit == 0 {
				limit = DefaultMaxLineBytes
			}
			content := strings.Repeat("x", limit+1) + "\n"
			d := writeTree(t, t.TempDir(), map[string][]byte{testDay + "/a.jsonl": []byte(content)})
			d.MaxLineBytes = tt.max
			var lineErr error
			_, err := d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
				lineErr = l.Err
				if want := min(limit, TooLongHeadBytes); len(l.Bytes) != want {
					t.Errorf("len(Bytes) = %d, want %d", len(l.Bytes), want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if lineErr == nil || lineErr.Error() != tt.want || !errors.Is(lineErr, ErrLineTooLong) {
				t.Errorf("Line.Err = %v, want %q matching ErrLineTooLong", lineErr, tt.want)
			}
		})
	}
}

func TestScanFileOrder(t *testing.T) {
	d := writeTree(t, t.TempDir(), map[string][]byte{
		testDay + "/part-0002.jsonl":    []byte("c\nd\n"),
		testDay + "/part-0001.jsonl.gz": gzipped(t, "a\nb\n"),
		testDay + "/part-0010.jsonl":    []byte("e\n"),
		"2026-11-23/part-0000.jsonl":    []byte("other day\n"),
	})
	lines, err := scanAll(t.Context(), t, d, testDay)
	if err != nil {
		t.Fatal(err)
	}
	want := []got{
		{testDay + "/part-0001.jsonl.gz", 1, "a", false},
		{testDay + "/part-0001.jsonl.gz", 2, "b", false},
		{testDay + "/part-0002.jsonl", 1, "c", false},
		{testDay + "/part-0002.jsonl", 2, "d", false},
		{testDay + "/part-0010.jsonl", 1, "e", false},
	}
	if !slices.Equal(lines, want) {
		t.Errorf("lines\n got %v\nwant %v", lines, want)
	}
}

func TestScanGzipMultistream(t *testing.T) {
	data := append(gzipped(t, "a\nb"), gzipped(t, "c\n")...)
	d := writeTree(t, t.TempDir(), map[string][]byte{testDay + "/m.jsonl.gz": data})
	lines, err := scanAll(t.Context(), t, d, testDay)
	if err != nil {
		t.Fatal(err)
	}
	// Members are one stream: a line may span them, as with `cat a.gz b.gz | gunzip`.
	want := []got{{testDay + "/m.jsonl.gz", 1, "a", false}, {testDay + "/m.jsonl.gz", 2, "bc", false}}
	if !slices.Equal(lines, want) {
		t.Errorf("lines\n got %v\nwant %v", lines, want)
	}
}

func TestScanBrokenGzip(t *testing.T) {
	var content strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&content, `{"n":%d,"pad":"%s"}`+"\n", i, strings.Repeat("ab", i%50))
	}
	good := gzipped(t, content.String())
	flip := func(b []byte, at int) []byte {
		b = slices.Clone(b)
		for i := at; i < at+64; i++ {
			b[i] ^= 0x55
		}
		return b
	}
	badCRC := slices.Clone(good)
	badCRC[len(badCRC)-8] ^= 0xFF
	tests := []struct {
		name   string
		data   []byte
		wantRe string // the whole error message
		is     error
	}{
		{"truncated", good[:len(good)/2], `after line \d+: unexpected EOF$`, io.ErrUnexpectedEOF},
		{"truncated in header", good[:5], `after line 0: unexpected EOF$`, io.ErrUnexpectedEOF},
		{"empty", nil, `after line 0: unexpected EOF$`, io.ErrUnexpectedEOF},
		{"not gzip", []byte(`{"eventType":"sent"}` + "\n"), `after line 0: gzip: invalid header$`, gzip.ErrHeader},
		{"corrupt", flip(good, len(good)/2), `after line \d+: .+`, nil},
		{"bad checksum", badCRC, `after line 5000: gzip: invalid checksum$`, gzip.ErrChecksum},
		{"trailing garbage", append(slices.Clone(good), "garbage!!!"...), `after line 5000: gzip: invalid header$`, gzip.ErrHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const file = testDay + "/part-3.jsonl.gz"
			d := writeTree(t, t.TempDir(), map[string][]byte{
				file:                      tt.data,
				testDay + "/part-4.jsonl": []byte("never read\n"),
			})
			lines, err := scanAll(t.Context(), t, d, testDay)
			if err == nil {
				t.Fatal("Scan succeeded, want error")
			}
			t.Logf("Scan: %v", err)
			re := regexp.MustCompile(`^eventlog: read ` + regexp.QuoteMeta(file) + ` ` + tt.wantRe)
			if !re.MatchString(err.Error()) {
				t.Errorf("error %q does not match %s", err, re)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			// "after line N" must be the last line delivered: nothing half-read slips through.
			var last int64
			if len(lines) > 0 {
				last = lines[len(lines)-1].Number
				if lines[len(lines)-1].File != file {
					t.Errorf("scan went on to %s after the error", lines[len(lines)-1].File)
				}
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("after line %d:", last)) {
				t.Errorf("error %q, but last delivered line was %d", err, last)
			}
		})
	}
}

func TestStat(t *testing.T) {
	tests := []struct {
		name  string
		files map[string][]byte
		want  archiver.Partition
	}{
		{"missing", map[string][]byte{"2026-11-21/a.jsonl": nil}, archiver.Partition{}},
		{"open", map[string][]byte{testDay + "/a.jsonl": nil},
			archiver.Partition{Exists: true, Files: []string{testDay + "/a.jsonl"}}},
		{"closed", map[string][]byte{testDay + "/a.jsonl": nil, testDay + "/_CLOSED": nil},
			archiver.Partition{Exists: true, Closed: true, Files: []string{testDay + "/a.jsonl"}}},
		{"closed and empty", map[string][]byte{testDay + "/_CLOSED": nil},
			archiver.Partition{Exists: true, Closed: true}},
		{"other entries listed as unread", map[string][]byte{
			testDay + "/b.jsonl.gz":           gzipped(t, "b\n"),
			testDay + "/a.jsonl":              []byte("a\n"),
			testDay + "/README.txt":           []byte("not events\n"),
			testDay + "/.part-9.jsonl":        []byte("in flight\n"),
			testDay + "/.part-9.jsonl.gz.tmp": nil,
			testDay + "/c.JSONL":              nil,
			testDay + "/c.json":               nil,
			testDay + "/c.jsonl.bak":          nil,
			testDay + "/_SUCCESS":             nil,
			testDay + "/_closed":              nil,
			testDay + "/sub/d.jsonl":          []byte("in a subfolder\n"),
		}, archiver.Partition{Exists: true, Files: []string{testDay + "/a.jsonl", testDay + "/b.jsonl.gz"},
			Unread: unread(".part-9.jsonl", ".part-9.jsonl.gz.tmp", "README.txt", "_SUCCESS", "_closed", "c.JSONL", "c.json", "c.jsonl.bak", "sub/")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := writeTree(t, t.TempDir(), tt.files)
			p, err := d.Stat(t.Context(), day(t, testDay))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, u := range p.Unread {
				names = append(names, u.Name)
			}
			var want []string
			for _, u := range tt.want.Unread {
				want = append(want, u.Name)
			}
			if p.Exists != tt.want.Exists || p.Closed != tt.want.Closed || !slices.Equal(p.Files, tt.want.Files) || !slices.Equal(names, want) {
				t.Errorf("Stat = %+v, want %+v", p, tt.want)
			}
			if !p.Exists {
				return
			}
			// Scan reads exactly the listed files, or nothing when some entry is not read.
			lines, err := scanAll(t.Context(), t, d, testDay)
			if len(tt.want.Unread) > 0 {
				if !errors.Is(err, archiver.ErrUnreadEntries) || len(lines) != 0 {
					t.Fatalf("Scan delivered %d lines, error %v; want none and ErrUnreadEntries", len(lines), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, l := range lines {
				files = append(files, l.File)
			}
			for _, f := range slices.Compact(files) {
				if !slices.Contains(tt.want.Files, f) {
					t.Errorf("Scan read %s, which is not an event file", f)
				}
			}
		})
	}
}

// unread names entries of testDay as Partition.Unread lists them (Why is not compared).
func unread(names ...string) []archiver.UnreadEntry {
	var out []archiver.UnreadEntry
	for _, n := range names {
		out = append(out, archiver.UnreadEntry{Name: testDay + "/" + n})
	}
	return out
}

func TestMissingPartition(t *testing.T) {
	d := writeTree(t, t.TempDir(), map[string][]byte{"2026-11-21/a.jsonl": []byte("a\n")})
	p, err := d.Stat(t.Context(), day(t, testDay))
	if err != nil || p.Exists {
		t.Errorf("Stat = %+v, %v; want not Exists, no error", p, err)
	}
	_, err = scanAll(t.Context(), t, d, testDay)
	if !errors.Is(err, ErrNoPartition) {
		t.Errorf("Scan error = %v, want ErrNoPartition", err)
	}
}

func TestPartitionIsFile(t *testing.T) {
	d := writeTree(t, t.TempDir(), map[string][]byte{testDay: []byte("a\n")})
	_, err := d.Stat(t.Context(), day(t, testDay))
	if err == nil || !strings.Contains(err.Error(), testDay) || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("Stat error = %v, want one naming %s as not a folder", err, testDay)
	}
	_, err = scanAll(t.Context(), t, d, testDay)
	if err == nil || errors.Is(err, ErrNoPartition) {
		t.Errorf("Scan error = %v, want a failure other than ErrNoPartition", err)
	}
}

func TestSymlinks(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, root, outside string)
		want   []got // nil: Stat and Scan fail
		naming string
	}{
		{"file escaping root", func(t *testing.T, root, outside string) {
			symlink(t, "../../outside/x.jsonl", filepath.Join(root, testDay, "evil.jsonl"))
		}, nil, testDay + "/evil.jsonl"},
		{"absolute file link", func(t *testing.T, root, outside string) {
			symlink(t, filepath.Join(outside, "x.jsonl"), filepath.Join(root, testDay, "evil.jsonl"))
		}, nil, testDay + "/evil.jsonl"},
		{"partition escaping root", func(t *testing.T, root, outside string) {
			symlink(t, "../outside", filepath.Join(root, testDay))
		}, nil, testDay},
		{"dangling partition", func(t *testing.T, root, outside string) {
			symlink(t, "nowhere", filepath.Join(root, testDay))
		}, nil, testDay},
		{"file inside root", func(t *testing.T, root, outside string) {
			writeTree(t, root, map[string][]byte{"shared/y.jsonl": []byte("inside\n")})
			symlink(t, "../shared/y.jsonl", filepath.Join(root, testDay, "ok.jsonl"))
		}, []got{{testDay + "/ok.jsonl", 1, "inside", false}}, ""},
		{"partition inside root", func(t *testing.T, root, outside string) {
			writeTree(t, root, map[string][]byte{"real/z.jsonl": []byte("moved\n")})
			symlink(t, "real", filepath.Join(root, testDay))
		}, []got{{testDay + "/z.jsonl", 1, "moved", false}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
			writeTree(t, outside, map[string][]byte{"x.jsonl": []byte("secret\n")})
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, root, outside)
			d, err := NewDir(root)
			if err != nil {
				t.Fatal(err)
			}
			p, statErr := d.Stat(t.Context(), day(t, testDay))
			if statErr == nil && len(p.Unread) > 0 {
				// A file link that cannot be followed is an entry that is not read,
				// listed with any others rather than failing Stat alone.
				statErr = &archiver.UnreadError{Entries: p.Unread}
			}
			lines, scanErr := scanAll(t.Context(), t, d, testDay)
			if tt.want != nil {
				if statErr != nil || scanErr != nil {
					t.Fatalf("Stat error %v, Scan error %v", statErr, scanErr)
				}
				if !slices.Equal(lines, tt.want) {
					t.Errorf("lines\n got %v\nwant %v", lines, tt.want)
				}
				return
			}
			t.Logf("Stat: %v; Scan: %v", statErr, scanErr)
			for _, err := range []error{statErr, scanErr} {
				if err == nil || !strings.Contains(err.Error(), tt.naming) {
					t.Errorf("error = %v, want one naming %s", err, tt.naming)
				}
			}
			if len(lines) != 0 {
				t.Errorf("Scan delivered %v from outside root", lines)
			}
		})
	}
}

func TestScanFnError(t *testing.T) {
	d := writeTree(t, t.TempDir(), map[string][]byte{
		testDay + "/a.jsonl":    []byte("a\nb\nc\n"),
		testDay + "/b.jsonl.gz": gzipped(t, "d\n"),
	})
	stop := errors.New("stop")
	var calls int
	_, err := d.Scan(t.Context(), day(t, testDay), func(l archiver.Line) error {
		calls++
		if l.Number == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("Scan error = %v, want fn's error unchanged", err)
	}
	if calls != 2 {
		t.Errorf("fn called %d times, want 2", calls)
	}
}

func TestScanCancel(t *testing.T) {
	content := strings.Repeat("{}\n", 3*cancelEvery)
	d := writeTree(t, t.TempDir(), map[string][]byte{
		testDay + "/a.jsonl":    []byte(content),
		testDay + "/b.jsonl.gz": gzipped(t, content),
	})
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := 0
		_, err := d.Scan(ctx, day(t, testDay), func(archiver.Line) error { calls++; return nil })
		if !errors.Is(err, context.Canceled) || calls != 0 {
			t.Errorf("Scan = %v after %d lines, want context.Canceled before any", err, calls)
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		calls := 0
		_, err := d.Scan(ctx, day(t, testDay), func(archiver.Line) error {
			calls++
			if calls == 10 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Scan error = %v, want context.Canceled", err)
		}
		if calls > cancelEvery {
			t.Errorf("Scan went on for %d lines after cancel", calls-10)
		}
	})
}

func TestDays(t *testing.T) {
	d := writeTree(t, t.TempDir(), map[string][]byte{
		"2026-11-22/a.jsonl": nil,
		"2026-01-05/_CLOSED": nil,
		"2025-12-31/x":       nil,
		"2026-11-23":         []byte("a file, not a partition"),
		"2026-13-01/a.jsonl": nil,
		"2026-1-05/a.jsonl":  nil,
		"1969-12-31/a.jsonl": nil,
		"notaday/a.jsonl":    nil,
		".2026-11-24/a":      nil,
		"directory.json":     []byte("{}"),
	})
	days, err := d.Days(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, dd := range days {
		names = append(names, dd.String())
	}
	want := []string{"2025-12-31", "2026-01-05", "2026-11-22"}
	if !slices.Equal(names, want) {
		t.Errorf("Days = %q, want %q", names, want)
	}
}

func TestReadFile(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	writeTree(t, base, map[string][]byte{"secret.json": []byte("no")})
	d := writeTree(t, root, map[string][]byte{"directory.json": []byte(`{"organizations":[]}`)})
	tests := []struct {
		name    string
		want    string
		wantErr error // nil: any error
		ok      bool
	}{
		{"directory.json", `{"organizations":[]}`, nil, true},
		{"missing.json", "", fs.ErrNotExist, false},
		{"../secret.json", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := d.ReadFile(t.Context(), tt.name)
			if tt.ok {
				if err != nil || string(b) != tt.want {
					t.Errorf("ReadFile = %q, %v; want %q", b, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("ReadFile error = %v, want one naming %s", err, tt.name)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ReadFile error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		root string
		want string // substring of the error; empty: success
	}{
		{"folder", base, ""},
		{"missing", filepath.Join(base, "missing"), "no such file"},
		{"file", file, "is not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDir(tt.root)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("NewDir: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.root)):
				t.Errorf("NewDir error = %v, want one naming %s and saying %q", err, tt.root, tt.want)
			}
		})
	}
}

// TestScanAllocs guards the hot path: allocations per Scan must not grow with the number
// of lines.
func TestScanAllocs(t *testing.T) {
	allocs := func(lines int) float64 {
		content := strings.Repeat(`{"eventType":"sent"}`+"\n", lines)
		d := writeTree(t, t.TempDir(), map[string][]byte{
			testDay + "/a.jsonl":    []byte(content),
			testDay + "/b.jsonl.gz": gzipped(t, content),
		})
		d.bufSize = 4 << 10 // so the large file also refills the buffer many times
		return testing.AllocsPerRun(5, func() {
			if _, err := d.Scan(t.Context(), day(t, testDay), func(archiver.Line) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(10), allocs(20000)
	if large > small+5 {
		t.Errorf("Scan allocates %.0f times for 10 lines but %.0f for 20000", small, large)
	}
}
