package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/tokenfile"
	"github.com/chatvault/chatvault/model"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	acme     = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	globex   = "0b1c2e3f-0000-4000-8000-00000000bbbb"
	initech  = "0c1c2e3f-0000-4000-8000-00000000cccc"
	umbrella = "0d1c2e3f-0000-4000-8000-00000000dddd"
	sample   = "2026-11-22"
)

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	url     string
	clock   *clock
	store   *fsstore.Store // the folder store, or nil (see archive)
	archive archiver.Store
	tokens  map[string]string // name → secret
	set     *tokenfile.Set
	file    *tokenfile.File
	path    string
	reg     *prometheus.Registry
	audit   httpapi.Audit // the server's
}

// newFixture seals the sample day into a fresh folder store and serves it.
func newFixture(t *testing.T, tune func(*httpapi.Server)) *fixture {
	t.Helper()
	store := newFolderStore(t)
	f := newFixtureOn(t, store, tune)
	f.store = store
	return f
}

// newFixtureOn seals the sample day into store and serves it.
func newFixtureOn(t *testing.T, store archiver.Store, tune func(*httpapi.Server)) *fixture {
	t.Helper()
	return newFixtureLog(t, store, "../../testdata/eventlog", []string{sample}, tune)
}

// newFixtureLog seals the days of the event log in folder logDir (with its
// directory.json) into store, in order, and serves them; the clock stands at noon of
// 2026-11-23.
func newFixtureLog(t *testing.T, store archiver.Store, logDir string, days []string, tune func(*httpapi.Server)) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	src, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	dirBytes, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		day, _ := archiver.ParseDay(d)
		sealer := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{
			TempDir: t.TempDir(), Now: clk.Now, Logger: slog.New(slog.DiscardHandler)}}
		if _, err := sealer.Seal(ctx, day, dirBytes, ""); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := model.ParseDirectory(dirBytes)
	if err != nil {
		t.Fatal(err)
	}

	f := &fixture{clock: clk, archive: store, tokens: map[string]string{}, file: &tokenfile.File{},
		path: filepath.Join(t.TempDir(), "tokens.json"), reg: prometheus.NewRegistry()}
	mint := func(name, org string, ttl time.Duration, scopes ...string) {
		secret, _, err := f.file.Mint(rand.Reader, org, name, scopes, clk.Now(), ttl)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = secret
	}
	mint("acme", acme, 0, archiver.ScopeComplianceRead)
	mint("acme-audit", acme, 0, archiver.ScopeAuditRead)
	mint("acme-expiring", acme, time.Hour, archiver.ScopeComplianceRead)
	mint("globex", globex, 0, archiver.ScopeComplianceRead)
	mint("initech", initech, 0, archiver.ScopeComplianceRead)
	mint("umbrella", umbrella, 0, archiver.ScopeComplianceRead)
	mint("stranger", "0e1c2e3f-0000-4000-8000-00000000eeee", 0, archiver.ScopeComplianceRead)
	if err := f.file.Write(f.path); err != nil {
		t.Fatal(err)
	}
	if f.set, err = tokenfile.Open(f.path); err != nil {
		t.Fatal(err)
	}
	s := &httpapi.Server{
		Exports:    ledger.Ledger{Store: store},
		Tokens:     f.set,
		Audit:      &audit.Log{Store: store, Now: clk.Now},
		Directory:  func(context.Context) (*model.Directory, error) { return dir, nil },
		Grace:      time.Hour,
		Now:        clk.Now,
		Logger:     slog.New(slog.DiscardHandler),
		Registerer: f.reg,
		Gatherer:   f.reg,
		TokenRate:  -1,
		ClientRate: -1,
	}
	if tune != nil {
		tune(s)
	}
	f.audit = s.Audit
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// client never decompresses by itself, so the test sees the bytes on the wire.
var client = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func (f *fixture) export(t *testing.T, token, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func date(d string) string { return `{"date":"` + d + `"}` }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestExportServesTheSealedDay(t *testing.T) {
	f := newFixture(t, nil)
	for _, org := range []string{"acme", "globex"} {
		want, err := os.ReadFile("../../testdata/golden/" + org + ".jsonl")
		if err != nil {
			t.Fatal(err)
		}
		resp, body := f.export(t, f.tokens[org], date(sample))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", org, resp.StatusCode, body)
		}
		if !bytes.Equal(body, want) {
			t.Errorf("%s: body differs from testdata/golden/%s.jsonl", org, org)
		}
		if got := resp.Header.Get(httpapi.HeaderSHA256); got != sha(want) {
			t.Errorf("%s: %s = %s, want %s", org, httpapi.HeaderSHA256, got, sha(want))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		if resp.Header.Get(httpapi.HeaderRevision) != "1" || resp.Header.Get(httpapi.HeaderRecords) != itoa(bytes.Count(want, []byte("\n"))) {
			t.Errorf("revision %q records %q", resp.Header.Get(httpapi.HeaderRevision), resp.Header.Get(httpapi.HeaderRecords))
		}
		if !strings.HasPrefix(resp.Header.Get("Repr-Digest"), "sha-256=:") {
			t.Errorf("Repr-Digest %q", resp.Header.Get("Repr-Digest"))
		}

		// gzip: the stored bytes pass through.
		resp, body = f.export(t, f.tokens[org], date(sample), "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("gzip: status %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(plain, want) {
			t.Errorf("gzip body does not decompress to the golden file (%v)", err)
		}
		// gzip;q=0 means no.
		resp, _ = f.export(t, f.tokens[org], date(sample), "Accept-Encoding", "gzip;q=0")
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("gzip;q=0 got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestExportRefusals(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name   string
		token  string
		auth   string // raw Authorization header, when set
		body   string
		status int
		code   string
	}{
		{"no token", "", "", date(sample), 401, "invalid_token"},
		{"basic auth", "", "Basic YWRhOnB3", date(sample), 401, "invalid_token"},
		{"malformed token", "", "Bearer not-a-token", date(sample), 401, "invalid_token"},
		{"unknown token", "", "Bearer cvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", date(sample), 401, "invalid_token"},
		{"without the scope", f.tokens["acme-audit"], "", date(sample), 403, "insufficient_scope"},
		{"impossible date", f.tokens["acme"], "", date("2026-02-30"), 400, "invalid_request"},
		{"path in date", f.tokens["acme"], "", date("../x"), 400, "invalid_request"},
		{"empty date", f.tokens["acme"], "", date(""), 400, "invalid_request"},
		{"no date", f.tokens["acme"], "", `{}`, 400, "invalid_request"},
		{"short date", f.tokens["acme"], "", date("2026-11-2"), 400, "invalid_request"},
		{"before 1970", f.tokens["acme"], "", date("1969-12-31"), 400, "invalid_request"},
		{"bad json", f.tokens["acme"], "", `{"date":`, 400, "invalid_request"},
		{"two objects", f.tokens["acme"], "", date(sample) + date(sample), 400, "invalid_request"},
		{"unknown field (no org parameter)", f.tokens["acme"], "", `{"date":"2026-11-22","org":"` + globex + `"}`, 400, "invalid_request"},
		{"empty body", f.tokens["acme"], "", "", 400, "invalid_request"},
		{"10 MB body", f.tokens["acme"], "", `{"date":"` + strings.Repeat("1", 10<<20) + `"}`, 400, "invalid_request"},
		{"future day", f.tokens["acme"], "", date("2026-11-24"), 400, "invalid_request"},
		{"today", f.tokens["acme"], "", date("2026-11-23"), 409, "export_pending"},
		{"past day not sealed", f.tokens["acme"], "", date("2026-11-21"), 409, "export_pending"},
		{"before archival start", f.tokens["acme"], "", date("2025-12-31"), 404, "export_not_found"},
		{"archival off", f.tokens["initech"], "", date(sample), 404, "export_not_found"},
		{"archival starts later", f.tokens["umbrella"], "", date(sample), 404, "export_not_found"},
		{"organization unknown", f.tokens["stranger"], "", date(sample), 404, "export_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			resp, body := f.export(t, tt.token, tt.body, hdr...)
			checkError(t, resp, body, tt.status, tt.code)
		})
	}

	// An expired token, then a revoked one.
	f.clock.Add(time.Hour)
	resp, body := f.export(t, f.tokens["acme-expiring"], date(sample))
	checkError(t, resp, body, 401, "invalid_token")
	if _, err := f.file.Revoke(idOf(t, f, "acme")); err != nil {
		t.Fatal(err)
	}
	if err := f.file.Write(f.path); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("before reload: %d", resp.StatusCode)
	}
	if err := f.set.Reload(); err != nil {
		t.Fatal(err)
	}
	resp, body = f.export(t, f.tokens["acme"], date(sample))
	checkError(t, resp, body, 401, "invalid_token")
}

func idOf(t *testing.T, f *fixture, name string) string {
	for _, tok := range f.file.Tokens {
		if tok.Name == name {
			return tok.ID
		}
	}
	t.Fatalf("no token %s", name)
	return ""
}

func checkError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	var e struct{ Error, Message string }
	if err := json.Unmarshal(body, &e); err != nil || e.Error != code || e.Message == "" {
		t.Fatalf("body %q (%v), want error %q with a message", body, err, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer")
	}
	if (status == 409 || status == 429) && resp.Header.Get("Retry-After") == "" {
		t.Errorf("%d without Retry-After", status)
	}
}

func TestRateLimits(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) {
		s.TokenRate, s.TokenBurst = 1, 2
		s.ClientRate, s.ClientBurst = 1, 3
	})
	for i := 0; i < 2; i++ {
		if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := f.export(t, f.tokens["acme"], date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	// Requests without a valid token are limited per address: 3, then 429.
	for i := range 3 {
		resp, body := f.export(t, "", date(sample))
		if resp.StatusCode != 401 {
			t.Fatalf("anonymous request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body = f.export(t, "", date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	// Another token from the same address has its own bucket; the address's does not
	// apply to valid tokens (behind a proxy, every client has the same address).
	if resp, body := f.export(t, f.tokens["globex"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("another token from the limited address: %d %s", resp.StatusCode, body)
	}
	f.clock.Add(2 * time.Second)
	if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("after refill: %d %s", resp.StatusCode, body)
	}
}

func get(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestListingManifestAuditAndOps(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := get(t, f.url+"/v1/exports?from=2026-11-21&to=2026-11-23", f.tokens["acme"])
	if resp.StatusCode != 200 {
		t.Fatalf("exports: %d %s", resp.StatusCode, body)
	}
	var list struct {
		Org  string
		Days []httpapi.DayJSON
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	golden, _ := os.ReadFile("../../testdata/golden/acme.jsonl")
	if list.Org != acme || len(list.Days) != 3 || list.Days[0].State != "pending" || list.Days[1].State != "sealed" ||
		list.Days[1].SHA256 != sha(golden) || list.Days[2].State != "pending" {
		t.Fatalf("exports: %s", body)
	}
	for _, q := range []string{"", "?from=2026-11-22", "?from=2026-11-23&to=2026-11-22", "?from=2020-01-01&to=2026-01-01", "?from=x&to=y"} {
		resp, body := get(t, f.url+"/v1/exports"+q, f.tokens["acme"])
		checkError(t, resp, body, 400, "invalid_request")
	}

	resp, body = get(t, f.url+"/v1/exports/2026-11-22/manifest", f.tokens["acme"])
	var m archiver.Manifest
	if resp.StatusCode != 200 || json.Unmarshal(body, &m) != nil || m.Org != acme || m.Data.JSONLSHA256 != sha(golden) {
		t.Fatalf("manifest: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, f.url+"/v1/exports/2026-11-21/manifest", f.tokens["acme"])
	checkError(t, resp, body, 409, "export_pending")
	resp, body = get(t, f.url+"/v1/exports/2026-02-30/manifest", f.tokens["acme"])
	checkError(t, resp, body, 400, "invalid_request")
	resp, body = get(t, f.url+"/v1/exports/2026-11-22/manifest", f.tokens["acme-audit"])
	checkError(t, resp, body, 403, "insufficient_scope")

	// Audit: one served export and one refused one for acme, one for globex.
	// Records sort by time; the fake clock moves so that they do not tie.
	f.export(t, f.tokens["acme"], date(sample))
	f.clock.Add(time.Millisecond)
	f.export(t, f.tokens["acme"], date("2026-02-30"))
	f.clock.Add(time.Millisecond)
	f.export(t, f.tokens["globex"], date(sample))
	flushAudit(t, f.audit)
	resp, body = get(t, f.url+"/v1/audit?from=2026-11-23&to=2026-11-23", f.tokens["acme"])
	checkError(t, resp, body, 403, "insufficient_scope")
	resp, body = get(t, f.url+"/v1/audit?from=2026-11-23&to=2026-11-23", f.tokens["acme-audit"])
	var audit struct {
		Org     string
		Records []audit.Record
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &audit) != nil {
		t.Fatalf("audit: %d %s", resp.StatusCode, body)
	}
	if len(audit.Records) != 2 {
		t.Fatalf("audit: %d records, want acme's 2: %s", len(audit.Records), body)
	}
	// Both requests happened at the same (fake) instant, so the log's order between them
	// is not defined; tell them apart by outcome.
	ok, bad := audit.Records[0], audit.Records[1]
	if ok.Status != 200 {
		ok, bad = bad, ok
	}
	if ok.Status != 200 || ok.Org != acme || ok.TokenName != "acme" || ok.Date != sample || ok.SHA256 != sha(golden) ||
		ok.Bytes != int64(len(golden)) || !ok.Complete || ok.Client == "" {
		t.Errorf("served record: %+v", ok)
	}
	if bad.Status != 400 || bad.Error != "invalid_request" || bad.Bytes != 0 {
		t.Errorf("refused record: %+v", bad)
	}

	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/openapi.json": `"openapi"`} {
		resp, body := get(t, f.url+path, "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, want %q in:\n%.500s", path, resp.StatusCode, want, body)
		}
	}
	// The API's series are served on http.metricsAddr (see TestMetricsShowNoOrganization).
	private := httptest.NewServer(httpapi.MetricsHandler(f.reg))
	defer private.Close()
	want := `chatvault_http_requests_total{route="/messageevent.export",status="200"}`
	if resp, body := get(t, private.URL+"/metrics", ""); resp.StatusCode != 200 || !strings.Contains(string(body), want) {
		t.Errorf("private /metrics: %d, want %q in:\n%.500s", resp.StatusCode, want, body)
	}
}

// brokenExports fails the way a store might, with details a client must not see.
type brokenExports struct{ httpapi.Exports }

func (brokenExports) OpenExport(context.Context, string, archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	return nil, nil, errors.New("open /srv/secret-mount/orgs/x: permission denied")
}

func (brokenExports) Status(context.Context, string, archiver.Day, archiver.Day) ([]ledger.DayStatus, error) {
	return nil, errors.New("list /srv/secret-mount: i/o error")
}

func TestInternalErrorsLeakNothing(t *testing.T) {
	var logged bytes.Buffer
	f := newFixture(t, func(s *httpapi.Server) {
		s.Exports = brokenExports{s.Exports}
		s.Logger = slog.New(slog.NewTextHandler(&logged, nil))
		s.Ready = func(context.Context) error { return errors.New("store unreachable") }
	})
	resp, body := f.export(t, f.tokens["acme"], date(sample))
	checkError(t, resp, body, 500, "internal")
	resp, body = get(t, f.url+"/v1/exports?from=2026-11-22&to=2026-11-22", f.tokens["acme"])
	checkError(t, resp, body, 500, "internal")
	if strings.Contains(string(body), "secret") {
		t.Fatalf("500 leaks detail: %s", body)
	}
	if !strings.Contains(logged.String(), "secret-mount") {
		t.Fatalf("the detail is not logged: %s", logged.String())
	}
	resp, body = get(t, f.url+"/readyz", "")
	checkError(t, resp, body, 503, "unavailable")
	if strings.Contains(string(body), "unreachable") {
		t.Fatalf("readyz leaks detail: %s", body)
	}
}

// newFolderStore is a folder store in a new temporary folder, closed when the test ends.
func newFolderStore(t *testing.T) *fsstore.Store {
	t.Helper()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}
