package attach

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// Tests of an outside review of issue 14's promises: odd URLs, misbehaving servers,
// operator mistakes (see the README's Attachments section).

// TestFetchContentEncoding: a server that compresses a file although it was asked for
// the file as it is (Accept-Encoding: identity) has its bytes kept as served, and the
// encoding recorded, so that a reader of the index knows the bytes are gzip, not the
// content type they claim.
func TestFetchContentEncoding(t *testing.T) {
	var ae atomic.Value
	ae.Store("")
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae.Store(r.Header.Get("Accept-Encoding"))
		if r.URL.Path == "/gzip" {
			w.Header().Set("Content-Encoding", "GZip")
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("\x1f\x8bcompressed"))
	}), false)
	f := newTestFetcher(t, testOptions(srv.host()))
	for _, tt := range []struct{ path, encoding string }{{"/gzip", "gzip"}, {"/plain", ""}} {
		got, err := f.Fetch(context.Background(), srv.URL+tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(got.File)
		got.Discard()
		if string(b) != "\x1f\x8bcompressed" || got.ContentEncoding != tt.encoding || got.ContentType != "text/plain" {
			t.Fatalf("%s: %q, encoding %q, type %q; want the bytes as served, encoding %q", tt.path, b, got.ContentEncoding, got.ContentType, tt.encoding)
		}
		if a := ae.Load(); a != "identity" {
			t.Fatalf("request's Accept-Encoding %q, want identity", a)
		}
	}
	reliability.Record(t, "input", "attachment server compresses the file unasked (Content-Encoding: gzip)", reliability.Kept,
		"bytes kept as served, the encoding recorded in the index (contentEncoding)")
}

// TestFetchUserinfo: a URL with a user name or password is refused without a request,
// as a bad URL (its host is listed: saying it is not would send the operator the wrong
// way), and the password goes into no detail.
func TestFetchUserinfo(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	f := newTestFetcher(t, testOptions(srv.host()))
	for _, u := range []string{"http://user:pw@" + srv.host() + "/good/a", "http://user@" + srv.host() + "/good/a"} {
		_, err := f.Fetch(context.Background(), u)
		var fl *Failure
		if !errors.As(err, &fl) || fl.Reason != ReasonBadURL || !strings.Contains(fl.Detail, "user") || strings.Contains(fl.Detail, "pw") {
			t.Fatalf("Fetch(%s) = %v, want bad_url naming the user information, without the password", u, err)
		}
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("server got %d requests, want none", n)
	}
	// A redirect to such a URL: refused before it is followed, for what it is.
	redir := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://user:pw@"+srv.host()+"/good/a", http.StatusFound)
	}), false)
	f = newTestFetcher(t, testOptions(srv.host(), redir.host()))
	_, err := f.Fetch(context.Background(), redir.URL+"/r")
	var fl *Failure
	if !errors.As(err, &fl) || fl.Reason != ReasonBadURL || strings.Contains(fl.Detail, "pw") || srv.requests.Load() != 0 {
		t.Fatalf("redirect to a URL with user information = %v, want bad_url without a request", err)
	}
	reliability.Record(t, "security", "attachment URL with user:password on a listed host", reliability.Refused,
		"bad_url without a request; the password is in no detail")
}

