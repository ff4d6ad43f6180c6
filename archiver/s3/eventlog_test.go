package s3_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// TestEventLogMatchesDir mirrors one event log folder into a bucket and checks that the S3
// event log sees what eventlog.Dir sees: the same partitions, files, markers and lines,
// line errors included.
func TestEventLogMatchesDir(t *testing.T) {
	srv := miniotest.Start(t)
	root := t.TempDir()
	copyTree(t, "../../testdata/eventlog", root)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprint(zw, "{\"n\":1}\r\n\n   \n{\"n\":2}")
	zw.Close()
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("2026-11-23/b.jsonl.gz", gz.Bytes())
	write("2026-11-23/a.jsonl", append([]byte("\xEF\xBB\xBF{\"n\":0}\n"), bytes.Repeat([]byte("x"), 100)...))
	write("2026-11-23/.tmp.jsonl", []byte("{\"hidden\":true}\n"))
	write("2026-11-23/notes.txt", []byte("not events\n"))
	write("2026-11-23/sub/c.jsonl", []byte("{\"below\":true}\n"))
	write("2026-11-24/broken.jsonl.gz", gz.Bytes()[:len(gz.Bytes())/2])
	write("not-a-day/x.jsonl", []byte("{}\n"))

	bucket := srv.Bucket(t, false)
	srv.Upload(t, bucket, "events/prod", root)
	dir, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	dir.MaxLineBytes = 64
	el := s3.NewEventLog(srv.Client(), bucket, "events/prod")
	el.MaxLineBytes = 64

	for _, d := range []string{"2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"} {
		t.Run(d, func(t *testing.T) {
			day, _ := archiver.ParseDay(d)
			wantP, werr := dir.Stat(t.Context(), day)
			gotP, gerr := el.Stat(t.Context(), day)
			if werr != nil || gerr != nil {
				t.Fatalf("Stat: dir %v, s3 %v", werr, gerr)
			}
			// Each tells the event log's clock its own way (the folder's writes, S3's Date):
			// both know it of a partition without _CLOSED, neither of a closed one.
			if gotP.Exists && gotP.Clock.IsZero() == gotP.Closed && wantP.Clock.IsZero() == wantP.Closed {
				gotP.Clock, wantP.Clock = time.Time{}, time.Time{}
			}
			if !reflect.DeepEqual(gotP, wantP) {
				t.Errorf("Stat = %+v, want %+v", gotP, wantP)
			}
			want, werr := scanAll(t, dir, day)
			got, gerr := scanAll(t, el, day)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Scan lines =\n%q\nwant\n%q", got, want)
			}
			if (werr == nil) != (gerr == nil) || errors.Is(werr, eventlog.ErrNoPartition) != errors.Is(gerr, eventlog.ErrNoPartition) {
				t.Errorf("Scan error %v, want one like %v", gerr, werr)
			}
		})
	}
	wantDays, werr := dir.Days(t.Context())
	gotDays, gerr := el.Days(t.Context())
	if werr != nil || gerr != nil || !reflect.DeepEqual(gotDays, wantDays) || len(gotDays) != 3 {
		t.Errorf("Days = %v, %v; want the folder's %v, %v", gotDays, gerr, wantDays, werr)
	}
	want, err := dir.ReadFile(t.Context(), "directory.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := el.ReadFile(t.Context(), "directory.json")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("ReadFile(directory.json) = %d bytes, %v; want the folder's %d bytes", len(got), err, len(want))
	}
}

func scanAll(t *testing.T, src archiver.Source, day archiver.Day) ([]string, error) {
	var lines []string
	_, err := src.Scan(t.Context(), day, func(l archiver.Line) error {
		lines = append(lines, fmt.Sprintf("%s:%d:%s:%v", l.File, l.Number, l.Bytes, l.Err))
		return nil
	})
	return lines, err
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
