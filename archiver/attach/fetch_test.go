package attach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
)

// filesHandler serves the test files, good and bad. other is the host of a server that
// is not on the list.
func filesHandler(other string, maxSize int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/good/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		fmt.Fprintf(w, "contents of %s", r.PathValue("name"))
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/slow-header", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("0123456789"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		buf := bytes.Repeat([]byte("x"), 32<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/too-large-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(maxSize+1))
		w.Write(bytes.Repeat([]byte("x"), int(maxSize+1)))
	})
	mux.HandleFunc("/longer", func(w http.ResponseWriter, r *http.Request) {
		raw(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhelloEXTRA BYTES")
	})
	mux.HandleFunc("/longer-big", func(w http.ResponseWriter, r *http.Request) {
		// The extra bytes come after a body larger than net/http's read buffer, so that
		// they are still unread on the connection when the body ends.
		const n = 512 << 10
		raw(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%sEXTRA", n, strings.Repeat("y", n)))
	})
	mux.HandleFunc("/shorter", func(w http.ResponseWriter, r *http.Request) {
		raw(w, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\nhello")
	})
	mux.HandleFunc("/redirect-off", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+other+"/good/stolen", http.StatusFound)
	})
	mux.HandleFunc("/redirect-on", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/good/moved", http.StatusFound)
	})
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect-loop", http.StatusFound)
	})
	return mux
}

// raw writes a response byte for byte, past what net/http would allow, and closes.
func raw(w http.ResponseWriter, s string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	buf.WriteString(s)
	buf.Flush()
}

func TestFetchOutcomes(t *testing.T) {
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }), false)
	const maxSize = 1 << 20
	srv := newServer(t, filesHandler(other.host(), maxSize), false)
	f := newTestFetcher(t, testOptions(srv.host()))

	tests := []struct {
		path        string
		url         string // instead of path on srv
		reason      string // "" means captured
		status      int
		body        string
		contentType string
		area, what  string
		outcome     reliability.Outcome
	}{
		{path: "/good/a.pdf", body: "contents of a.pdf", contentType: "application/pdf"},
		{path: "/redirect-on", body: "contents of moved", contentType: "application/pdf"},
		{path: "/missing", reason: ReasonHTTPStatus, status: 404,
			area: "fault", what: "attachment URL answers 404", outcome: reliability.CleanFailure},
		{path: "/slow-header", reason: ReasonTimeout,
			area: "fault", what: "attachment server never sends headers", outcome: reliability.CleanFailure},
		{path: "/slow-body", reason: ReasonTimeout,
			area: "fault", what: "attachment body stalls mid-file", outcome: reliability.CleanFailure},
		{path: "/endless", reason: ReasonTooLarge,
			area: "security", what: "attachment body never ends (no Content-Length)", outcome: reliability.Refused},
		{path: "/too-large-declared", reason: ReasonTooLarge,
			area: "security", what: "attachment bigger than attachments.maxSize", outcome: reliability.Refused},
		{path: "/longer", reason: ReasonLength,
			area: "fault", what: "attachment body longer than its Content-Length", outcome: reliability.CleanFailure},
		{path: "/longer-big", reason: ReasonLength},
		{path: "/shorter", reason: ReasonLength,
			area: "fault", what: "attachment body shorter than its Content-Length", outcome: reliability.CleanFailure},
		{path: "/redirect-off", reason: ReasonHostNotAllowed,
			area: "security", what: "attachment redirect to a host not on attachments.allowedHosts", outcome: reliability.Refused},
		{path: "/redirect-loop", reason: ReasonRedirects},
		{url: "http://" + other.host() + "/good/x", reason: ReasonHostNotAllowed,
			area: "security", what: "attachment URL on a host not on attachments.allowedHosts", outcome: reliability.Refused},
		{url: "file:///etc/passwd", reason: ReasonBadURL,
			area: "security", what: "attachment URL of another scheme (file://)", outcome: reliability.Refused},
		{url: "http://user@" + srv.host() + "/good/a", reason: ReasonBadURL},
	}
	for _, tt := range tests {
		// The name must not carry the loopback servers' ports: it names the test in the
		// README's reliability table, which must come out the same at every run.
		name := tt.path + strings.NewReplacer(other.host(), "other-host", srv.host(), "listed-host").Replace(tt.url)
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			u := tt.url
			if u == "" {
				u = srv.URL + tt.path
			}
			got, err := f.Fetch(context.Background(), u)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Fetch(%s) = %v, want captured", u, err)
				}
				defer got.Discard()
				b, _ := io.ReadAll(got.File)
				if string(b) != tt.body || got.Size != int64(len(tt.body)) || got.SHA256 != sha256.Sum256([]byte(tt.body)) || got.ContentType != tt.contentType {
					t.Fatalf("Fetch(%s) = %q (size %d, type %q), want %q of type %q", u, b, got.Size, got.ContentType, tt.body, tt.contentType)
				}
				return
			}
			var fl *Failure
			if !errors.As(err, &fl) || fl.Reason != tt.reason || fl.Status != tt.status {
				t.Fatalf("Fetch(%s) = %v, %v; want failure %s (status %d)", u, got, err, tt.reason, tt.status)
			}
			if tt.area != "" {
				reliability.Record(t, tt.area, tt.what, tt.outcome, "recorded as failed: "+fl.Reason)
			}
		})
	}
	if n, c := other.requests.Load(), other.conns.Load(); n != 0 || c != 0 {
		t.Fatalf("the server not on the list got %d requests on %d connections, want none", n, c)
	}
	// Nothing staged is left behind by a failure.
	if left, _ := os.ReadDir(f.opt.TempDir); len(left) != 0 {
		t.Fatalf("staging folder holds %d files after the fetches, want none", len(left))
	}
}