// TestFetchOddHosts: spellings of a listed host that are not the entry are refused
// without a request (exact entries), those that are the same host and port are fetched.
func TestFetchOddHosts(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	_, port, _ := strings.Cut(srv.host(), ":")
	f := newTestFetcher(t, testOptions(srv.host()))
	tests := []struct {
		url      string
		captured bool
	}{
		{"HTTP://127.0.0.1:" + port + "/good/a", true},          // scheme case
		{"http://[::ffff:127.0.0.1]:" + port + "/good/a", true}, // the same address, IPv4-mapped
		{"http://127.0.0.1:" + port + "/good/a#frag", true},     // fragment: not sent
		{"http://127.0.0.1:" + port + "/good/a%2F..%2Fb", true}, // the path as written: the server's to read
		{"http://127.0.0.1.:" + port + "/good/a", false},        // trailing dot: not the entry
		{"http://2130706433:" + port + "/good/a", false},        // decimal IPv4
		{"http://0177.0.0.1:" + port + "/good/a", false},        // octal IPv4
		{"http://0x7f.0.0.1:" + port + "/good/a", false},        // hex IPv4
		{"http://127.0.0.1:0" + port + "/good/a", false},        // port with a leading zero
		{"http://127.1:" + port + "/good/a", false},             // short IPv4
		{"ftp://127.0.0.1:" + port + "/good/a", false},
		{"data:text/plain,hi", false},
		{"//127.0.0.1:" + port + "/good/a", false}, // scheme-relative
	}
	before := srv.requests.Load()
	want := before
	for _, tt := range tests {
		got, err := f.Fetch(context.Background(), tt.url)
		if tt.captured {
			want++
		}
		if tt.captured != (err == nil) {
			t.Errorf("Fetch(%s) = %v, captured %v wanted", tt.url, err, tt.captured)
		}
		got.Discard()
	}
	if n := srv.requests.Load(); n != want {
		t.Fatalf("server got %d requests, want %d", n-before, want-before)
	}
	reliability.Record(t, "security", "attachment URL spelling a listed host otherwise (trailing dot, decimal, octal, hex or short IPv4)", reliability.Refused,
		"host_not_allowed without a request: entries are exact")
}

// TestFetchRedirectToPlainHTTP: a listed https host that redirects to itself over http
// does not get the token over http.
func TestFetchRedirectToPlainHTTP(t *testing.T) {
	const token = "cvtest-secret-token"
	var plainAuth atomic.Value
	plainAuth.Store("")
	plain := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainAuth.Store(r.Header.Get("Authorization"))
		w.Write([]byte("ok"))
	}), false)
	tlsSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/f", http.StatusFound)
	}), true)
	opt := testOptions(tlsSrv.host(), plain.host())
	opt.Token = token
	opt.RootCAs = tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	f := newTestFetcher(t, opt)
	got, err := f.Fetch(context.Background(), tlsSrv.URL+"/f")
	if err != nil {
		t.Fatal(err)
	}
	got.Discard()
	if a := plainAuth.Load(); a != "" || plain.requests.Load() != 1 {
		t.Fatalf("plain http server saw Authorization %q, want none", a)
	}
	reliability.Record(t, "security", "attachment https host redirects to plain http", reliability.Refused,
		"the token is removed from the request over http")
}

// TestFetchMisbehavingServers: partial and conditional answers, a slowloris header, a
// header too large or with control characters are failures, never a captured file.
func TestFetchMisbehavingServers(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/206":
			w.Header().Set("Content-Range", "bytes 0-0/10")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("x"))
		case "/control":
			w.Header()["Content-Type"] = []string{"text/html\x01; x=\x1b[31m"}
			w.Write([]byte("x"))
		case "/huge-header":
			w.Header().Set("X-Big", strings.Repeat("a", 100<<10))
			w.Write([]byte("x"))
		case "/slowloris":
			// The header, one byte at a time, never ending.
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.1 200 OK\r\nX-Slow: ")
			for buf.Flush() == nil {
				time.Sleep(10 * time.Millisecond)
				buf.WriteString("a")
			}
		case "/trickle":
			w.(http.Flusher).Flush()
			for {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}), false)
	f := newTestFetcher(t, testOptions(srv.host()))
	for _, tt := range []struct{ path, reason string }{
		{"/304", ReasonHTTPStatus}, {"/206", ReasonHTTPStatus}, {"/control", ReasonNetwork},
		{"/huge-header", ReasonNetwork}, {"/slowloris", ReasonTimeout}, {"/trickle", ReasonTimeout},
	} {
		_, err := f.Fetch(context.Background(), srv.URL+tt.path)
		var fl *Failure
		if !errors.As(err, &fl) || fl.Reason != tt.reason {
			t.Errorf("Fetch(%s) = %v, want %s", tt.path, err, tt.reason)
		}
	}
	reliability.Record(t, "fault", "attachment server answers 304, 206, a header too large or with control characters, or trickles", reliability.CleanFailure,
		"recorded as failed (http_status, network, timeout), nothing stored")
}

