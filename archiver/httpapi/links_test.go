package httpapi_test

import (
	"context"
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

// TestLinkIgnoresHostHeader: the Host header is the client's to choose. A download link
// built from it would let anyone make the server hand out (and, mailed, send) links to
// their own host; links are relative without exports.baseURL and start with it when set.
func TestLinkIgnoresHostHeader(t *testing.T) {
	for _, base := range []string{"", "https://archive.acme.example/chatvault"} {
		t.Run("baseURL="+base, func(t *testing.T) {
			var engine *exporttask.Engine
			f := newFixture(t, func(s *httpapi.Server) {
				engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
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

// TestLinkCopiesAsPrinted: the status's download link is read by people, off a terminal
// (curl's output, a ticket), and pasted into curl or a browser. encoding/json writes each
// '&' as \u0026 unless told not to, and a link copied as printed then failed (curl: "URL
// using bad/illegal format"); the body must carry the link as it is used.
func TestLinkCopiesAsPrinted(t *testing.T) {
	var engine *exporttask.Engine
	f := newFixture(t, func(s *httpapi.Server) {
		engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	id, err := engine.Create(context.Background(), acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := engine.Execute(context.Background(), acme, id); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("execute: %v %+v", err, st)
	}
	resp, body := f.get(t, f.url+"/v1/exports/tasks/"+id, f.tokens["acme"])
	if resp.StatusCode != 200 {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	var st exporttask.Status
	if err := json.Unmarshal(body, &st); err != nil || !strings.Contains(st.URL, "&") {
		t.Fatalf("status %s: no link with a query (%v)", body, err)
	}
	if !strings.Contains(string(body), `"url": "`+st.URL+`"`) {
		t.Fatalf("the link is not in the body as it is used (%q):\n%s", st.URL, body)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff: the JSON is not HTML-escaped, so no browser may read it as HTML", got)
	}
	// The link copied off the body as printed downloads the result.
	printed := string(body)[strings.Index(string(body), `"url": "`)+len(`"url": "`):]
	printed = printed[:strings.Index(printed, `"`)]
	if resp2, got := f.get(t, f.url+printed, ""); resp2.StatusCode != 200 || sha(got) != st.Result.SHA256 {
		t.Fatalf("download of the link as printed (%s): %d", printed, resp2.StatusCode)
	}
	reliability.Record(t, "operations", "export task download link copied from the status as printed", reliability.Kept,
		`the status JSON writes the link's '&' as is (it wrote \u0026, and the pasted link failed); JSON answers say nosniff`)
}
