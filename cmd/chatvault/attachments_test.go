package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
)

// linkTo points the sample day's files.example link at base (a local server).
func linkTo(t *testing.T, logDir, base string) {
	t.Helper()
	part := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(part, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte(strings.ReplaceAll(string(b), "https://files.example", base)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunCapturesAttachments runs `run --date` with attachments.enabled on the sample day,
// whose files.example link is served by a local server: the file is captured for both
// organizations that see the record, the links to hosts not on the list are recorded as
// failed, a rerun fetches nothing, and verify still passes.
func TestRunCapturesAttachments(t *testing.T) {
	inEachLayout(t, testRunCapturesAttachments)
}

func testRunCapturesAttachments(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/d/3" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF the contract"))
	}))
	t.Cleanup(srv.Close)
	logDir := sampleLogCopy(t)
	linkTo(t, logDir, srv.URL)
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir, "--log-format", "json"}
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))

	code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "attachments "+acme+": 1 captured, 2 failed, 1 fetched") {
		t.Fatalf("run output lacks Acme's attachments line:\n%s", out)
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("server got %d requests, want 2 (the file, once per organization)", n)
	}
	ix, err := acmeIndex(t, storeDir)
	if err != nil || ix == nil {
		t.Fatalf("Acme's attachment index: %v, %v", ix, err)
	}
	reasons := map[string]string{}
	for _, e := range ix.Entries {
		reasons[e.URL] = e.Outcome + " " + e.Reason
	}
	want := map[string]string{
		srv.URL + "/d/3?x=1&y=2":              "captured ",
		"https://tracker.example/items/42":    "failed host_not_allowed",
		"https://cdn.example/emoji/party.gif": "failed host_not_allowed",
	}
	for u, w := range want {
		if reasons[u] != w {
			t.Errorf("%s: %q, want %q (index %v)", u, reasons[u], w, reasons)
		}
	}

	code, out, errOut = chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitOK || strings.Contains(out, "attachments ") || requests.Load() != 2 {
		t.Fatalf("rerun: exit %d, %d requests in all\n%s%s", code, requests.Load(), out, errOut)
	}
	code, out, errOut = chatvault(t, append([]string{"verify"}, common...)...)
	if code != exitOK {
		t.Fatalf("verify after capture: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "run with attachments.enabled, then a rerun", reliability.Kept,
		"files captured after sealing, off-list links recorded as failed; the rerun fetches nothing")
}

// TestRunRefusesOpenAttachmentToken refuses a token file every user of the host may read
// (exit 2, naming the file, never its contents), and seals nothing.
func TestRunRefusesOpenAttachmentToken(t *testing.T) {
	cleanEnv(t)
	const secret = "platform-token-do-not-print"
	tokenFile := filepath.Join(t.TempDir(), "files.token")
	if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", "files.example")
	t.Setenv("CHATVAULT_ATTACHMENTS_TOKENFILE", tokenFile)
	storeDir := t.TempDir()
	code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", "../../testdata/eventlog", "--store", storeDir)
	if code != exitUsage || !strings.Contains(errOut, tokenFile) || strings.Contains(out+errOut, secret) {
		t.Fatalf("run with a world-readable token file: exit %d\n%s%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(storeDir); len(entries) > 1 {
		t.Fatalf("store holds %d entries after the refusal, want nothing sealed", len(entries))
	}
	reliability.Record(t, "security", "attachments.tokenFile readable by every user of the host", reliability.Refused,
		"exit 2 naming the file; the token is never printed")
}

// TestRunCatchUpRetriesAttachments: the catch-up captures after sealing, and a later
// catch-up, which seals nothing, retries the capture that failed (a new index revision),
// then has nothing left to do.
func TestRunCatchUpRetriesAttachments(t *testing.T) {
	inEachLayout(t, testRunCatchUpRetriesAttachments)
}

func testRunCatchUpRetriesAttachments(t *testing.T) {
	setRunClock(t, "2026-11-25T00:30:00Z")
	var up atomic.Bool
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if !up.Load() {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("%PDF the contract"))
	}))
	t.Cleanup(srv.Close)
	logDir := catchUpLog(t)
	linkTo(t, logDir, srv.URL)
	storeDir := t.TempDir()
	args := []string{"run", "--eventlog", logDir, "--store", storeDir, "--log-format", "json"}
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))

	if code, out, errOut := chatvault(t, args...); code != exitQuarantined || !strings.Contains(out, "attachments "+acme+": 0 captured, 3 failed") {
		t.Fatalf("catch-up: exit %d\n%s%s", code, out, errOut)
	}
	up.Store(true)
	code, out, errOut := chatvault(t, args...)
	if code != exitOK || !strings.Contains(out, "attachments 2026-11-22 "+acme+": 1 captured, 2 failed, 1 fetched") {
		t.Fatalf("second catch-up: exit %d\n%s%s", code, out, errOut)
	}
	ix, err := acmeIndex(t, storeDir)
	if err != nil || ix == nil || ix.Revision != 2 || ix.Counts.Captured != 1 {
		t.Fatalf("Acme's index after the retry: %+v, %v; want revision 2 with the file captured", ix, err)
	}
	n := requests.Load()
	code, out, errOut = chatvault(t, args...)
	if code != exitOK || strings.Contains(out, "attachments ") || requests.Load() != n {
		t.Fatalf("third catch-up: exit %d, %d more requests\n%s%s", code, requests.Load()-n, out, errOut)
	}
	reliability.Record(t, "fault", "attachment server unavailable during the nightly run", reliability.Recovered,
		"the next catch-up retries the failed capture (new index revision), then fetches nothing")
}