// TestCaptureContentEncoding: the index records a file's encoding as served, and a later
// day that links the same URL (from its URL record, no fetch) records it too.
func TestCaptureContentEncoding(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("\x1f\x8bpdf"))
	}), false)
	next := testDay.Next()
	fs := sealDays(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/f.pdf"}}}, testDay, next)
	key := newKey(t)
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), key, next.End().Add(time.Hour))
	ctx := context.Background()
	for _, d := range []archiver.Day{testDay, next} {
		if _, err := c.CaptureDay(ctx, acme, d); err != nil {
			t.Fatal(err)
		}
		ix, err := LatestIndex(ctx, fs, acme, d, c.TrustedKeys)
		if err != nil || ix == nil {
			t.Fatalf("LatestIndex = %v, %v", ix, err)
		}
		if e := ix.Entries[0]; e.Outcome != Captured || e.ContentEncoding != "gzip" || e.ContentType != "application/pdf" {
			t.Fatalf("%s: entry %+v, want captured, gzip-encoded application/pdf", d, e)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("server got %d requests, want 1", n)
	}
}

// TestCaptureFragmentsFetchOnce: URLs that differ only by their fragment (#…, never
// sent), or by the case of their scheme, are one request: fetched once per day, and a later day that links another
// fragment of it fetches nothing. Each URL still gets its own entry and URL record.
func TestCaptureFragmentsFetchOnce(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	next := testDay.Next()
	_, port, _ := strings.Cut(srv.host(), ":")
	// The same request spelled three more ways: scheme and host in capitals, an empty port.
	other := []string{"HTTP://127.0.0.1:" + port + "/good/a", "http://[::ffff:127.0.0.1]:" + port + "/good/a#top"}
	fs := sealDays(t, []msg{{"m-1", "u-ada", append([]string{srv.URL + "/good/a#page=1", srv.URL + "/good/a#page=2", srv.URL + "/good/a"}, other...)}}, testDay)
	key := newKey(t)
	ctx := context.Background()
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), key, next.End().Add(time.Hour))
	res, err := c.CaptureDay(ctx, acme, testDay)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 2 || res.Captured != 5 || res.Fetched != 2 {
		t.Fatalf("%d requests, %+v; want 2 requests (the IPv4-mapped spelling is another host), 5 captured, 2 fetched", n, res)
	}
	for _, u := range []string{srv.URL + "/good/a#page=1", srv.URL + "/good/a#page=2", srv.URL + "/good/a"} {
		if rec, ok, err := readURLRecord(ctx, fs, acme, u); err != nil || !ok || rec.SHA256 != sumOf("contents of a") {
			t.Fatalf("URL record of %s: %+v, %v, %v", u, rec, ok, err)
		}
	}
	// Another day, another fragment: the file is known.
	fs2 := sealDays(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/b#x"}}, {"m-2", "u-ada", []string{srv.URL + "/good/b#y"}}}, testDay, next)
	c2 := newCapturer(t, fs2, c.Fetcher, key, next.End().Add(time.Hour))
	c2.Ledger.Store = fs2
	before := srv.requests.Load()
	for _, d := range []archiver.Day{testDay, next} {
		if res, err := c2.CaptureDay(ctx, acme, d); err != nil || res.Captured != 2 {
			t.Fatalf("%s: %+v, %v", d, res, err)
		}
	}
	if n := srv.requests.Load() - before; n != 1 {
		t.Fatalf("two days linking two fragments of one URL made %d requests, want 1", n)
	}
	reliability.Record(t, "operations", "attachment URLs that differ only by their fragment", reliability.Kept,
		"one request for them all, each URL its own entry and URL record")
}

// TestFetchTokenRotation: a token rotated while serve runs is used from the next fetch
// on (the token file is read again), and a token source that fails stops the capture
// instead of recording failures against the files.
func TestFetchTokenRotation(t *testing.T) {
	var saw atomic.Value
	saw.Store("")
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw.Store(r.Header.Get("Authorization"))
		w.Write([]byte("ok"))
	}), true)
	var token atomic.Value
	token.Store("first")
	opt := testOptions(srv.host())
	opt.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	opt.TokenSource = func() (string, error) {
		s := token.Load().(string)
		if s == "" {
			return "", errors.New("token file unreadable")
		}
		return s, nil
	}
	f := newTestFetcher(t, opt)
	for _, want := range []string{"first", "second"} {
		token.Store(want)
		got, err := f.Fetch(context.Background(), srv.URL+"/f")
		if err != nil {
			t.Fatal(err)
		}
		got.Discard()
		if a := saw.Load(); a != "Bearer "+want {
			t.Fatalf("server saw %q, want the token %q", a, want)
		}
	}
	n := srv.requests.Load()
	token.Store("")
	_, err := f.Fetch(context.Background(), srv.URL+"/f")
	var fl *Failure
	if err == nil || errors.As(err, &fl) || srv.requests.Load() != n {
		t.Fatalf("Fetch with an unreadable token = %v, want an error that is not an outcome, and no request", err)
	}
	token.Store("two\nlines")
	if _, err := f.Fetch(context.Background(), srv.URL+"/f"); err == nil || errors.As(err, &fl) || srv.requests.Load() != n {
		t.Fatalf("Fetch with a token of two lines = %v, want an error that is not an outcome, and no request", err)
	}
	reliability.Record(t, "operations", "attachment token rotated while serve runs", reliability.Kept,
		"the token file is read at each fetch; one unreadable stops the capture, recording nothing")
}

