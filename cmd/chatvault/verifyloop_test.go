package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/verifyloop"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeVerifiesWhatItSeals: serve verifies each day its scheduler seals right away
// (no verification tick needed), records the runs in the store, signed, and `chatvault
// verifications` lists them; a forged record makes it fail instead of showing it.
func TestServeVerifiesWhatItSeals(t *testing.T) {
	cleanEnv(t)
	eventlog := copyEventLog(t)
	store := t.TempDir()
	key := filepath.Join(t.TempDir(), "signing.pem")
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	if code, _, errOut := chatvault(t, append([]string{"keys", "generate", "-o", key}, common...)...); code != exitOK {
		t.Fatalf("keys generate: %s", errOut)
	}
	t.Setenv("CHATVAULT_SIGNING_KEYFILE", key)
	if code, _, errOut := chatvault(t, append([]string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "x"}, common...)...); code != exitOK {
		t.Fatalf("token create: %s", errOut)
	}

	ticks := make(chan scheduler.Report, 4)
	runs := make(chan *verifyloop.Record, 32)
	serveHooks.clock = scheduler.NewFakeClock(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	serveHooks.onTick = func(r scheduler.Report) { ticks <- r }
	verifyHooks.tick = make(chan time.Time) // never ticks: only the seals make runs
	verifyHooks.verified = func(r *verifyloop.Record) { runs <- r }
	t.Cleanup(func() {
		serveHooks.clock, serveHooks.onTick = nil, nil
		verifyHooks.tick, verifyHooks.verified = nil, nil
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, io.Discard) }()

	var rep scheduler.Report
	select {
	case rep = <-ticks:
	case <-time.After(time.Minute):
		t.Fatal("no scheduler tick")
	}
	if len(rep.Sealed) != 2 {
		t.Fatalf("start-up tick: %+v", rep)
	}
	const globex = "0b1c2e3f-0000-4000-8000-00000000bbbb"
	want := map[string]bool{acme: true, globex: true}
	var sealedRuns []*verifyloop.Record
	for len(want) > 0 {
		select {
		case r := <-runs:
			if r.Kind != verifyloop.KindSealed {
				continue // the start-up slice
			}
			if !r.OK() || r.Signature == nil || r.Key == "" {
				t.Fatalf("sealed-day run: %+v", r)
			}
			for _, rg := range r.Ranges {
				if rg.From == "2026-11-22" && rg.To == "2026-11-22" {
					delete(want, rg.Org)
				}
			}
			sealedRuns = append(sealedRuns, r)
		case <-time.After(time.Minute):
			t.Fatalf("the days sealed were not verified: %v left", want)
		}
	}
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d", code)
	}
	// Serve verified under the verification lease, and gave it back as it stopped: its
	// last link has run out already, so another replica takes it at once.
	links, _ := filepath.Glob(filepath.Join(store, filepath.FromSlash(verifyloop.LeasePrefix), "e", "*", "*.json")) // scheduler.Lease: epochs
	if len(links) < 2 {
		t.Fatalf("verification lease links %v: want it taken and released", links)
	}
	b, err := os.ReadFile(links[len(links)-1])
	if err != nil {
		t.Fatal(err)
	}
	var link struct {
		Holder  string    `json:"holder"`
		Expires time.Time `json:"expires"`
	}
	if err := json.Unmarshal(b, &link); err != nil || !strings.Contains(link.Holder, "-verify") || link.Expires.After(serveHooks.clock.Now()) {
		t.Fatalf("last link of the verification lease after serve stopped: %s (%v)", b, err)
	}

	code, out, errOut := chatvault(t, append([]string{"verifications", "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("verifications exit %d: %s", code, errOut)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r verifyloop.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		listed = append(listed, r.Kind+" "+r.Finished.String())
	}
	for _, r := range sealedRuns {
		if !slices.Contains(listed, r.Kind+" "+r.Finished.String()) {
			t.Fatalf("run %s not listed by chatvault verifications:\n%s", r.Key, out)
		}
	}
	if code, out, _ := chatvault(t, append([]string{"verifications", "--since", "2026-11-23"}, common...)...); code != exitOK || !strings.Contains(out, "2026-11-22..2026-11-22") || !strings.Contains(out, "signed by ") {
		t.Fatalf("verifications: %d\n%s", code, out)
	}

	// Someone with write access adds a record saying all was fine: it is not signed by
	// the trusted key, and the history is refused rather than shown with it.
	s, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(`{"version":1,"kind":"slice","started":"2026-11-23T02:00:00Z","finished":"2026-11-23T02:00:01Z","ranges":[],"orgDays":40,"manifests":0,"objects":0,"bytes":0,"problems":0}` + "\n")
	forgedKey := verifyloop.Prefix + "2026-11-23/020001.000000000-slice-00000000.json"
	if err := s.Create(context.Background(), forgedKey, bytes.NewReader(forged), int64(len(forged)), sha256.Sum256(forged), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if code, _, errOut := chatvault(t, append([]string{"verifications"}, common...)...); code == exitOK || !strings.Contains(errOut, forgedKey) || !strings.Contains(errOut, "not signed") {
		t.Fatalf("a forged record: exit %d: %s", code, errOut)
	}
	reliability.Record(t, "security", "an unsigned verification record added to the store", reliability.Refused,
		"chatvault verifications checks every record's signature against the trusted key and fails naming the forged one")
}
