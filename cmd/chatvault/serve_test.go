package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/archiver/tokenfile"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/klauspost/compress/gzip"
)

const globexID = "0b1c2e3f-0000-4000-8000-00000000bbbb"
const umbrellaID = "0d1c2e3f-0000-4000-8000-00000000dddd"

// copyEventLog copies the sample event log into a temporary folder and adds 2026-11-23,
// a closed partition with the same files.
func copyEventLog(t *testing.T) string {
	t.Helper()
	return exporttest.SampleLog(t, "2026-11-22", "2026-11-23")
}

type e2e struct {
	t     *testing.T
	url   string
	clock *scheduler.FakeClock
	ticks chan scheduler.Report
	// schedulerWaits hears each time the scheduler itself waits on the clock. The clock's
	// own Waiting signal also comes from serve's other loops (export tasks, verification):
	// moving the clock on one of those, before the scheduler waited, left the scheduler
	// waiting for a time the test never set, and the test hung.
	schedulerWaits chan struct{}
	store          string
}

// schedulerClock is the e2e clock as the scheduler sees it: the same time, and a signal
// on schedulerWaits whenever the scheduler waits.
type schedulerClock struct{ x *e2e }

func (c schedulerClock) Now() time.Time { return c.x.clock.Now() }
func (c schedulerClock) After(d time.Duration) <-chan time.Time {
	ch := c.x.clock.After(d)
	select {
	case c.x.schedulerWaits <- struct{}{}:
	default: // one signal pending is enough: the test has not ticked since
	}
	return ch
}

// tick moves the clock to at once the scheduler waits on it, and returns the tick's report.
func (x *e2e) tick(at time.Time) scheduler.Report {
	x.t.Helper()
	<-x.schedulerWaits
	x.clock.Set(at)
	return <-x.ticks
}

