package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestBruteForceLimited: one address presenting bad tokens gets 429 after
// Server.AuthFailures of them; the budget refills with time, and a valid token, even from
// that address, is never refused by it (behind a proxy, every client shares the address).
func TestBruteForceLimited(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) { s.AuthFailures = 3 })
	guesses := []string{"cvt_AAAA", "cvt_BBBB", "not-even-a-token"}
	for _, g := range guesses {
		resp, body := f.export(t, g, date(sample))
		checkError(t, resp, body, 401, "invalid_token")
	}
	resp, body := f.export(t, "cvt_CCCC", date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	resp, body = get(t, f.url+"/v1/exports?from=2026-11-22&to=2026-11-22", "")
	checkError(t, resp, body, 429, "rate_limited")
	if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
		t.Fatalf("valid token while its address is blocked: %d %.200s", resp.StatusCode, body)
	}

	// 3 per minute: one more attempt after 20 seconds.
	f.clock.Add(20 * time.Second)
	resp, body = f.export(t, "cvt_DDDD", date(sample))
	checkError(t, resp, body, 401, "invalid_token")
	resp, body = f.export(t, "cvt_EEEE", date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	// Valid requests spend nothing of it.
	for range 5 {
		if resp, body := f.export(t, f.tokens["acme"], date(sample)); resp.StatusCode != 200 {
			t.Fatalf("valid token: %d %s", resp.StatusCode, body)
		}
	}
	resp, body = f.export(t, "cvt_FFFF", date(sample))
	checkError(t, resp, body, 429, "rate_limited")
	reliability.Record(t, "security", "token brute force from one address", reliability.Refused,
		"429 rate_limited with Retry-After after http.authFailures invalid tokens; valid tokens from it still served")
}