// TestCaptureTenThousandReferences: one message linking 10,000 URLs (100 files, each
// linked 100 times, and 100 links off the list) costs what its distinct URLs cost, not its
// references: one request per file, one URL-record read per distinct URL, one index.
func TestCaptureTenThousandReferences(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	var urls []string
	for i := range 10000 {
		switch {
		case i%100 == 99:
			urls = append(urls, fmt.Sprintf("http://off-list.example/f%d", i))
		default:
			urls = append(urls, fmt.Sprintf("%s/good/f%d", srv.URL, i%100))
		}
	}
	fs := sealDay(t, []msg{{"m-1", "u-ada", urls}})
	store := storetest.NewCounting(fs)
	c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), newKey(t), testDay.End().Add(time.Hour))
	c.RetryFor = 0
	ctx := context.Background()
	store.Reset()
	res, err := c.CaptureDay(ctx, acme, testDay)
	if err != nil {
		t.Fatal(err)
	}
	counts := store.Reset()
	if res.References != 10000 || res.Captured != 9900 || res.Failed != 100 || srv.requests.Load() != 99 {
		t.Fatalf("%+v, %d requests; want 10000 references, 9900 captured, 100 failed, 99 requests", res, srv.requests.Load())
	}
	// Reads: the sealed day (manifest, export; layout-dependent few), the index listing,
	// and one URL record per distinct URL (99 files + 100 off the list).
	if counts["Open"] > 199+10 || counts["Create"] > 99*3+1 {
		t.Fatalf("capture of 10,000 references: %v, want at most %d opens and %d creates", counts, 199+10, 99*3+1)
	}
	t.Logf("10,000 references: %v", counts)
	if res, err := c.CaptureDay(ctx, acme, testDay); err != nil || res.Revision != 0 || srv.requests.Load() != 99 {
		t.Fatalf("rerun: %+v, %v", res, err)
	}
	if n := store.Reset().Requests(); n > 4 {
		t.Fatalf("rerun made %d store requests, want at most 4", n)
	}
	reliability.Record(t, "operations", "one message linking 10,000 attachment URLs", reliability.Kept,
		"requests and URL-record reads per distinct URL, one index; a rerun reads the index only")
}

