package attach

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/internal/reliability"
)

// findings collects what VerifyOrg reports.
type findings struct{ problems, warnings []string }

func (f *findings) Problemf(format string, args ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *findings) Warn(msg string) { f.warnings = append(f.warnings, msg) }

func (f *findings) Read(int, int64) {}

// alteringStore serves other bytes for one key, or hides it: what someone with write
// access to the storage could do.
type alteringStore struct {
	archiver.Store
	key    string
	bytes  []byte // nil: the key is hidden
	extras map[string][]byte
}

func (s alteringStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if b, ok := s.extras[key]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	if key == s.key {
		if s.bytes == nil {
			return nil, fmt.Errorf("%s: %w", key, archiver.ErrNotFound)
		}
		return io.NopCloser(bytes.NewReader(s.bytes)), nil
	}
	return s.Store.Open(ctx, key)
}

func (s alteringStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	var keys []string
	err := s.Store.List(ctx, prefix, func(k string) error {
		if k != s.key || s.bytes != nil {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k := range s.extras {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// TestVerifyOrg verifies a store with two index revisions and their files, then the same
// store altered in each way verify must report.
func TestVerifyOrg(t *testing.T) { forLayouts(t, testVerifyOrg) }

func testVerifyOrg(t *testing.T) {
	var up atomic.Bool
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" && !up.Load() {
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "contents of %s", r.URL.Path)
	}), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/a", srv.URL + "/late"}}})
	key := newKey(t)
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), key, testDay.End().Add(time.Hour))
	ctx := context.Background()
	if _, err := c.CaptureDay(ctx, acme, testDay); err != nil {
		t.Fatal(err)
	}
	up.Store(true)
	if res, err := c.CaptureDay(ctx, acme, testDay); err != nil || res.Revision != 2 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	rev1, rev2 := IndexKey(acme, testDay, 1, 1, true), IndexKey(acme, testDay, 2, 1, false)
	fileA := FileKey(acme, sha(t, "contents of /a"))
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}

	var clean findings
	st, err := VerifyOrg(ctx, fs, acme, trusted, &clean)
	if err != nil || len(clean.problems) != 0 || len(clean.warnings) != 0 || st.Indexes != 2 || st.Files != 2 {
		t.Fatalf("clean store: %+v, %v, %+v", st, err, clean)
	}
	forged := readObject(t, fs, rev2)
	forged = bytes.Replace(forged, []byte(`"size": 14`), []byte(`"size": 15`), 1)
	tests := []struct {
		name, want string
		store      archiver.Store
		warning    bool
	}{
		{"file bytes changed", fileA + ": bytes hash to", alteringStore{Store: fs, key: fileA, bytes: []byte("contents of /b")}, false},
		{"file removed", fileA + ": captured according to its index, but missing", alteringStore{Store: fs, key: fileA}, false},
		{"first revision removed", rev2 + ": revision 2 of 2026-11-22 without the revisions before it", alteringStore{Store: fs, key: rev1}, false},
		{"revision rewritten", "signature does not verify", alteringStore{Store: fs, key: rev2, bytes: forged}, false},
		{"earlier revision changed", rev2 + ": previous", alteringStore{Store: fs, key: rev1, bytes: append(readObject(t, fs, rev1), ' ')}, false},
		{"file no index names", "an attachment no index names", alteringStore{Store: fs, extras: map[string][]byte{
			FileKey(acme, sha(t, "stray")): []byte("stray")}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f findings
			if _, err := VerifyOrg(ctx, tt.store, acme, trusted, &f); err != nil {
				t.Fatal(err)
			}
			got := f.problems
			if tt.warning {
				got = f.warnings
			}
			if !containsSub(got, tt.want) {
				t.Fatalf("findings %+v, want %q", f, tt.want)
			}
			if !tt.warning {
				reliability.Record(t, "security", "captured attachment or its index tampered with: "+tt.name, reliability.CleanFailure,
					"attach.VerifyOrg reports it")
			}
		})
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func sha(t *testing.T, s string) [32]byte {
	t.Helper()
	return sha256.Sum256([]byte(s))
}
