package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// getQuarantine asks for a day's quarantined lines with token and extra headers.
func getQuarantine(t *testing.T, f *fixture, method, day, token string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+"/v1/exports/"+day+"/quarantine", nil)
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

// TestQuarantineEndpoint serves the sample day's quarantined lines over HTTP: Acme gets
// exactly the lines of its chats (the golden file), as NDJSON or as the stored gzip, with
// the headers of an export; Globex, with none, gets an empty 200; neither sees the lines
// nobody could be given (bad JSON, bad UTF-8). Every request with a valid token is
// audited under its organization, with what was sent.
func TestQuarantineEndpoint(t *testing.T) {
	for _, tasks := range []bool{false, true} {
		name := "without tasks"
		if tasks {
			name = "with tasks" // the {date}/{leaf} route
		}
		t.Run(name, func(t *testing.T) {
			var tune func(*httpapi.Server)
			if tasks {
				tune = func(s *httpapi.Server) {
					s.Tasks = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
						Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
				}
			}
			testQuarantineEndpoint(t, newFixture(t, tune))
		})
	}
}

func testQuarantineEndpoint(t *testing.T, f *fixture) {
	want, err := os.ReadFile("../../testdata/golden/acme.quarantine.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := getQuarantine(t, f, "GET", sample, f.tokens["acme"])
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("acme: %d\n%s\nwant\n%s", resp.StatusCode, body, want)
	}
	if resp.Header.Get("Content-Type") != "application/x-ndjson" || resp.Header.Get(httpapi.HeaderSHA256) != sha(want) ||
		resp.Header.Get(httpapi.HeaderRecords) != "7" || resp.Header.Get(httpapi.HeaderRevision) != "1" {
		t.Errorf("acme headers: %v", resp.Header)
	}
	for _, never := range []string{`"line":9,`, `"line":16,`, "rawBase64"} {
		if bytes.Contains(body, []byte(never)) {
			t.Errorf("acme is shown a line nobody can be given (%s)", never)
		}
	}
	resp, gz := getQuarantine(t, f, "GET", sample, f.tokens["acme"], "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	if zr, err := gzip.NewReader(bytes.NewReader(gz)); err != nil {
		t.Errorf("gzip: %v", err)
	} else if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, want) {
		t.Errorf("gzip body does not decompress to the golden file (%v)", err)
	}

	resp, body = getQuarantine(t, f, "GET", sample, f.tokens["globex"])
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get(httpapi.HeaderRecords) != "0" ||
		resp.Header.Get(httpapi.HeaderSHA256) != sha(nil) {
		t.Errorf("globex (no quarantined lines): %d %q %v", resp.StatusCode, body, resp.Header)
	}

	// The listing says which days have some.
	for org, want := range map[string]int64{"acme": 7, "globex": 0} {
		resp, body := get(t, f.url+"/v1/exports?from="+sample+"&to="+sample, f.tokens[org])
		var list struct{ Days []httpapi.DayJSON }
		if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Days) != 1 || list.Days[0].QuarantinedLines != want {
			t.Errorf("%s's listing: %d %s, want quarantinedLines %d", org, resp.StatusCode, body, want)
		}
	}

	for _, tt := range []struct {
		name, day, token string
		status           int
		code             string
	}{
		{"not sealed", "2026-11-21", "acme", 409, "export_pending"},
		{"future", "2026-12-24", "acme", 400, "invalid_request"},
		{"bad date", "2026-02-30", "acme", 400, "invalid_request"},
		{"before archival start", "2026-05-01", "globex", 404, "export_not_found"},
		{"archival off", sample, "initech", 404, "export_not_found"},
		{"unknown organization", sample, "stranger", 404, "export_not_found"},
		{"wrong scope", sample, "acme-audit", 403, "insufficient_scope"},
		{"no token", sample, "", 401, "invalid_token"},
	} {
		resp, body := getQuarantine(t, f, "GET", tt.day, f.tokens[tt.token])
		checkError(t, resp, body, tt.status, tt.code)
	}
	resp, _ = getQuarantine(t, f, "HEAD", sample, f.tokens["acme"])
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Errorf("HEAD: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// The audit: every request with a valid token, under its organization, with what was
	// sent; the token-less one is not stored.
	flushAudit(t, f.audit)
	day := mustDay(t, sample)
	records := func(org string) []audit.Record {
		var out []audit.Record
		if err := f.audit.List(context.Background(), org, day, day.Next().Next().Next().Next(), func(r audit.Record) error {
			if r.Action == audit.ActionQuarantine {
				out = append(out, r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	acmeRecs := records(acme)
	// served, gzip, pending, future, bad date, wrong scope, HEAD refused before the gate: 6.
	if len(acmeRecs) != 6 {
		t.Fatalf("acme's quarantine audit records: %+v", acmeRecs)
	}
	if r := acmeRecs[0]; r.Status != 200 || r.Date != sample || r.Revision != 1 || !r.Complete || r.Bytes != int64(len(want)) ||
		r.SHA256 != sha(want) || r.Encoding != "identity" {
		t.Errorf("acme's first record: %+v", r)
	}
	if r := acmeRecs[1]; r.Encoding != "gzip" || r.SHA256 != sha(gz) || r.Bytes != int64(len(gz)) {
		t.Errorf("acme's gzip record: %+v", r)
	}
	if r := acmeRecs[5]; r.Status != 403 || r.Error != "insufficient_scope" {
		t.Errorf("acme's refused record: %+v", r)
	}
	globexRecs := records(globex)
	if len(globexRecs) != 2 || globexRecs[0].Status != 200 || globexRecs[0].Bytes != 0 || !globexRecs[0].Complete ||
		globexRecs[0].SHA256 != sha(nil) || globexRecs[1].Status != 404 {
		t.Errorf("globex's quarantine audit records: %+v", globexRecs)
	}
	reliability.Record(t, "security", "an organization asks for its quarantined lines of a day (GET /v1/exports/{date}/quarantine)", reliability.Kept,
		"served the lines attributed to it only, checked against its manifest, audited; none is an empty 200, another organization's never")
}

// TestQuarantineTampered: an organization's stored quarantine object changed after the
// seal is never served; the client gets a clean 500 and the operator the integrity metric.
func TestQuarantineTampered(t *testing.T) {
	f := newFixture(t, nil)
	m, err := ledger.Ledger{Store: f.store}.Latest(context.Background(), acme, mustDay(t, sample))
	if err != nil || m == nil || m.Quarantined == nil {
		t.Fatalf("latest: %v %v", m, err)
	}
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(m.Quarantined.Key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// Same length, valid gzip, one reason changed: only the manifest's hashes can tell.
	plain = bytes.Replace(plain, []byte("unknown_variant"), []byte("unknown_varianu"), 1)
	var forged bytes.Buffer
	zw := gzip.NewWriter(&forged)
	zw.Write(plain)
	zw.Close()
	if err := os.WriteFile(path, forged.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"identity", "gzip"} {
		resp, body := getQuarantine(t, f, "GET", sample, f.tokens["acme"], "Accept-Encoding", enc)
		checkError(t, resp, body, 500, "internal")
		if !strings.Contains(string(body), "quarantine") {
			t.Errorf("%s: %s", enc, body)
		}
	}
	reliability.Record(t, "security", "organization's stored quarantine object altered after the seal, then asked for", reliability.CleanFailure,
		"500 before any of it is sent: the object is checked against the manifest's hashes")
}

// TestQuarantineDocumented: the OpenAPI document describes the endpoint and every status
// it answers with.
func TestQuarantineDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths["/v1/exports/{date}/quarantine"]["get"]
	if !ok {
		t.Fatal("GET /v1/exports/{date}/quarantine is not documented")
	}
	for _, code := range []string{"200", "400", "401", "403", "404", "405", "409", "429", "500"} {
		if _, ok := op.Responses[code]; !ok {
			t.Errorf("response %s is not documented", code)
		}
	}
}
