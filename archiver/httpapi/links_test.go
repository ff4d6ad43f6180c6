package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLinkIgnoresHostHeader: the Host header is the client's to choose. A download link
// built from it would let anyone make the server hand out (and, mailed, send) links to
// their own host; links are relative without exports.baseURL and start with it when set.
func TestLinkIgnoresHostHeader(t *testing.T) {
	for _, base := range []string{"", "https://archive.acme.example/chatvault"} {
		t.Run("baseURL="+base, func(t *testing.T) {
			var engine *exporttask.Engine
			f := newFixture(t, func(s *httpapi.Server) {
				engine = &exporttask.Engine{Store: s.Exports.(archiver.Ledger).Store, Directory: s.Directory, Now: s.Now,
					Links: exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")}, TempDir: t.TempDir()}
				s.Tasks, s.BaseURL = engine, base
			})
			id, err := engine.Create(context.Background(), acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			if st, err := engine.Execute(context.Background(), acme, id); err != nil || st.State != exporttask.StateCompleted {
				t.Fatalf("execute: %v %+v", err, st)
			}
			req, _ := http.NewRequest("GET", f.url+"/v1/exports/tasks/"+id, nil)
			req.Host = "attacker.example"
			req.Header.Set("X-Forwarded-Host", "attacker.example")
			req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var st exporttask.Status
			if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil {
				t.Fatalf("status: %d %s", resp.StatusCode, b)
			}
			if strings.Contains(st.URL, "attacker") {
				t.Fatalf("link %q takes its host from the request", st.URL)
			}
			want := base + "/v1/exports/tasks/" + id + "/download?"
			if !strings.HasPrefix(st.URL, want) {
				t.Fatalf("link %q, want it to start with %q", st.URL, want)
			}
			// The link works from the address the client used.
			resp2, body := f.get(t, f.url+strings.TrimPrefix(st.URL, base), "")
			if resp2.StatusCode != 200 || sha(body) != st.Result.SHA256 {
				t.Fatalf("download: %d", resp2.StatusCode)
			}
		})
	}
	reliability.Record(t, "security", "export task status asked with a forged Host header", reliability.Refused,
		"the link is relative, or starts with exports.baseURL; never the request's host")
}
