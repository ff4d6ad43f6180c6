package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTaskUnknownIDs: over HTTP, a task naming ids the organization's sealed days do not
// know is refused with 400 unknown_ids, each unknown id listed; known ids make a task.
func TestTaskUnknownIDs(t *testing.T) {
	f := newFixture(t, func(s *httpapi.Server) {
		s.Tasks = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
	})
	post := func(body string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", f.url+"/v1/exports/tasks", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := post(`{"from":"2026-11-22","to":"2026-11-22","format":"jsonl","chatIds":["chat-acme-team","chat-nope"],"userIds":["u-ada","u-ivy"],"custodianIds":["u-hank","k-nope"]}`)
	wantCode(t, resp, b, 400, "unknown_ids")
	var e struct {
		Message    string
		UnknownIDs struct{ ChatIDs, UserIDs, CustodianIDs []string }
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.UnknownIDs.ChatIDs, []string{"chat-nope"}) || !slices.Equal(e.UnknownIDs.UserIDs, []string{"u-ivy"}) ||
		!slices.Equal(e.UnknownIDs.CustodianIDs, []string{"k-nope"}) || !strings.Contains(e.Message, `"chat-nope"`) {
		t.Fatalf("unknown ids: %s", b)
	}
	resp, b = post(`{"from":"2026-11-22","to":"2026-11-22","format":"jsonl","chatIds":["chat-acme-team"],"userIds":["u-ada"],"custodianIds":["u-hank"]}`)
	if resp.StatusCode != 202 {
		t.Fatalf("known ids: %d %s", resp.StatusCode, b)
	}
	reliability.Record(t, "input", "export task over HTTP naming unknown chat, user and custodian ids", reliability.Refused,
		"400 unknown_ids with unknownIds.chatIds, userIds and custodianIds listing each; known ids make a task")
}
