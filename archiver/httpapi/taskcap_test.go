package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTaskCapIs429: an organization at exports.maxTasksPerOrg queued or running tasks gets
// 429 too_many_tasks naming the cap, with Retry-After; another organization does not.
func TestTaskCapIs429(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) {
		s.Tasks = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir(), MaxTasksPerOrg: 1}
	})
	post := func(token string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", f.url+"/v1/exports/tasks", strings.NewReader(`{"from":"2026-11-22","to":"2026-11-22","format":"jsonl"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, b := post(f.tokens["acme"]); resp.StatusCode != 202 {
		t.Fatalf("first task: %d %s", resp.StatusCode, b)
	}
	resp, b := post(f.tokens["acme"])
	wantCode(t, resp, b, 429, "too_many_tasks")
	var e struct{ Message string }
	if json.Unmarshal(b, &e); !strings.Contains(e.Message, "1 export tasks queued or running") || !strings.Contains(e.Message, "exports.maxTasksPerOrg") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without the cap or Retry-After: %s %v", b, resp.Header)
	}
	if resp, b := post(f.tokens["globex"]); resp.StatusCode != 202 {
		t.Fatalf("another organization: %d %s", resp.StatusCode, b)
	}
	reliability.Record(t, "input", "POST /v1/exports/tasks over exports.maxTasksPerOrg", reliability.Refused,
		"429 too_many_tasks naming the cap, with Retry-After; other organizations unaffected")
}
