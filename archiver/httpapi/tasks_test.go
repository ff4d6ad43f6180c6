package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// flakyAudit fails while down is set.
type flakyAudit struct {
	httpapi.Audit
	down atomic.Bool
}

func (a *flakyAudit) Append(ctx context.Context, r audit.Record) error {
	if a.down.Load() {
		return errors.New("audit store unreachable")
	}
	return a.Audit.Append(ctx, r)
}

func (f *fixture) get(t *testing.T, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", path, nil)
	if !strings.HasPrefix(path, "http") {
		req.URL, _ = req.URL.Parse(f.url + path)
	}
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

func wantCode(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct{ Error string }
	if resp.StatusCode != status || json.Unmarshal(body, &e) != nil || e.Error != code {
		t.Fatalf("got %d %.300s; want %d %s", resp.StatusCode, body, status, code)
	}
}

func TestTaskRoutes(t *testing.T) {
	audit := &flakyAudit{}
	var engine *exporttask.Engine
	f := newFixture(t, func(s *httpapi.Server) {
		audit.Audit = s.Audit
		s.Audit = audit
		engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	post := func(token, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", f.url+"/v1/exports/tasks", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := post(f.tokens["acme"], `{"from":"2026-11-22","to":"2026-11-22","format":"jsonl"}`)
	var created struct{ TaskID string }
	if resp.StatusCode != 202 || json.Unmarshal(b, &created) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	st, err := engine.Execute(context.Background(), acme, created.TaskID)
	if err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("execute: %v %+v", err, st)
	}

	// The manifest route still answers beside the task routes it shares a pattern with.
	resp, b = f.get(t, "/v1/exports/2026-11-22/manifest", f.tokens["acme"])
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"date": "2026-11-22"`) {
		t.Fatalf("manifest: %d %.200s", resp.StatusCode, b)
	}
	for _, tt := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"no token", "/v1/exports/tasks/" + created.TaskID, "", 401, "invalid_token"},
		{"audit scope only", "/v1/exports/tasks/" + created.TaskID, f.tokens["acme-audit"], 403, "insufficient_scope"},
		{"another organization", "/v1/exports/tasks/" + created.TaskID, f.tokens["globex"], 404, "export_not_found"},
		{"not a task id", "/v1/exports/tasks/manifest", f.tokens["acme"], 404, "export_not_found"},
		{"unknown leaf", "/v1/exports/2026-11-22/other", f.tokens["acme"], 404, "export_not_found"},
		{"download without a link", "/v1/exports/tasks/" + created.TaskID + "/download", "", 403, "invalid_link"},
		{"download of a path", "/v1/exports/tasks/..%2f..%2fkeys/download?org=" + acme + "&expires=9999999999&nonce=00&sig=00", "", 403, "invalid_link"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := f.get(t, tt.path, tt.token)
			wantCode(t, resp, b, tt.status, tt.code)
		})
	}
	resp, b = post(f.tokens["acme"], `{"from":"2026-11-22","to":"2026-11-22","format":"jsonl","subject":"`+strings.Repeat("x", 20<<10)+`"}`)
	wantCode(t, resp, b, 400, "invalid_request")

	// With the audit down, nothing is served: the status (and its link) is withheld.
	audit.down.Store(true)
	resp, b = f.get(t, "/v1/exports/tasks/"+created.TaskID, f.tokens["acme"])
	wantCode(t, resp, b, 500, "internal")
	if strings.Contains(string(b), "download?") {
		t.Fatal("a link was served unaudited")
	}
	audit.down.Store(false)
	reliability.Record(t, "fault", "access audit unwritable during an export task status request", reliability.CleanFailure, "500 internal; no status or link is sent")

	resp, b = f.get(t, "/v1/exports/tasks/"+created.TaskID, f.tokens["acme"])
	var got exporttask.Status
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || !strings.HasPrefix(got.URL, "/v1/exports/tasks/"+created.TaskID+"/download?") {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	resp, body := f.get(t, got.URL, "")
	if resp.StatusCode != 200 || int64(len(body)) != got.Result.Size || sha(body) != got.Result.SHA256 || resp.Header.Get("X-Chatvault-Sha256") != got.Result.SHA256 {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
}
