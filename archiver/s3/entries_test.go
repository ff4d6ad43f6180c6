package s3_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEventLogEntries is eventlog's TestUnreadEntriesFailTheScan and TestIgnoredFiles on
// S3: beside a good event object of a closed partition, every object the reader does not
// read, and every "subfolder" (a key with a further "/" below the partition), fails the
// scan naming them all; objects export.ignoreFiles names are hashed and returned.
func TestEventLogEntries(t *testing.T) {
	srv := miniotest.Start(t)
	c := srv.Client()
	const day = "2026-11-22"
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	tests := []struct {
		name    string
		ignore  []string
		objects map[string]string // below log/2026-11-22/
		ignored []archiver.IgnoredFile
		unread  []string // in the scan's error; nil: the scan succeeds
	}{
		{"event object with an upper-case suffix (part-0002.JSONL)", nil,
			map[string]string{"part-0002.JSONL": "{\"a\":2}\n"}, nil, []string{`"2026-11-22/part-0002.JSONL"`, "lowercase"}},
		{"JSON object that is not JSON Lines (part-3.json.gz)", nil,
			map[string]string{"part-3.json.gz": "x"}, nil, []string{`"2026-11-22/part-3.json.gz"`}},
		{"subfolder with event objects", nil,
			map[string]string{"sub/part-4.jsonl": "{}\n", "sub/deeper/part-5.jsonl": "{}\n"}, nil, []string{`"2026-11-22/sub/"`, "folder"}},
		{"hidden objects (.DS_Store, .part-1.jsonl.swp)", nil,
			map[string]string{".DS_Store": "x", ".part-1.jsonl.swp": "x"}, nil, []string{`"2026-11-22/.DS_Store"`, `"2026-11-22/.part-1.jsonl.swp"`, "hidden"}},
		{"_closed in the wrong case", nil,
			map[string]string{"_closed": ""}, nil, []string{`"2026-11-22/_closed"`, "case"}},
		{"_CLOSED as a subfolder (and no _CLOSED object)", nil,
			map[string]string{"_CLOSED/x": ""}, nil, []string{`"2026-11-22/_CLOSED/"`, "folder"}},
		{"_SUCCESS marker, not ignored", nil,
			map[string]string{"_SUCCESS": ""}, nil, []string{`"2026-11-22/_SUCCESS"`}},
		{"several at once, all named", nil,
			map[string]string{"part-0002.JSONL": "{}\n", "_SUCCESS": "", "sub/x.jsonl": "{}\n"},
			nil, []string{"part-0002.JSONL", "_SUCCESS", "sub/"}},
		{"empty folder object of the partition itself", nil,
			map[string]string{"": ""}, nil, nil},
		{"_SUCCESS marker, ignored", []string{"_SUCCESS"},
			map[string]string{"_SUCCESS": ""},
			[]archiver.IgnoredFile{{Name: day + "/_SUCCESS", Size: 0, SHA256: sum("")}}, nil},
		{"name with a space, ignored by *.txt; * hides no event object", []string{"*.txt", "*"},
			map[string]string{"read me.txt": "notes\n", "part-0002.jsonl": "{\"a\":2}\n"},
			[]archiver.IgnoredFile{{Name: day + "/read me.txt", Size: 6, SHA256: sum("notes\n")}}, nil},
		{"an ignored subfolder is refused", []string{"sub"},
			map[string]string{"sub/x.txt": "x"}, nil, []string{`"2026-11-22/sub/"`, "only files can be ignored"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, false)
			objects := map[string]string{"part-0001.jsonl": "{\"a\":1}\n", "_CLOSED": ""}
			for k, v := range tt.objects {
				objects[k] = v
				if strings.HasPrefix(k, "_CLOSED/") {
					// MinIO keeps files and folders: a key cannot be both.
					delete(objects, "_CLOSED")
				}
			}
			for k, v := range objects {
				if _, err := c.PutObject(context.Background(), &awss3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String("log/" + day + "/" + k), Body: strings.NewReader(v),
				}); err != nil {
					t.Fatal(err)
				}
			}
			el := s3.NewEventLog(c, bucket, "log")
			el.Ignore = tt.ignore
			d, _ := archiver.ParseDay(day)
			p, err := el.Stat(t.Context(), d)
			if _, closed := objects["_CLOSED"]; err != nil || !p.Exists || p.Closed != closed {
				t.Fatalf("Stat = %+v, %v; want a partition, closed %t", p, err, closed)
			}
			var files []string
			ignored, err := el.Scan(t.Context(), d, func(l archiver.Line) error {
				files = append(files, l.File)
				return nil
			})
			if tt.unread != nil {
				if !errors.Is(err, archiver.ErrUnreadEntries) || len(files) != 0 {
					t.Fatalf("Scan read %q, error %v; want nothing and ErrUnreadEntries", files, err)
				}
				for _, w := range tt.unread {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Scan error %q does not say %q", err, w)
					}
				}
				reliability.Record(t, "input", "S3 partition: "+tt.name, reliability.CleanFailure,
					"the run fails naming every such object or subfolder; nothing is sealed")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ignored, tt.ignored) {
				t.Errorf("ignored = %+v, want %+v", ignored, tt.ignored)
			}
			for _, f := range slices.Compact(files) {
				if !strings.HasPrefix(f, day+"/part-") {
					t.Errorf("Scan read %s, which is no event object", f)
				}
			}
			detail := "event objects are read; ignored objects are recorded by name, size and SHA-256 in every manifest of the day"
			if _, ok := tt.objects[""]; ok {
				detail = "the zero-byte object S3 tools make to show a folder is the partition itself, not an entry of it: the day reads as without it"
			}
			reliability.Record(t, "input", "S3 partition: "+tt.name, reliability.Kept, detail)
		})
	}
}