// TestCaptureAfterFileDeleted: a file removed from the store behind capture's back is not
// fetched again by a rerun or a later day that links it (a file fetched once is never
// fetched again: the platform's file may have changed since, and the index must say what
// was captured then); verify reports it missing (TestVerifyOrg, "file removed").
func TestCaptureAfterFileDeleted(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	next := testDay.Next()
	fs := sealDays(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/good/a"}}}, testDay, next)
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), newKey(t), next.End().Add(time.Hour))
	ctx := context.Background()
	if _, err := c.CaptureDay(ctx, acme, testDay); err != nil {
		t.Fatal(err)
	}
	file := FileKey(acme, [32]byte(mustHex(t, sumOf("contents of a"))))
	gone := alteringStore{Store: fs, key: file} // the file removed (the folder store refuses a Delete)
	c.Ledger.Store = gone
	for _, d := range []archiver.Day{testDay, next} {
		res, err := c.CaptureDay(ctx, acme, d)
		if err != nil || res.Fetched != 0 || res.Captured != 1 {
			t.Fatalf("%s after the file was deleted: %+v, %v; want captured from its URL record, nothing fetched", d, res, err)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("server got %d requests, want 1", n)
	}
	var f findings
	if _, err := VerifyOrg(ctx, gone, acme, c.TrustedKeys, &f); err != nil || len(f.problems) == 0 || !strings.Contains(strings.Join(f.problems, "\n"), "missing") {
		t.Fatalf("verify after the file was deleted: %v, %+v; want it reported missing", err, f)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRetryWindowEdge: at the instant the retry window of a day ends (midnight plus
// attachments.retryFor), the retry pass's first day (RetryFrom) and the day's own capture
// agree, in any time zone of the clock: retried just before, not at or after.
func TestRetryWindowEdge(t *testing.T) {
	var up atomic.Bool
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("x"))
	}), false)
	key := newKey(t)
	ctx := context.Background()
	end := testDay.End().Add(72 * time.Hour)
	zone := time.FixedZone("UTC+14", 14*3600)
	for _, tt := range []struct {
		name  string
		now   time.Time
		retry bool
	}{
		{"just before", end.Add(-time.Nanosecond), true},
		{"just before, in UTC+14", end.Add(-time.Nanosecond).In(zone), true},
		{"at the end", end, false},
		{"at the end, in UTC+14", end.In(zone), false},
		{"after", end.Add(time.Second), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up.Store(false)
			fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/f"}}})
			c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), key, testDay.End().Add(time.Hour))
			if res, err := c.CaptureDay(ctx, acme, testDay); err != nil || res.Failed != 1 {
				t.Fatalf("first capture: %+v, %v", res, err)
			}
			up.Store(true)
			c.Now = func() time.Time { return tt.now }
			inWindow := !c.RetryFrom(tt.now).After(testDay)
			res, err := c.CaptureDay(ctx, acme, testDay)
			if err != nil {
				t.Fatal(err)
			}
			if retried := res.Revision != 0; retried != tt.retry || inWindow != tt.retry {
				t.Fatalf("at %s: retried %v, RetryFrom %s (day in window %v); want %v", tt.now, retried, c.RetryFrom(tt.now), inWindow, tt.retry)
			}
		})
	}
}

