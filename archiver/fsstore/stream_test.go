package fsstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// TestCreateStream writes objects through CreateStream and checks what each way of ending
// one leaves: a committed object readable under its key, read-only, and no temporary file
// after any of them.
func TestCreateStream(t *testing.T) {
	ctx := context.Background()
	body := []byte("streamed object\n")
	sum := sha256.Sum256(body)
	tests := []struct {
		name    string
		existed []byte // at the key before the commit
		key     string
		size    int64
		abort   bool
		wantErr error // nil: the commit succeeds (unless wantMsg)
		wantMsg string
		want    []byte // at the key afterwards; nil: none
	}{
		{name: "commit", key: "a/b/obj", size: int64(len(body)), want: body},
		{name: "same bytes there already", existed: body, key: "a/b/obj", size: int64(len(body)), want: body},
		{name: "other bytes there already", existed: []byte("other"), key: "a/b/obj", size: int64(len(body)), wantErr: archiver.ErrConflict, want: []byte("other")},
		{name: "size not what was written", key: "a/b/obj", size: 3, wantMsg: "bytes written"},
		{name: "key in another folder", key: "a/c/obj", size: int64(len(body)), wantMsg: "not in the folder"},
		{name: "abort", key: "a/b/obj", abort: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, t.TempDir())
			if tt.existed != nil {
				create(t, s, tt.key, tt.existed)
			}
			o, err := s.CreateStream(ctx, "a/b")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.Write(body); err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(io.NewSectionReader(o, 0, int64(len(body))))
			if err != nil || !bytes.Equal(back, body) {
				t.Fatalf("read back %q, %v", back, err)
			}
			if tt.abort {
				err = o.Abort()
			} else {
				_, err = o.Commit(ctx, tt.key, tt.size, sum, archiver.CreateOptions{})
			}
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			case tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)):
				t.Fatalf("got %v, want an error with %q", err, tt.wantMsg)
			case tt.wantErr == nil && tt.wantMsg == "" && err != nil:
				t.Fatal(err)
			}
			if err := o.Abort(); err != nil {
				t.Errorf("abort after the end: %v", err)
			}
			rc, err := s.Open(ctx, tt.key)
			switch {
			case tt.want == nil && !errors.Is(err, archiver.ErrNotFound):
				t.Errorf("open %s: %v, want not found", tt.key, err)
			case tt.want != nil && err != nil:
				t.Fatal(err)
			case tt.want != nil:
				got, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(got, tt.want) {
					t.Errorf("%s holds %q, want %q", tt.key, got, tt.want)
				}
				fi, err := os.Stat(filepath.Join(s.Dir(), filepath.FromSlash(tt.key)))
				if err != nil || fi.Mode().Perm()&0o222 != 0 {
					t.Errorf("object mode %v (%v), want read-only", fi.Mode(), err)
				}
			}
			for _, f := range filesOnDisk(t, s.Dir()) {
				if strings.Contains(f, ".tmp-") {
					t.Errorf("temporary file left behind: %s", f)
				}
			}
		})
	}
}