// TestServeCapturesAttachments: serve's scheduler seals the sample day and its capture
// loop captures each organization's links right after, off the scheduler's goroutine.
func TestServeCapturesAttachments(t *testing.T) {
	cleanEnv(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte("%PDF the contract"))
	}))
	t.Cleanup(srv.Close)
	eventlog := copyEventLog(t)
	linkTo(t, eventlog, srv.URL)
	storeDir := t.TempDir()
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	t.Setenv("CHATVAULT_VERIFY_INTERVAL", "0")
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))
	captured := make(chan attach.DayResult, 16)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	attachHooks.captured = func(r attach.DayResult, err error) {
		if err != nil {
			t.Errorf("capture of %s %s: %v", r.Org, r.Day, err)
		}
		captured <- r
	}
	t.Cleanup(func() { serveHooks.clock, attachHooks.captured = nil, nil })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"serve", "--eventlog", eventlog, "--store", storeDir, "--log-format", "json", "--log-level", "error"}, io.Discard, io.Discard)
	}()
	want := map[string]bool{acme: true, globexID: true}
	for len(want) > 0 {
		select {
		case r := <-captured:
			if r.Day.String() == "2026-11-22" && r.Revision == 1 && r.Captured == 1 {
				delete(want, r.Org)
			}
		case <-time.After(time.Minute):
			t.Fatalf("no capture of %v", want)
		}
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d", code)
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("file server got %d requests, want 2 (once per organization)", n)
	}
}

// TestVerifyReportsTamperedAttachment: `chatvault verify` re-hashes captured attachments
// against their indexes; a file changed on disk after its capture is reported.
func TestVerifyReportsTamperedAttachment(t *testing.T) {
	cleanEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("%PDF the contract")) }))
	t.Cleanup(srv.Close)
	logDir := sampleLogCopy(t)
	linkTo(t, logDir, srv.URL)
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir, "--log-format", "json"}
	t.Setenv("CHATVAULT_ATTACHMENTS_ENABLED", "true")
	t.Setenv("CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS", strings.TrimPrefix(srv.URL, "http://"))
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	files, err := filepath.Glob(filepath.Join(storeDir, "attachments", acme, "files", "*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("Acme's captured files: %q, %v", files, err)
	}
	if err := os.Chmod(files[0], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], []byte("%PDF another contract"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...)
	if code == exitOK || !strings.Contains(out+errOut, filepath.Base(files[0])+": bytes hash to") {
		t.Fatalf("verify after an attachment was changed: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "security", "captured attachment changed in the store", reliability.CleanFailure,
		"verify re-hashes it against its index and reports it")
}

// inEachLayout runs test in a subtest per store layout, each with a clean environment and
// store.layout set to it.
func inEachLayout(t *testing.T, test func(t *testing.T)) {
	for _, layout := range []string{"2", "3"} {
		t.Run("layout"+layout, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("CHATVAULT_STORE_LAYOUT", layout)
			test(t)
		})
	}
}

// acmeIndex reads Acme's latest attachment index of the sample day from the folder store.
func acmeIndex(t *testing.T, storeDir string) (*attach.StoredIndex, error) {
	t.Helper()
	store, err := fsstore.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	day, _ := archiver.ParseDay("2026-11-22")
	return attach.LatestIndex(context.Background(), store, acme, day, nil)
}