func (x *e2e) export(token, body string) (*http.Response, []byte) {
	x.t.Helper()
	req, _ := http.NewRequest("POST", x.url+"/messageevent.export", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp, b
}

// sealed returns the JSONL of the sealed day as stored, decompressed, and its manifest.
func (x *e2e) sealed(org, date string) ([]byte, *archiver.StoredManifest) {
	x.t.Helper()
	s, err := fsstore.New(x.store)
	if err != nil {
		x.t.Fatal(err)
	}
	defer s.Close()
	d, _ := archiver.ParseDay(date)
	m, rc, err := ledger.Ledger{Store: s}.OpenExport(context.Background(), org, d)
	if err != nil {
		x.t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		x.t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		x.t.Fatal(err)
	}
	return b, m
}

func TestServeEndToEnd(t *testing.T) {
	cleanEnv(t)
	eventlog := copyEventLog(t)
	store := t.TempDir()
	tokensPath := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", tokensPath)
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}

	mint := func(org, scope, name string) string {
		code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", org, "--scope", scope, "--name", name}, common...)...)
		if code != exitOK {
			t.Fatalf("token create: %d %s", code, errOut)
		}
		return strings.TrimSpace(out)
	}
	acmeTok := mint(acme, "admin:compliance:read", "acme-ediscovery")
	globexTok := mint(globexID, "admin:compliance:read", "globex")
	umbrellaTok := mint(umbrellaID, "admin:compliance:read", "umbrella")
	auditTok := mint(acme, "admin:audit:read", "acme-auditor")
	revokedTok := mint(acme, "admin:compliance:read", "to-revoke")

	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	// A token that expired by the fake clock's time, made as token create would.
	f, err := tokenfile.Read(tokensPath)
	if err != nil {
		t.Fatal(err)
	}
	expiredTok, _, err := f.Mint(rand.Reader, acme, "expired", []string{"admin:compliance:read"}, start.Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(tokensPath); err != nil {
		t.Fatal(err)
	}

	x := &e2e{t: t, clock: scheduler.NewFakeClock(start), ticks: make(chan scheduler.Report), store: store,
		schedulerWaits: make(chan struct{}, 1)}
	addr, metricsAddr := make(chan string, 1), make(chan string, 1)
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:0")
	serveHooks.clock = x.clock
	serveHooks.schedulerClock = schedulerClock{x}
	serveHooks.onTick = func(r scheduler.Report) { x.ticks <- r }
	serveHooks.listening = func(a string) { addr <- a }
	serveHooks.metricsListening = func(a string) { metricsAddr <- a }
	serveHooks.reload = make(chan chan error)
	t.Cleanup(func() {
		serveHooks.clock, serveHooks.onTick, serveHooks.listening, serveHooks.reload = nil, nil, nil, nil
		serveHooks.schedulerClock = nil
		serveHooks.metricsListening = nil
	})

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	var serveErr bytes.Buffer
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), io.Discard, &serveErr) }()
	x.url = "http://" + <-addr

	// The start-up run: nothing closed yet (the 22nd is today).
	if r := <-x.ticks; len(r.Sealed) != 0 || r.Err != nil {
		t.Fatalf("start-up tick: %+v", r)
	}
	resp, body := x.export(acmeTok, `{"date":"2026-11-22"}`)
	wantError(t, resp, body, 409, "export_pending")

	// First midnight, then the 00:30 run seals the 22nd for every archiving organization.
	if r := x.tick(time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC)); len(r.Sealed) != 2 || len(r.Failed) != 0 {
		t.Fatalf("tick of the 23rd: %+v", r)
	}
	resp, body = x.export(acmeTok, `{"date":"2026-11-23"}`)
	wantError(t, resp, body, 409, "export_pending")
	if r := x.tick(time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)); len(r.Sealed) != 2 || r.Sealed[0] != "2026-11-23 "+acme {
		t.Fatalf("tick of the 24th: %+v", r)
	}

	// Both days, for both organizations, equal the sealed files.
	golden, _ := os.ReadFile("../../testdata/golden/acme.jsonl")
	for _, day := range []string{"2026-11-22", "2026-11-23"} {
		for org, tok := range map[string]string{acme: acmeTok, globexID: globexTok} {
			resp, body := x.export(tok, `{"date":"`+day+`"}`)
			if resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %s", org, day, resp.StatusCode, body)
			}
			want, m := x.sealed(org, day)
			sum := sha256.Sum256(body)
			if !bytes.Equal(body, want) || hex.EncodeToString(sum[:]) != m.Data.JSONLSHA256 || resp.Header.Get("X-Chatvault-Sha256") != m.Data.JSONLSHA256 {
				t.Fatalf("%s %s: served bytes differ from the sealed file", org, day)
			}
			if org == acme && !bytes.Equal(body, golden) {
				t.Fatalf("acme %s differs from the golden export", day)
			}
		}
	}

	// Refusals, with the exact codes.
	if code, _, errOut := chatvault(t, append([]string{"token", "revoke", "--id", tokenID(t, tokensPath, "to-revoke")}, common...)...); code != exitOK {
		t.Fatalf("revoke: %s", errOut)
	}
	reply := make(chan error)
	serveHooks.reload <- reply
	if err := <-reply; err != nil {
		t.Fatal(err)
	}
	const day = `{"date":"2026-11-22"}`
	for _, tt := range []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token", "", day, 401, "invalid_token"},
		{"malformed token", "not-a-token", day, 401, "invalid_token"},
		{"revoked token", revokedTok, day, 401, "invalid_token"},
		{"expired token", expiredTok, day, 401, "invalid_token"},
		{"another organization's token, before its archival start", umbrellaTok, day, 404, "export_not_found"},
		{"token without the scope", auditTok, day, 403, "insufficient_scope"},
		{"impossible date", acmeTok, `{"date":"2026-02-30"}`, 400, "invalid_request"},
		{"path as date", acmeTok, `{"date":"../x"}`, 400, "invalid_request"},
		{"empty date", acmeTok, `{"date":""}`, 400, "invalid_request"},
		{"10 MB body", acmeTok, `{"date":"` + strings.Repeat("x", 10<<20) + `"}`, 400, "invalid_request"},
		{"future day", acmeTok, `{"date":"2026-11-25"}`, 400, "invalid_request"},
		{"today, not sealed yet", acmeTok, `{"date":"2026-11-24"}`, 409, "export_pending"},
		{"past day never delivered", acmeTok, `{"date":"2026-11-21"}`, 409, "export_pending"},
		{"before archival start", acmeTok, `{"date":"2025-12-31"}`, 404, "export_not_found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := x.export(tt.token, tt.body)
			wantError(t, resp, body, tt.status, tt.code)
		})
	}

	// Metrics say what was sealed and served, on http.metricsAddr; the API's address
	// answers /metrics with 404 then (TestServeMetricsAddr).
	resp, err = http.Get("http://" + <-metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`chatvault_http_requests_total{route="/messageevent.export",status="200"} 4`,
		`chatvault_scheduler_runs_total{result="ok"} 3`,
		`chatvault_http_unauthenticated_total{reason="invalid_token"} 3`,
		`chatvault_http_unauthenticated_total{reason="missing_token"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d: %s", code, serveErr.String())
	}

	// The audit shows who read what, once serve has written it on its way out. Requests
	// without a valid token (none, malformed, revoked, expired) are not in it.
	code, out, errOut := chatvault(t, append([]string{"audit", "--date", "2026-11-24", "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	var served, refused int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if r.Status == 200 && r.Complete && r.TokenName != "" && r.SHA256 != "" && r.Client == "127.0.0.1" {
			served++
		} else if r.Status != 200 {
			refused++
		}
	}
	if served != 4 || refused != 10 {
		t.Errorf("audit: %d served, %d refused; want 4 and 10:\n%s", served, refused, out)
	}
}

func tokenID(t *testing.T, path, name string) string {
	f, err := tokenfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range f.Tokens {
		if tok.Name == name {
			return tok.ID
		}
	}
	t.Fatalf("no token %s", name)
	return ""
}

func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct{ Error, Message string }
	if resp.StatusCode != status || json.Unmarshal(body, &e) != nil || e.Error != code {
		t.Fatalf("got %d %.200s; want %d %s", resp.StatusCode, body, status, code)
	}
	if status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer")
	}
	if status == 409 && resp.Header.Get("Retry-After") == "" {
		t.Errorf("409 without Retry-After")
	}
}