// leakPatterns are what an error body must never hold: file system paths, Go source
// positions, stack traces, Go type names and fmt's complaints.
var leakPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(^|[\s"'(=:])/[A-Za-z0-9_.-]+/`), // an absolute path such as /srv/…
	regexp.MustCompile(`\.go:\d+`),
	regexp.MustCompile(`goroutine \d+`),
	regexp.MustCompile(`runtime\.|panic`),
	regexp.MustCompile(`\*?\b(errors|fs|os|url|json|http|archiver|httpapi|fsstore|s3|tokenfile|main)\.[A-Z][A-Za-z]*`),
	regexp.MustCompile(`%!|&\{|0x[0-9a-f]{6,}`),
	regexp.MustCompile(`secret-mount|cvt_`),
}

func checkNoLeak(t *testing.T, body []byte) {
	t.Helper()
	for _, re := range leakPatterns {
		if m := re.Find(body); m != nil {
			t.Errorf("error body leaks %q (%s): %s", m, re, body)
		}
	}
}

// failing is a store, directory, audit log and token set that fail the way real ones do,
// with the details a client must never see.
type failing struct {
	httpapi.Exports
	mode string
}

var errDetail = errors.New(`open /srv/secret-mount/orgs/x/days/2026-11-22/r0001.json: permission denied (*fs.PathError)`)

func (f failing) OpenExport(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	if f.mode == "panic" {
		panic(fmt.Sprintf("index out of range reading %v", errDetail))
	}
	return nil, nil, fmt.Errorf("ledger: %w", errDetail)
}

func (f failing) Latest(context.Context, string, archiver.Day) (*archiver.StoredManifest, error) {
	return nil, errDetail
}

func (f failing) Status(context.Context, string, archiver.Day, archiver.Day) ([]ledger.DayStatus, error) {
	return nil, errDetail
}

type failingAudit struct{ httpapi.Audit }

func (failingAudit) Append(context.Context, audit.Record) error { return errDetail }
func (failingAudit) List(context.Context, string, archiver.Day, archiver.Day, func(audit.Record) error) error {
	return errDetail
}

type failingTokens struct{}

func (failingTokens) Lookup(string, time.Time) (archiver.Token, error) {
	return archiver.Token{}, fmt.Errorf("tokens: read /etc/chatvault/tokens.json: %w", errDetail)
}

// TestErrorBodiesLeakNothing sends every kind of error through every endpoint, internal
// failures included, and checks that each body is the API's JSON error with nothing from
// inside the server: no path, no Go type, no stack, no secret.
func TestErrorBodiesLeakNothing(t *testing.T) {
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	plain := newFixture(t, func(s *httpapi.Server) { s.Logger = logger })
	broken := newFixture(t, func(s *httpapi.Server) { s.Exports, s.Logger = failing{Exports: s.Exports}, logger })
	panicking := newFixture(t, func(s *httpapi.Server) { s.Exports, s.Logger = failing{Exports: s.Exports, mode: "panic"}, logger })
	noAudit := newFixture(t, func(s *httpapi.Server) { s.Audit, s.Logger = failingAudit{s.Audit}, logger })
	noTokens := newFixture(t, func(s *httpapi.Server) { s.Tokens, s.Logger = failingTokens{}, logger })
	noDirectory := newFixture(t, func(s *httpapi.Server) {
		s.Logger = logger
		s.Directory = func(context.Context) (*model.Directory, error) {
			return nil, fmt.Errorf("directory: %w", errDetail)
		}
	})
	presignFails := newFixture(t, func(s *httpapi.Server) {
		s.Logger = logger
		s.Presign = func(context.Context, string, string) (string, time.Time, error) { return "", time.Time{}, errDetail }
	})
	limited := newFixture(t, func(s *httpapi.Server) { s.Logger, s.TokenRate, s.TokenBurst = logger, 1, 1 })
	limited.export(t, limited.tokens["acme"], date(sample)) // spends the token's only request

	acmeTok := plain.tokens["acme"]
	tests := []struct {
		name         string
		f            *fixture
		method, path string
		token        string
		body         string
		status       int
		code         string // "" for net/http's own plain-text answers
	}{
		{"export no token", plain, "POST", "/messageevent.export", "", date(sample), 401, "invalid_token"},
		{"export bad json", plain, "POST", "/messageevent.export", acmeTok, `{"date":`, 400, "invalid_request"},
		{"export unknown field", plain, "POST", "/messageevent.export", acmeTok, `{"date":"2026-11-22","path":"/etc/passwd"}`, 400, "invalid_request"},
		{"export date is a path", plain, "POST", "/messageevent.export", acmeTok, date("/etc/passwd"), 400, "invalid_request"},
		{"export wrong type", plain, "POST", "/messageevent.export", acmeTok, `{"date":20261122}`, 400, "invalid_request"},
		{"export oversized", plain, "POST", "/messageevent.export", acmeTok, `{"date":"` + strings.Repeat("/x", 4<<10) + `"}`, 400, "invalid_request"},
		{"export scope", plain, "POST", "/messageevent.export", plain.tokens["acme-audit"], date(sample), 403, "insufficient_scope"},
		{"export not found", plain, "POST", "/messageevent.export", plain.tokens["initech"], date(sample), 404, "export_not_found"},
		{"export pending", plain, "POST", "/messageevent.export", acmeTok, date("2026-11-21"), 409, "export_pending"},
		{"export store fails", broken, "POST", "/messageevent.export", broken.tokens["acme"], date(sample), 500, "internal"},
		{"export handler panics", panicking, "POST", "/messageevent.export", panicking.tokens["acme"], date(sample), 500, "internal"},
		{"export audit fails", noAudit, "POST", "/messageevent.export", noAudit.tokens["acme"], date("2026-02-30"), 500, "internal"},
		{"export tokens fail", noTokens, "POST", "/messageevent.export", noTokens.tokens["acme"], date(sample), 500, "internal"},
		{"export directory fails", noDirectory, "POST", "/messageevent.export", noDirectory.tokens["acme"], date(sample), 500, "internal"},
		{"export presign fails", presignFails, "POST", "/messageevent.export", presignFails.tokens["acme"], `{"date":"2026-11-22","delivery":"url"}`, 500, "internal"},
		{"export url store fails", broken, "POST", "/messageevent.export", broken.tokens["acme"], `{"date":"2026-11-22","delivery":"url"}`, 400, "invalid_request"},
		{"export rate limited", limited, "POST", "/messageevent.export", limited.tokens["acme"], date(sample), 429, "rate_limited"},
		{"listing bad range", plain, "GET", "/v1/exports?from=/etc&to=passwd", acmeTok, "", 400, "invalid_request"},
		{"listing store fails", broken, "GET", "/v1/exports?from=2026-11-22&to=2026-11-22", broken.tokens["acme"], "", 500, "internal"},
		{"listing directory fails", noDirectory, "GET", "/v1/exports?from=2026-11-22&to=2026-11-22", noDirectory.tokens["acme"], "", 500, "internal"},
		{"listing tokens fail", noTokens, "GET", "/v1/exports?from=2026-11-22&to=2026-11-22", noTokens.tokens["acme"], "", 500, "internal"},
		{"manifest bad date", plain, "GET", "/v1/exports/..%2F..%2Fetc%2Fpasswd/manifest", acmeTok, "", 400, "invalid_request"},
		{"manifest store fails", broken, "GET", "/v1/exports/2026-11-22/manifest", broken.tokens["acme"], "", 500, "internal"},
		{"manifest not found", plain, "GET", "/v1/exports/2025-01-01/manifest", acmeTok, "", 404, "export_not_found"},
		{"audit store fails", noAudit, "GET", "/v1/audit?from=2026-11-22&to=2026-11-22", noAudit.tokens["acme-audit"], "", 500, "internal"},
		{"audit scope", plain, "GET", "/v1/audit?from=2026-11-22&to=2026-11-22", acmeTok, "", 403, "insufficient_scope"},
		{"unknown route", plain, "GET", "/etc/passwd", "", "", 404, ""},
		{"wrong method", plain, "DELETE", "/messageevent.export", acmeTok, "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.f.url+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if tt.code != "" {
				checkError(t, resp, body, tt.status, tt.code)
			} else if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			checkNoLeak(t, body)
			for k, vs := range resp.Header {
				checkNoLeak(t, []byte(k+": "+strings.Join(vs, ", ")))
			}
		})
	}
	// The detail is not lost: it is in the log, for the operator.
	for _, want := range []string{"secret-mount", "handler panicked", "goroutine"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	reliability.Record(t, "security", "error bodies of every endpoint, internal failures and panics included", reliability.CleanFailure,
		"JSON error code and safe message; no path, Go type or stack (those go to the log)")
}

