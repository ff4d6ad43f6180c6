package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestTaskBodyFitsMaxIDs: exports.maxIds may be raised to 1,000; a request that uses
// them (here 1,000 message ids of 100 bytes, 100 KB of JSON) must not be refused as a body
// too large by a limit sized for the default 25. The body limit grows with maxIds.
func TestTaskBodyFitsMaxIDs(t *testing.T) {
	store := newFolderStore(t)
	f := newFixtureLog(t, store, selectionLog(t), selectionDays, func(s *httpapi.Server) {
		s.Tasks = &exporttask.Engine{Store: store, Directory: s.Directory, Now: s.Now, Limits: exporttask.Limits{MaxIDs: 1000},
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.MaxTaskIDs = 1000
	})
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"m-%097d"`, i)
	}
	body := `{"format":"jsonl","messageIds":[` + strings.Join(ids, ",") + `]}`
	if len(body) <= 64<<10 {
		t.Fatalf("the body is %d bytes: the test needs more than the old 64 KiB", len(body))
	}
	resp, b := f.postTask(t, f.tokens["acme"], body)
	if resp.StatusCode != 202 {
		t.Fatalf("%d bytes of body with 1000 message ids (maxIds 1000): %d %s", len(body), resp.StatusCode, b)
	}
	// Over what maxIds can need, it is still refused.
	resp, b = f.postTask(t, f.tokens["acme"], `{"format":"jsonl","subject":"`+strings.Repeat("x", 3<<20)+`"}`)
	wantCode(t, resp, b, 400, "invalid_request")
	reliability.Record(t, "input", "export task request using exports.maxIds raised to 1000", reliability.Kept,
		"the body limit grows with maxIds (2 KiB per id, at least 64 KiB): 1000 message ids of 100 bytes are accepted; a body beyond that is still a 400")
}
