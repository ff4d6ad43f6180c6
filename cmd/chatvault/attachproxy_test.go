package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// attachedHost is a name only the test's proxy maps (to the file server): a capture that
// went through the proxy would fetch the file, one that dials it itself cannot resolve it
// (a .onion name never goes to DNS, see proxiedHost).
const attachedHost = "files.chatvault.onion"

// TestRunCaptureIgnoresProxy runs `chatvault run` with attachments.enabled as a process
// (Go reads the proxy variables once per process) with HTTP_PROXY and HTTPS_PROXY naming a
// counting proxy. README: "Attachment capture never uses a proxy". The file on an allowed
// loopback address is captured directly; the link to attachedHost, which only the proxy
// could reach, fails; the proxy sees nothing. The proxy's own address is on
// attachments.allowedHosts, so that the allowlist's dial check would not hide a transport
// that went to the proxy.
func TestRunCaptureIgnoresProxy(t *testing.T) {
	cleanEnv(t)
	var requests atomic.Int64
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF the contract"))
	}))
	t.Cleanup(files.Close)
	filesAddr := strings.TrimPrefix(files.URL, "http://")
	_, port, _ := strings.Cut(filesAddr, ":")
	named := attachedHost + ":" + port
	proxy := newEgressProxy(t, map[string]string{named: filesAddr})
	proxyAddr := strings.TrimPrefix(proxy.URL(), "http://")

	logDir := sampleLogCopy(t)
	linkTo(t, logDir, files.URL) // https://files.example/d/3?x=1&y=2 → the loopback server
	part := filepath.Join(logDir, "2026-11-22", "part-0001.jsonl")
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, []byte(strings.ReplaceAll(string(b), "https://tracker.example", "http://"+named)), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	common := []string{"--eventlog", logDir, "--store", storeDir, "--log-format", "json", "--log-level", "error"}
	env := proxyEnv(t, "", "HTTP_PROXY="+proxy.URL(), "HTTPS_PROXY="+proxy.URL(),
		"CHATVAULT_ATTACHMENTS_ENABLED=true",
		"CHATVAULT_ATTACHMENTS_ALLOWEDHOSTS="+filesAddr+","+named+","+proxyAddr)

	code, out, errOut := binary(t, env, append([]string{"run", "--date", "2026-11-22"}, common...)...)
	if code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if n := proxy.carried(); n != 0 {
		t.Fatalf("attachment capture sent %d requests through the proxy", n)
	}
	if !strings.Contains(out, "attachments "+acme+": 1 captured, 2 failed") {
		t.Fatalf("run output lacks Acme's attachments line (1 captured, 2 failed):\n%s%s", out, errOut)
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("the file server got %d requests, want 2 (the file, once per organization)", n)
	}
	ix, err := acmeIndex(t, storeDir)
	if err != nil || ix == nil {
		t.Fatalf("Acme's attachment index: %v, %v", ix, err)
	}
	got := map[string]string{}
	for _, e := range ix.Entries {
		got[e.URL] = e.Outcome
	}
	if got[files.URL+"/d/3?x=1&y=2"] != "captured" || got["http://"+named+"/items/42"] != "failed" {
		t.Fatalf("index outcomes %v: want the loopback file captured and the proxy-only host failed", got)
	}
	reliability.Record(t, "security", "attachment capture with HTTP_PROXY and HTTPS_PROXY set to a proxy that could reach a listed host", reliability.Kept,
		"capture dials the listed hosts itself: the loopback file is captured, the host only the proxy reaches fails, the proxy sees nothing")
}
