package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeSIGTERMKeepsEveryAuditRecord runs `chatvault serve` as a real process with the
// longest flush interval, makes requests it answers, and sends it SIGTERM: after it exits,
// the store holds the audit record of every answered request (none waited in memory), in
// a verified chain.
func TestServeSIGTERMKeepsEveryAuditRecord(t *testing.T) {
	cleanEnv(t)
	eventlog := copyEventLog(t)
	store := t.TempDir()
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitOK && code != exitQuarantined {
		t.Fatalf("run: %d %s", code, errOut)
	}
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "ediscovery"}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %s", errOut)
	}
	token := strings.TrimSpace(out)

	cmd := exec.Command(crashpointBinary(t), append([]string{"serve"}, common...)...)
	cmd.Env = append(os.Environ(), "CHATVAULT_AUTH_TOKENSFILE="+tokensPath, "CHATVAULT_HTTP_ADDR=127.0.0.1:0",
		"CHATVAULT_SCHEDULE_ENABLED=false", "CHATVAULT_AUDIT_FLUSHINTERVAL=1m", "CHATVAULT_EXPORT_TEMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			base = u
			break
		}
	}
	if base == "" {
		cmd.Wait()
		t.Fatalf("serve did not listen: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	answered := map[int]int{}
	for i := range 40 {
		body := `{"date":"2026-11-22"}`
		if i%4 == 3 {
			body = `{"date":"2026-02-30"}` // refused: audited all the same
		}
		answered[postStatus(t, base+"/messageevent.export", token, body)]++
	}
	// The token's rate limit (5/s, burst 20) refuses some: those are audited too.
	if answered[200] == 0 || answered[400] == 0 || answered[200]+answered[400]+answered[429] != 40 {
		t.Fatalf("answers %v", answered)
	}
	// Nothing is written before the minute is up.
	var before int
	filepath.Walk(filepath.Join(store, "audit"), func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			before++
		}
		return nil
	})
	if before != 0 {
		t.Fatalf("%d audit objects before SIGTERM: the records did not wait in memory, so SIGTERM's flush is not tested", before)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("serve took %s to stop", time.Since(start))
	}

	today := archiver.DayOf(time.Now())
	from := archiver.DayOf(today.Start().Add(-time.Hour))
	code, out, errOut = chatvault(t, append([]string{"audit", "--org", acme, "--from", from.String(), "--to", today.String(), "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	got := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		got[r.Status]++
	}
	if len(got) != len(answered) || got[200] != answered[200] || got[400] != answered[400] || got[429] != answered[429] {
		t.Fatalf("audit after SIGTERM holds %v, want every answered request %v", got, answered)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	reliability.Record(t, "crash", "SIGTERM to serve with audit records in memory", reliability.Recovered,
		"serve drains, then writes every buffered record: each answered request is in a verified segment")
}

// TestAuditListsThePreviousLayout: per-request objects written before segments
// (audit/<day>/<time>-<uuid>.json) are still printed by chatvault audit, beside the
// segments, and verify counts them in a warning without failing.
func TestAuditListsThePreviousLayout(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	store, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := []byte(`{"time":"2026-11-23T09:00:00Z","tokenId":"t-old","tokenName":"old","org":"` + acme + `","date":"2026-11-22","status":200,"bytes":10,"complete":true,"client":"10.0.0.1"}` + "\n")
	if err := store.Create(ctx, "audit/2026-11-23/090000.000000000-0f0e0d0c-0000-4000-8000-000000000001.json",
		bytes.NewReader(old), int64(len(old)), sha256.Sum256(old), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	log := &audit.Log{Store: store}
	for _, org := range []string{acme, globexID} {
		if err := log.Append(ctx, audit.Record{Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), TokenName: "new", Org: org, Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	store.Close()
	common := []string{"--store", dir, "--eventlog", "../../testdata/eventlog", "--temp-dir", t.TempDir()}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitOK && code != exitQuarantined {
		t.Fatalf("run: %d %s", code, errOut)
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--org", acme}, []string{"old", "new"}},
		{nil, []string{"old", "new", "new"}},
	} {
		code, out, errOut := chatvault(t, append(append([]string{"audit", "--date", "2026-11-23", "--json"}, tt.args...), common...)...)
		if code != exitOK {
			t.Fatalf("audit %v: %d %s", tt.args, code, errOut)
		}
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r audit.Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("audit line %q: %v", line, err)
			}
			names = append(names, r.TokenName)
		}
		if strings.Join(names, ",") != strings.Join(tt.want, ",") {
			t.Errorf("audit %v: records of %v, want %v", tt.args, names, tt.want)
		}
	}
	code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...)
	if code != exitOK || !strings.Contains(out+errOut, "previous layout") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
}
