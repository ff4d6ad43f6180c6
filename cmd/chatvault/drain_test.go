//go:build unix

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/internal/reliability"
)

// onLine is a log writer that calls fn once, the first time a line holding marker is
// written.
type onLine struct {
	mu     sync.Mutex
	marker string
	fn     func()
	done   bool
}

func (w *onLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && strings.Contains(string(p), w.marker) {
		w.done = true
		w.fn()
	}
	return len(p), nil
}

// blockedIn reports whether some goroutine of this process is in every one of fns
// (function names as runtime stacks print them): one goroutine's stack holds them all.
func blockedIn(fns ...string) bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !slices.ContainsFunc(fns, func(fn string) bool { return !strings.Contains(g, fn) }) {
			return true
		}
	}
	return false
}

// TestServeShutdownKeepsTheRecordOfACutRequest: a request still running at
// http.shutdownTimeout is cut (the server closes its connection), but its handler returns
// only once what it waits on (here, the store) answers, and it appends its access record
// then. Serve must write the audit after those handlers have returned, not as soon as the
// connections are closed: otherwise the record of exactly the request that was cut, the
// one an examiner asks about, is lost on SIGTERM. The store's read is held by a FIFO in
// place of the export object, released once serve says it cut the request.
//
// Serve promises to wait for the cut handlers up to another http.shutdownTimeout, not for
// ever: the test's timeout is the time the handler has, after the release, to wake up,
// fail its read and append its record. It was 100ms, which a loaded machine under -race
// exceeded now and then (the record was then lost, as promised, and the test failed);
// a 150ms pause before the release failed it every time. It is 2s now. The wait for the
// request to reach the store is for the handler's own open (export's goroutine), not any
// goroutine's: serve's freshness refresh opens store objects too at start.
func TestServeShutdownKeepsTheRecordOfACutRequest(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	eventlog := copyEventLog(t)
	store := t.TempDir()
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "info"}
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitOK && code != exitQuarantined {
		t.Fatalf("run: %d %s", code, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %s", errOut)
	}
	token := strings.TrimSpace(out)
	exports, _ := filepath.Glob(filepath.Join(store, "orgs", acme, "days", "2026-11-22", "events-*.jsonl.gz"))
	if len(exports) != 1 {
		t.Fatalf("export objects: %v", exports)
	}
	os.Chmod(filepath.Dir(exports[0]), 0o700)
	if err := os.Remove(exports[0]); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(exports[0], 0o600); err != nil {
		t.Fatal(err)
	}

	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_VERIFY_INTERVAL", "0") // continuous verification would read the FIFO too
	t.Setenv("CHATVAULT_AUDIT_FLUSHINTERVAL", "1m")
	t.Setenv("CHATVAULT_HTTP_SHUTDOWNTIMEOUT", "2s")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	addr := make(chan string, 1)
	serveHooks.listening = func(a string) { addr <- a }
	t.Cleanup(func() { serveHooks.listening = nil })
	// Once serve has cut the request, the store answers: opening the FIFO's other end
	// lets the handler's open return (with an object that is not a regular file, a 500).
	release := &onLine{marker: "requests still running at the deadline were cut", fn: func() {
		go func() {
			if f, err := os.OpenFile(exports[0], os.O_WRONLY, 0); err == nil {
				f.Close()
			}
		}()
	}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, release) }()
	base := "http://" + <-addr

	go func() {
		req, _ := http.NewRequest("POST", base+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	// Wait (for a condition, not a time) until the handler is inside the store's open.
	for deadline := time.Now().Add(30 * time.Second); !blockedIn("fsstore.(*Store).open", "httpapi.(*Server).export"); {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the store")
		}
		runtime.Gosched()
	}
	stop() // SIGTERM
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}

	today := archiver.DayOf(time.Now())
	from := archiver.DayOf(today.Start().Add(-time.Hour))
	code, out, errOut = chatvault(t, append([]string{"audit", "--org", acme, "--from", from.String(), "--to", today.String(), "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	var recs []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if line != "" && json.Unmarshal([]byte(line), &r) == nil {
			recs = append(recs, r)
		}
	}
	if len(recs) != 1 || recs[0].Date != "2026-11-22" || recs[0].Complete {
		t.Fatalf("audit after shutdown holds %+v; want the cut request's record (incomplete)", recs)
	}
	reliability.Record(t, "crash", "SIGTERM while a request waits on the store past http.shutdownTimeout", reliability.Recovered,
		"the request is cut, serve waits (up to another http.shutdownTimeout) for its handler to return, then writes the audit: the cut request's record is kept")
}