// TestFetchNameResolvingToLoopback lists a name ("localhost") whose address is loopback:
// the dial refuses it, so a listed public name that DNS points at an internal address
// (rebinding) reaches nothing; a server listed by its address is reached.
func TestFetchNameResolvingToLoopback(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	_, port, _ := strings.Cut(srv.host(), ":")
	f := newTestFetcher(t, testOptions("localhost:"+port))
	_, err := f.Fetch(context.Background(), "http://localhost:"+port+"/good/a")
	var fl *Failure
	if !errors.As(err, &fl) || fl.Reason != ReasonHostNotAllowed || !strings.Contains(fl.Detail, "non-public address") {
		t.Fatalf("Fetch via localhost = %v, want host_not_allowed for a non-public address", err)
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("server got %d connections, want none", n)
	}
	reliability.Record(t, "security", "listed attachment host name resolves to a loopback or private address", reliability.Refused,
		"checked at dial time: no connection is made")
}

// TestFetchTLSFraming checks a body's framing over https too, where the bytes counted
// are the plaintext of the response.
func TestFetchTLSFraming(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), true)
	opt := testOptions(srv.host())
	opt.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	f := newTestFetcher(t, opt)
	got, err := f.Fetch(context.Background(), srv.URL+"/good/a")
	if err != nil {
		t.Fatalf("Fetch over https: %v", err)
	}
	got.Discard()
	for _, p := range []string{"/longer", "/longer-big", "/shorter"} {
		_, err := f.Fetch(context.Background(), srv.URL+p)
		var fl *Failure
		if !errors.As(err, &fl) || fl.Reason != ReasonLength {
			t.Errorf("Fetch(%s) over https = %v, want %s", p, err, ReasonLength)
		}
	}
}

// TestFetchToken sends the bearer token over https to a listed host, never over http.
func TestFetchToken(t *testing.T) {
	const token = "cvtest-secret-token"
	var sawTLS, sawPlain atomic.Value
	sawTLS.Store("")
	sawPlain.Store("")
	tlsSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS.Store(r.Header.Get("Authorization"))
		w.Write([]byte("ok"))
	}), true)
	plain := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawPlain.Store(r.Header.Get("Authorization"))
		w.Write([]byte("ok"))
	}), false)
	opt := testOptions(tlsSrv.host(), plain.host())
	opt.Token = token
	opt.RootCAs = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	f := newTestFetcher(t, opt)
	for _, u := range []string{tlsSrv.URL + "/f", plain.URL + "/f"} {
		got, err := f.Fetch(context.Background(), u)
		if err != nil {
			t.Fatalf("Fetch(%s): %v", u, err)
		}
		got.Discard()
	}
	if got := sawTLS.Load(); got != "Bearer "+token {
		t.Fatalf("https server saw Authorization %q, want the token", got)
	}
	if got := sawPlain.Load(); got != "" {
		t.Fatalf("http server saw Authorization %q, want none", got)
	}
	reliability.Record(t, "security", "attachment token over plain http", reliability.Refused, "the bearer token is sent over https only")
}

// TestFetchConcurrencyBound runs more fetches than the bound and sees at most the bound
// in flight at the server.
func TestFetchConcurrencyBound(t *testing.T) {
	const bound = 3
	var inflight, peak atomic.Int64
	release := make(chan struct{})
	over := make(chan struct{}, 100)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n > bound {
			over <- struct{}{}
		}
		<-release
		w.Write([]byte("x"))
	}), false)
	opt := testOptions(srv.host())
	opt.Concurrency = bound
	opt.HeaderTimeout, opt.Timeout = 10*time.Second, 10*time.Second
	f := newTestFetcher(t, opt)
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			got, err := f.Fetch(context.Background(), fmt.Sprintf("%s/f%d", srv.URL, i))
			got.Discard()
			errs <- err
		}()
	}
	// Wait until the bound is reached; a broken bound shows as a request beyond it,
	// which the handler reports before blocking.
	for inflight.Load() < bound {
		runtime.Gosched()
	}
	select {
	case <-over:
		t.Fatalf("more than %d fetches in flight", bound)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p != bound {
		t.Fatalf("peak in flight %d, want %d", p, bound)
	}
}

// TestFetchMemoryBounded streams a 64 MiB file and counts the bytes allocated: the fetch
// streams through a fixed buffer, whatever the file's size.
func TestFetchMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}), false)
	opt := testOptions(srv.host())
	opt.MaxSize, opt.Timeout, opt.HeaderTimeout = 128<<20, time.Minute, 10*time.Second
	f := newTestFetcher(t, opt)
	// One small fetch first, so that one-time set-up (the buffer pool) is not counted.
	if got, err := f.Fetch(context.Background(), srv.URL+"/warm"); err == nil {
		got.Discard()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := f.Fetch(context.Background(), srv.URL+"/big")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Discard()
	if got.Size != size {
		t.Fatalf("size %d, want %d", got.Size, size)
	}
	// The server's side runs in this process too; both together stay far below the file.
	const bound = 2 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Fatalf("fetching %d MiB allocated %d bytes, want at most %d", size>>20, alloc, bound)
	} else {
		t.Logf("fetching %d MiB allocated %d bytes", size>>20, alloc)
	}
	reliability.Record(t, "operations", "attachment of 64 MiB streamed", reliability.Kept,
		"allocations bounded by a fixed copy buffer (under 2 MiB), not the file's size")
}