// TestAllowedSpellings: how URLs spelled in records compare with the entries, without a
// request (the dial is checked again against the entries, whatever net/http makes of the
// name).
func TestAllowedSpellings(t *testing.T) {
	f := newTestFetcher(t, testOptions("files.example", "cdn.example:8443", "tls.example:443", "10.0.0.5", "[2001:db8::5]:8443", "xn--bcher-kva.example"))
	tests := []struct {
		url  string
		want bool
	}{
		{"https://files.example/a", true},
		{"http://files.example/a", true},
		{"https://FILES.Example/a", true},          // host names are case-insensitive
		{"https://files.example:443/a", true},      // the default port spelled out
		{"http://files.example:80/a", true},        //
		{"http://files.example:443/a", false},      // https's port over http: not the default
		{"https://files.example:8443/a", false},    // another port
		{"https://files.example./a", false},        // trailing dot: not the entry as written
		{"https://files.example.evil/a", false},    // a suffix
		{"https://evil.files.example/a", false},    // a subdomain
		{"https://cdn.example/a", false},           // the entry's port only
		{"https://cdn.example:8443/a", true},       //
		{"https://tls.example/a", true},            // an entry with the default port
		{"http://tls.example/a", false},            // port 80 is not 443
		{"http://10.0.0.5/a", true},                //
		{"http://[::ffff:10.0.0.5]/a", true},       // the same address, IPv4-mapped
		{"http://[::ffff:a00:5]/a", true},          //
		{"http://167772165/a", false},              // decimal
		{"http://012.0.0.5/a", false},              // octal
		{"http://[2001:db8::5]:8443/a", true},      //
		{"http://[2001:DB8:0::5]:8443/a", true},    // another spelling of the same address
		{"http://[2001:db8::5]/a", false},          // the entry's port only
		{"https://xn--bcher-kva.example/a", true},  // IDN: the entry is the punycode
		{"https://bücher.example/a", false},        // the same name in Unicode: refused (list it as punycode, link it so)
		{"https://user:pw@files.example/a", false}, // user information
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if got := f.Allowed(u); got != tt.want {
			t.Errorf("Allowed(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestRequestURLSpellings(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"https://Files.Example:443/a/b?x=1#p", "https://files.example/a/b?x=1"},
		{"HTTP://files.example:80/a", "http://files.example/a"},
		{"http://files.example:443/a", "http://files.example:443/a"},
		{"http://[2001:DB8::5]:8443/a%2Fb", "http://[2001:db8::5]:8443/a%2Fb"},
		{"https://bücher.example/a#x", "https://bücher.example/a"},
		{"https://u:p@files.example/a#x", "https://u:p@files.example/a"},
		{"ftp://files.example/a#x", "ftp://files.example/a"},
		{"https://files.example/a?", "https://files.example/a?"},
	} {
		if got := withoutFragment(tt.raw); got != tt.want {
			t.Errorf("withoutFragment(%s) = %s, want %s", tt.raw, got, tt.want)
		}
	}
}

// TestFetchLongURL: a URL longer than any server takes (maxURL) is refused without a
// request, as bad_url; a long signed URL below it is fetched.
func TestFetchLongURL(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	f := newTestFetcher(t, testOptions(srv.host()))
	got, err := f.Fetch(context.Background(), srv.URL+"/good/a?sig="+strings.Repeat("s", 4<<10))
	if err != nil {
		t.Fatalf("a 4 KiB signed URL: %v", err)
	}
	got.Discard()
	n := srv.requests.Load()
	_, err = f.Fetch(context.Background(), srv.URL+"/good/a?sig="+strings.Repeat("s", maxURL))
	var fl *Failure
	if !errors.As(err, &fl) || fl.Reason != ReasonBadURL || len(fl.Detail) > 300 || srv.requests.Load() != n {
		t.Fatalf("a URL over %d bytes: %v, want bad_url without a request", maxURL, err)
	}
	reliability.Record(t, "input", "attachment URL of hundreds of KiB", reliability.Refused,
		"bad_url without a request, over 64 KiB")
}

// peakStore counts the reads of URL records in flight at once; each waits, for a while,
// until want of them are in flight, so that reads made one after the other show as a
// peak of 1 and reads made together as want.
type peakStore struct {
	archiver.Store
	want           int64
	inflight, peak atomic.Int64
	reached        chan struct{}
	once           sync.Once
}

func (s *peakStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.Contains(key, "/urls/") {
		n := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
		}
		if n >= s.want {
			s.once.Do(func() { close(s.reached) })
		}
		select {
		case <-s.reached:
		case <-time.After(100 * time.Millisecond): // reads one at a time never reach want
		}
	}
	return s.Store.Open(ctx, key)
}

// TestCaptureReadsURLRecordsTogether: a day linking many URLs reads their URL records
// attachments.concurrency at a time, not one after the other (10,000 reads of an S3
// store one at a time take minutes).
func TestCaptureReadsURLRecordsTogether(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	var urls []string
	for i := range 16 {
		urls = append(urls, fmt.Sprintf("http://off-list.example/f%d", i))
	}
	urls = append(urls, srv.URL+"/good/a")
	fs := sealDay(t, []msg{{"m-1", "u-ada", urls}})
	store := &peakStore{Store: fs, want: 4, reached: make(chan struct{})}
	c := newCapturer(t, store, newTestFetcher(t, testOptions(srv.host())), newKey(t), testDay.End().Add(time.Hour))
	res, err := c.CaptureDay(context.Background(), acme, testDay)
	if err != nil || res.Captured != 1 || res.Failed != 16 {
		t.Fatalf("capture: %+v, %v", res, err)
	}
	if p := store.peak.Load(); p != 4 {
		t.Fatalf("peak URL-record reads in flight %d, want 4 (attachments.concurrency)", p)
	}
	reliability.Record(t, "operations", "attachment day linking thousands of URLs", reliability.Kept,
		"URL records read attachments.concurrency at a time")
}

// TestRetryPassSpacesAttempts: serve's retry pass runs after every scheduler tick (every
// schedule.retryInterval, 5 minutes, while a partition is late); a link that keeps
// failing is tried again, with a new index revision, at most once per
// attachments.retryEvery, not at every pass.
func TestRetryPassSpacesAttempts(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/missing"}}})
	start := testDay.End().Add(time.Hour)
	now := start
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), newKey(t), now)
	c.Now = func() time.Time { return now }
	c.RetryEvery = time.Hour
	ctx := context.Background()
	if _, err := c.CaptureDay(ctx, acme, testDay); err != nil {
		t.Fatal(err)
	}
	// Two hours of passes, one every 5 minutes.
	for now = start.Add(5 * time.Minute); !now.After(start.Add(2 * time.Hour)); now = now.Add(5 * time.Minute) {
		if err := c.CaptureRecent(ctx, acme, testDay, testDay, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := LatestIndex(ctx, fs, acme, testDay, c.TrustedKeys)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 3 || ix.Revision != 3 || ix.Entries[0].Attempts != 3 {
		t.Fatalf("24 passes over 2 hours: %d requests, index revision %d (%d attempts); want 3 each (at capture, after 1 and 2 hours)",
			n, ix.Revision, ix.Entries[0].Attempts)
	}
	// The capture after a seal (run --date) is not spaced: an operator who fixed the
	// cause reruns the day and sees it tried at once.
	now = now.Add(time.Minute)
	if res, err := c.CaptureDay(ctx, acme, testDay); err != nil || res.Revision != 4 || srv.requests.Load() != 4 {
		t.Fatalf("capture after a seal: %+v, %v, %d requests", res, err, srv.requests.Load())
	}
	reliability.Record(t, "operations", "attachment link failing at every retry pass (a pass every 5 minutes)", reliability.Kept,
		"tried again, with a new index revision, at most once per attachments.retryEvery (was every pass: 24 revisions in 2 hours, now 2)")
}

// TestFetchTokenHosts: an allowed host may be shared (a cloud storage or CDN domain where
// anyone hosts files): a chat user who links their own file there must not receive the
// platform's token. With TokenHosts set, only those hosts get it.
func TestFetchTokenHosts(t *testing.T) {
	const token = "cvtest-secret-token"
	seen := func() (*server, *atomic.Value) {
		var saw atomic.Value
		saw.Store("")
		return newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			saw.Store(r.Header.Get("Authorization"))
			w.Write([]byte("ok"))
		}), true), &saw
	}
	platform, platformSaw := seen()
	shared, sharedSaw := seen()
	opt := testOptions(platform.host(), shared.host())
	opt.Token, opt.TokenHosts = token, []string{platform.host()}
	opt.RootCAs = platform.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs // one test CA for both
	f := newTestFetcher(t, opt)
	for _, u := range []string{platform.URL + "/f", shared.URL + "/attacker/f"} {
		got, err := f.Fetch(context.Background(), u)
		if err != nil {
			t.Fatalf("Fetch(%s): %v", u, err)
		}
		got.Discard()
	}
	if got := platformSaw.Load(); got != "Bearer "+token {
		t.Fatalf("the token host saw %q, want the token", got)
	}
	if got := sharedSaw.Load(); got != "" {
		t.Fatalf("an allowed host not in TokenHosts saw %q, want no token", got)
	}
	reliability.Record(t, "security", "attachment link to a user's own file on an allowed shared host (token theft)", reliability.Refused,
		"the token goes to attachments.tokenHosts only, when set")
}