// TestServeMetricsAddrTakenExits: http.metricsAddr that cannot be listened on (the port is
// taken, a typo of the API's own address) must stop serve with an error at start. It
// waited instead, forever and deaf to SIGTERM, for the audit flusher that nothing stopped.
func TestServeMetricsAddrTakenExits(t *testing.T) {
	cleanEnv(t)
	eventlog := copyEventLog(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", taken.Addr().String())
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan int, 1)
	var errOut strings.Builder
	go func() {
		done <- Main(ctx, []string{"serve", "--eventlog", eventlog, "--store", t.TempDir(), "--log-format", "json"}, io.Discard, &syncWriter{w: &errOut})
	}()
	select {
	case code := <-done:
		if code == exitOK {
			t.Fatalf("serve with a taken http.metricsAddr: exit %d", code)
		}
	case <-time.After(20 * time.Second):
		stop() // as SIGTERM would
		select {
		case <-done:
			t.Fatal("serve with a taken http.metricsAddr kept running until SIGTERM")
		case <-time.After(10 * time.Second):
			t.Fatal("serve with a taken http.metricsAddr hangs, even after SIGTERM")
		}
	}
	reliability.Record(t, "input", "http.metricsAddr that cannot be listened on (port taken)", reliability.CleanFailure,
		"serve stops at start with an error naming http.metricsAddr, instead of hanging")
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestServeAfterKeyRotation: serve refuses manifests not signed by a trusted key, so it
// must still trust what it may serve: days signed by the old key after a recorded
// rotation, and what its own signing.keyFile signs when signing.publicKeyFile lags behind
// (lists another key only): refusing them would be an outage, not a protection.
func TestServeAfterKeyRotation(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup seals 2026-11-22 and leaves the environment serve starts with.
		setup func(t *testing.T, common []string, oldKey, newKey string)
		row   string
	}{
		{
			name: "rotation recorded, signing.keyFile on the new key",
			setup: func(t *testing.T, common []string, oldKey, newKey string) {
				t.Setenv("CHATVAULT_SIGNING_KEYFILE", oldKey)
				if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitOK && code != exitQuarantined {
					t.Fatalf("run: %d %s", code, errOut)
				}
				if code, _, errOut := chatvault(t, append([]string{"keys", "rotate", "--new-key", newKey, "--reason", "scheduled"}, common...)...); code != exitOK {
					t.Fatalf("keys rotate: %d %s", code, errOut)
				}
				t.Setenv("CHATVAULT_SIGNING_KEYFILE", newKey)
			},
			row: "serve after a signing key rotation, signing.keyFile on the new key",
		},
		{
			name: "signing.publicKeyFile lists only another key",
			setup: func(t *testing.T, common []string, oldKey, newKey string) {
				t.Setenv("CHATVAULT_SIGNING_KEYFILE", oldKey)
				if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitOK && code != exitQuarantined {
					t.Fatalf("run: %d %s", code, errOut)
				}
				_, out, _ := chatvault(t, "keys", "public", "--key", newKey)
				pub := filepath.Join(t.TempDir(), "trusted.pub")
				writeFile(t, pub, []byte(out))
				t.Setenv("CHATVAULT_SIGNING_PUBLICKEYFILE", pub)
			},
			row: "serve whose signing.publicKeyFile lags behind its signing.keyFile",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			eventlog := copyEventLog(t)
			store := t.TempDir()
			keys := t.TempDir()
			oldKey, newKey := filepath.Join(keys, "old.pem"), filepath.Join(keys, "new.pem")
			tokensPath := filepath.Join(t.TempDir(), "tokens.json")
			common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
			t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
			for _, k := range []string{oldKey, newKey} {
				if code, _, errOut := chatvault(t, append([]string{"keys", "generate", "-o", k}, common...)...); code != exitOK {
					t.Fatalf("keys generate: %s", errOut)
				}
			}
			tc.setup(t, common, oldKey, newKey)
			code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery"}, common...)...)
			if code != exitOK {
				t.Fatalf("token create: %s", errOut)
			}
			token := strings.TrimSpace(out)

			t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
			t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
			t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
			addr := make(chan string, 1)
			serveHooks.listening = func(a string) { addr <- a }
			t.Cleanup(func() { serveHooks.listening = nil })
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan int, 1)
			go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()
			var base string
			select {
			case a := <-addr:
				base = "http://" + a
			case code := <-done:
				t.Fatalf("serve exited %d", code)
			}
			defer func() { stop(); <-done }()
			req, _ := http.NewRequest("POST", base+"/messageevent.export", strings.NewReader(`{"date":"2026-11-22"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
			}
			reliability.Record(t, "security", tc.row, reliability.Kept,
				"the day is served: trusted are the verify keys, serve's own signing key, and the keys a rotation statement signed by both leads from")
		})
	}
}
