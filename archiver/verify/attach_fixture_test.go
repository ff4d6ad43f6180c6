package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/s3"
	"github.com/chatvault/chatvault/internal/miniotest"
)

// attachArchive is an archive whose sample records link files on a local server (each
// day's contract its own bytes, /d/<day>), captured after each seal as run does. The
// item link (/items/42) answers 503 until up is set: its day's index then gets a second
// revision when captured again.
type attachArchive struct {
	*archive
	srv  *httptest.Server
	up   atomic.Bool
	cap  *attach.Capturer
	now  time.Time
	s3   *s3.Store         // when on MinIO
	s3c  *miniotest.Server // its server
	orgs []string
}

// newAttachArchive seals and captures n days from 2026-11-01 on store (a folder store when
// nil, else MinIO's).
func newAttachArchive(t *testing.T, onS3 bool, n int) *attachArchive {
	t.Helper()
	f := &attachArchive{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/items/") && !f.up.Load() {
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "contents of %s", r.URL.Path)
	}))
	t.Cleanup(f.srv.Close)
	base := f.srv.URL
	edit := func(d archiver.Day, dir string) {
		p := filepath.Join(dir, "part-0001.jsonl")
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		s := strings.ReplaceAll(string(b), "https://files.example/d/3", base+"/d/"+d.String())
		s = strings.ReplaceAll(s, "https://tracker.example", base)
		s = strings.ReplaceAll(s, "https://cdn.example", base)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			panic(err)
		}
	}
	root := t.TempDir()
	var store archiver.Store
	if onS3 {
		if testing.Short() {
			t.Skip("MinIO: not with -short")
		}
		srv := miniotest.Start(t)
		s, err := s3.NewStore(context.Background(), srv.Client(), srv.Bucket(t, false), "cv", s3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store, root, f.s3, f.s3c = s, "", s, srv
	} else {
		store = newFSStore(t, root)
	}
	f.archive = sealDaysFrom(t, store, root, "2026-11-01", n+4, 0, edit)
	fetcher, err := attach.NewFetcher(attach.Options{AllowedHosts: []string{strings.TrimPrefix(base, "http://")},
		Concurrency: 2, MaxSize: 1 << 20, ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second,
		Timeout: 10 * time.Second, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.cap = &attach.Capturer{Ledger: ledger.Ledger{Store: store}, Fetcher: fetcher, SigningKey: f.key, RetryFor: 7 * 24 * time.Hour,
		Now: func() time.Time { return f.now }, Log: slog.New(slog.DiscardHandler)}
	for range n {
		f.sealNext(t)
	}
	return f
}

// sealNext seals the next day and captures its links for every organization.
func (f *attachArchive) sealNext(t *testing.T) {
	t.Helper()
	f.archive.sealNext(t)
	if f.orgs == nil {
		f.orgs = f.archive.orgs(t)
	}
	f.capture(t, f.days[len(f.days)-1])
}

// capture captures day's links for every organization, an hour after the day's end.
func (f *attachArchive) capture(t *testing.T, day archiver.Day) int {
	t.Helper()
	f.now = day.End().Add(time.Hour)
	revs := 0
	for _, org := range f.orgs {
		res, err := f.cap.CaptureDay(context.Background(), org, day)
		if errors.Is(err, ledger.ErrNotSealed) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision > 0 {
			revs++
		}
	}
	return revs
}

// indexKeys are org's attachment index keys of day.
func (f *attachArchive) indexKeys(t *testing.T, org string, day archiver.Day) []string {
	t.Helper()
	keys, err := attach.DayIndexKeys(context.Background(), f.store, org, day)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// fileKey is org's captured file of the contract linked on day.
func (f *attachArchive) fileKey(t *testing.T, org string, day archiver.Day) string {
	t.Helper()
	return attach.FileKey(org, sha(fmt.Sprintf("contents of /d/%s", day)))
}

// remove deletes key from the store.
func (f *attachArchive) remove(t *testing.T, key string) {
	t.Helper()
	if f.s3 == nil {
		remove(t, f.root, key)
		return
	}
	if _, err := f.s3c.Client().DeleteObject(context.Background(), &awss3.DeleteObjectInput{Bucket: aws.String(f.s3.Bucket()), Key: aws.String(f.s3.ObjectKey(key))}); err != nil {
		t.Fatal(err)
	}
}

// overwrite replaces key's bytes in the store (what someone with write access could do).
func (f *attachArchive) overwrite(t *testing.T, key string, b []byte) {
	t.Helper()
	if f.s3 == nil {
		p := filepath.Join(f.root, filepath.FromSlash(key))
		os.Chmod(p, 0o600)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := f.s3c.Client().PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(f.s3.Bucket()),
		Key: aws.String(f.s3.ObjectKey(key)), Body: strings.NewReader(string(b))}); err != nil {
		t.Fatal(err)
	}
}

func sha(s string) [32]byte { return sha256.Sum256([]byte(s)) }