// TestCaptureRecordsRedirect: a file served after a redirect (to the same host or another
// listed one) records where its bytes came from, so that the index does not say the
// linked URL served bytes another URL did.
func TestCaptureRecordsRedirect(t *testing.T) {
	srv := newServer(t, filesHandler("", 1<<20), false)
	fs := sealDay(t, []msg{{"m-1", "u-ada", []string{srv.URL + "/redirect-on", srv.URL + "/good/a"}}})
	c := newCapturer(t, fs, newTestFetcher(t, testOptions(srv.host())), newKey(t), testDay.End().Add(time.Hour))
	ctx := context.Background()
	if _, err := c.CaptureDay(ctx, acme, testDay); err != nil {
		t.Fatal(err)
	}
	ix, err := LatestIndex(ctx, fs, acme, testDay, c.TrustedKeys)
	if err != nil || ix == nil {
		t.Fatalf("LatestIndex = %v, %v", ix, err)
	}
	if e := ix.Entries[0]; e.Outcome != Captured || e.ServedFrom != srv.URL+"/good/moved" {
		t.Fatalf("redirected entry %+v, want servedFrom %s", e, srv.URL+"/good/moved")
	}
	if e := ix.Entries[1]; e.Outcome != Captured || e.ServedFrom != "" {
		t.Fatalf("entry %+v, want no servedFrom (not redirected)", e)
	}
	reliability.Record(t, "input", "attachment URL redirected to another URL on the list", reliability.Kept,
		"captured, the index records the URL that served the bytes (servedFrom)")
}