// TestLogsHoldNoSecrets runs a session at debug level, with valid, invalid, near-miss and
// revoked tokens and a failing store, and checks that no token secret reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logged, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, func(s *httpapi.Server) { s.Logger = logger })
	broken := newFixture(t, func(s *httpapi.Server) { s.Exports, s.Logger = failing{Exports: s.Exports}, logger })
	var secrets []string
	for _, fx := range []*fixture{f, broken} {
		for _, secret := range fx.tokens {
			secrets = append(secrets, secret)
			fx.export(t, secret, date(sample))
			fx.export(t, secret, date("2026-02-30"))
			fx.export(t, secret[:len(secret)-1]+"x", date(sample))
			get(t, fx.url+"/v1/exports?from=2026-11-22&to=2026-11-22", secret)
			get(t, fx.url+"/v1/exports/2026-11-22/manifest", secret)
			get(t, fx.url+"/v1/audit?from=2026-11-23&to=2026-11-23", secret)
		}
	}
	mu.Lock()
	out := logged.String()
	mu.Unlock()
	if !strings.Contains(out, "secret-mount") {
		t.Fatal("the session logged nothing of its internal errors; the check below would prove nothing")
	}
	for _, s := range secrets {
		// The secret and its random part alone (a log could drop the prefix).
		for _, needle := range []string{s, strings.TrimPrefix(s, "cvt_")[:20]} {
			if strings.Contains(out, needle) {
				t.Fatalf("the log holds a token secret (%.8s…)", needle)
			}
		}
	}
	reliability.Record(t, "security", "token secrets in the API's logs (debug level, internal errors)", reliability.Refused,
		"no secret nor part of one in the log")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// recordingStore records every key and prefix the API reaches the store with.
type recordingStore struct {
	archiver.Store
	mu   sync.Mutex
	keys []string
}

func (r *recordingStore) note(k string) {
	r.mu.Lock()
	r.keys = append(r.keys, k)
	r.mu.Unlock()
}

func (r *recordingStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	r.note(key)
	return r.Store.Create(ctx, key, body, size, sum, opt)
}

func (r *recordingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r.note(key)
	return r.Store.Open(ctx, key)
}

func (r *recordingStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	r.note(prefix)
	return r.Store.List(ctx, prefix, fn)
}

// TestPathTraversalRefused tries to leave the organization's key space through dates in
// the body, the URL path and the query, and through parameters naming another
// organization. Every attempt is refused (400, or 404 when the router cannot even match
// it), and every key the store sees is the token's organization's, or the audit log's.
func TestPathTraversalRefused(t *testing.T) {
	rec := &recordingStore{}
	f := newFixture(t, func(s *httpapi.Server) {
		rec.Store = s.Exports.(ledger.Ledger).Store
		s.Exports = ledger.Ledger{Store: rec}
		s.Audit = &audit.Log{Store: rec}
	})
	tok := f.tokens["acme"]
	tests := []struct {
		name, method, path, body string
		status                   []int
	}{
		{"date ../ in the export body", "POST", "/messageevent.export", date("../../globex/days/2026-11-22"), nil},
		{"date with a trailing ../", "POST", "/messageevent.export", date("2026-11-22/../../" + globex), nil},
		{"date encoded %2e%2e in the export body", "POST", "/messageevent.export", date("%2e%2e%2f%2e%2e"), nil},
		{"date as an absolute path in the export body", "POST", "/messageevent.export", date("/etc/passwd"), nil},
		{"date with NUL in the export body", "POST", "/messageevent.export", `{"date":"2026-11-22\u0000"}`, nil},
		{"overlong date in the export body", "POST", "/messageevent.export", date("02026-11-22"), nil},
		{"date with a time in the export body", "POST", "/messageevent.export", date("2026-11-22T00:00:00Z"), nil},
		{"another organization named in the export body", "POST", "/messageevent.export", `{"date":"2026-11-22","org":"` + globex + `"}`, nil},
		{"date ../ in the manifest path (encoded slashes)", "GET", "/v1/exports/..%2F" + globex + "%2Fdays%2F2026-11-22/manifest", "", nil},
		{"date %2e%2e in the manifest path", "GET", "/v1/exports/%2e%2e/manifest", "", []int{400, 404}},
		{"date with NUL in the manifest path", "GET", "/v1/exports/2026-11-22%00/manifest", "", nil},
		{"date as an absolute path in the manifest path", "GET", "/v1/exports/%2Fetc%2Fpasswd/manifest", "", nil},
		{"overlong date in the manifest path", "GET", "/v1/exports/2026-11-222/manifest", "", nil},
		{"../ segments in the URL path", "GET", "/v1/exports/../../orgs/" + globex + "/manifest", "", []int{400, 404}},
		{"date ../ in the listing query", "GET", "/v1/exports?from=..%2F..%2F&to=2026-11-22", "", nil},
		{"date with NUL in the listing query", "GET", "/v1/exports?from=2026-11-22%00&to=2026-11-22", "", nil},
		{"date ../ in the audit query", "GET", "/v1/audit?from=2026-11-22&to=..%2F..%2Forgs", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tok
			if strings.HasPrefix(tt.path, "/v1/audit") {
				token = f.tokens["acme-audit"]
			}
			req, err := http.NewRequest(tt.method, f.url+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := tt.status
			if want == nil {
				want = []int{400}
			}
			ok := false
			for _, s := range want {
				ok = ok || resp.StatusCode == s
			}
			if !ok {
				t.Fatalf("status %d, want one of %v: %s", resp.StatusCode, want, body)
			}
			code := " (no route)"
			if resp.StatusCode == 400 {
				checkError(t, resp, body, 400, "invalid_request")
				code = " invalid_request"
			}
			checkNoLeak(t, body)
			reliability.Record(t, "security", tt.name, reliability.Refused, fmt.Sprintf("%d%s", resp.StatusCode, code))
		})
	}
	// A query parameter naming another organization is ignored: the token decides.
	resp, body := get(t, f.url+"/v1/exports?from=2026-11-22&to=2026-11-22&org="+globex, tok)
	var list struct{ Org string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || list.Org != acme {
		t.Fatalf("listing with ?org=globex: %d %s", resp.StatusCode, body)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.keys) == 0 {
		t.Fatal("the store saw no key at all; the check below would prove nothing")
	}
	for _, k := range rec.keys {
		if k == archiver.LayoutKey {
			continue // the store's layout marker: the same for every organization, naming none
		}
		if !strings.HasPrefix(k, "orgs/"+acme+"/") && !strings.HasPrefix(k, "audit/orgs/"+acme+"/") {
			t.Errorf("the store was asked for %q, outside acme's key space and its audit", k)
		}
		if err := archiver.CheckPrefix(k); err != nil {
			t.Errorf("the store was asked for %q: %v", k, err)
		}
	}
}

// TestConcurrentOrganizationsIsolated: 50 clients with tokens of three organizations ask
// for exports, listings and manifests at once (run with -race); each sees only its own
// organization's.
func TestConcurrentOrganizationsIsolated(t *testing.T) {
	f := newFixture(t, nil)
	golden := map[string][]byte{}
	for org, file := range map[string]string{acme: "acme", globex: "globex"} {
		b, err := os.ReadFile("../../testdata/golden/" + file + ".jsonl")
		if err != nil {
			t.Fatal(err)
		}
		golden[org] = b
	}
	orgs := []string{acme, globex, initech}
	type client struct{ org, secret string }
	var clients []client
	for i := range 50 {
		org := orgs[i%len(orgs)]
		secret, _, err := f.file.Mint(rand.Reader, org, fmt.Sprintf("c%d", i), []string{archiver.ScopeComplianceRead}, f.clock.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, client{org, secret})
	}
	if err := f.file.Write(f.path); err != nil {
		t.Fatal(err)
	}
	if err := f.set.Reload(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 50*3*4)
	start := make(chan struct{})
	for _, c := range clients {
		wg.Go(func() {
			<-start
			for range 3 {
				errs <- checkOwnExport(f, c.secret, c.org, golden[c.org])
				errs <- checkOwnListing(f, c.secret, c.org, golden[c.org])
				errs <- checkOwnManifest(f, c.secret, c.org, golden[c.org])
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		n++
		if err != nil {
			t.Error(err)
		}
	}
	if n != 50*3*3 {
		t.Fatalf("%d checks ran, want %d", n, 50*3*3)
	}
	reliability.Record(t, "security", "50 concurrent clients with tokens of 3 organizations", reliability.Refused,
		"450 requests (export, listing, manifest): each saw only its own organization's data")
}

func do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func checkOwnExport(f *fixture, secret, org string, want []byte) error {
	req, _ := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(date(sample)))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, body, err := do(req)
	if err != nil {
		return err
	}
	if want == nil { // archival off
		if resp.StatusCode != 404 {
			return fmt.Errorf("%s export: %d %s, want 404", org, resp.StatusCode, body)
		}
		return nil
	}
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		return fmt.Errorf("%s export: %d, %d bytes: not its own golden file", org, resp.StatusCode, len(body))
	}
	return nil
}

func checkOwnListing(f *fixture, secret, org string, want []byte) error {
	req, _ := http.NewRequest("GET", f.url+"/v1/exports?from=2026-11-22&to=2026-11-22", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, body, err := do(req)
	if err != nil {
		return err
	}
	if want == nil {
		if resp.StatusCode != 404 {
			return fmt.Errorf("%s listing: %d %s, want 404", org, resp.StatusCode, body)
		}
		return nil
	}
	var list struct {
		Org  string
		Days []httpapi.DayJSON
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || list.Org != org || len(list.Days) != 1 || list.Days[0].SHA256 != sha(want) {
		return fmt.Errorf("%s listing: %d %s", org, resp.StatusCode, body)
	}
	return nil
}

func checkOwnManifest(f *fixture, secret, org string, want []byte) error {
	req, _ := http.NewRequest("GET", f.url+"/v1/exports/2026-11-22/manifest", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, body, err := do(req)
	if err != nil {
		return err
	}
	if want == nil {
		if resp.StatusCode != 404 {
			return fmt.Errorf("%s manifest: %d %s, want 404", org, resp.StatusCode, body)
		}
		return nil
	}
	var m archiver.Manifest
	if resp.StatusCode != 200 || json.Unmarshal(body, &m) != nil || m.Org != org || m.Data.JSONLSHA256 != sha(want) {
		return fmt.Errorf("%s manifest: %d %.200s", org, resp.StatusCode, body)
	}
	return nil
}

// endless serves a day whose stored bytes never end, so that a client that stops reading
// fills every buffer between them and the server's writes stall.
type endless struct{ httpapi.Exports }

func (endless) OpenExport(context.Context, string, archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error) {
	m := &archiver.StoredManifest{Manifest: &archiver.Manifest{Revision: 1}}
	m.Data.Size, m.Data.SHA256 = 1<<40, strings.Repeat("0", 64)
	return m, io.NopCloser(zeros{}), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// auditSignal passes audit records on to the test: the server audits a download once it
// has given up on it.
type auditSignal struct {
	httpapi.Audit
	done chan audit.Record
}

func (a auditSignal) Append(_ context.Context, r audit.Record) error {
	a.done <- r
	return nil
}

// TestStalledReaderCut: a client that stops reading a download is cut off once a write
// has stalled for WriteTimeout; the audit records the transfer as incomplete.
func TestStalledReaderCut(t *testing.T) {
	audited := make(chan audit.Record, 1)
	f := newFixture(t, func(s *httpapi.Server) {
		s.Exports = endless{s.Exports}
		s.Audit = auditSignal{s.Audit, audited}
		s.WriteTimeout = 200 * time.Millisecond
	})
	req, _ := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(date(sample)))
	req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Read nothing until the server has given up (a safety net, not a timing: without
	// the write timeout the server would wait forever).
	var rec audit.Record
	select {
	case rec = <-audited:
	case <-time.After(time.Minute):
		t.Fatal("the server still waits on a client that reads nothing")
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil {
		t.Fatalf("the body ended cleanly after %d bytes; want a cut connection", n)
	}
	if rec.Complete || rec.Bytes >= 1<<40 || rec.Bytes < n {
		t.Fatalf("audit record %+v after the client read %d bytes; want incomplete", rec, n)
	}
	reliability.Record(t, "security", "client stops reading a download (slow reader)", reliability.CleanFailure,
		"connection cut once a write stalls for http.writeTimeout; audit records complete=false")
}
