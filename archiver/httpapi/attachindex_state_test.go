package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttachmentIndexDayStates: GET /v1/exports/{date}/attachments answers a day that is
// not sealed yet as the rest of the export API does (409 export_pending with Retry-After,
// not 404), and a sealed day without an index (capture off, or not run yet) 404
// attachment_not_found whose message says the day is sealed and why no index is there.
func TestAttachmentIndexDayStates(t *testing.T) {
	captured := newAttachFixture(t, nil)
	// The sample sealed, never captured: attachments.enabled off.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	store := newFolderStore(t)
	off := newFixtureOn(t, store, func(s *httpapi.Server) {
		s.Attachments = attach.Reader{Store: store, TrustedKeys: []ed25519.PublicKey{pub}}
	})
	// A sealed day with no records: capture writes no index for it.
	logDir := t.TempDir()
	dirBytes, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"directory.json": dirBytes, sample + "/part-0001.jsonl": nil, sample + "/_CLOSED": nil} {
		os.MkdirAll(filepath.Dir(filepath.Join(logDir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(logDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	emptyStore := newFolderStore(t)
	empty := newFixtureLog(t, emptyStore, logDir, []string{sample}, func(s *httpapi.Server) {
		s.Attachments = attach.Reader{Store: emptyStore, TrustedKeys: []ed25519.PublicKey{pub}}
	})
	for _, tt := range []struct {
		name, url, token string
		status           int
		code, says       string
	}{
		{"not sealed yet", captured.url + "/v1/exports/2026-11-21/attachments", captured.tokens["acme"], 409, "export_pending", "not sealed"},
		{"not sealed yet (capture off)", off.url + "/v1/exports/2026-11-21/attachments", off.tokens["acme"], 409, "export_pending", "not sealed"},
		{"today, not sealed", captured.url + "/v1/exports/2026-11-23/attachments", captured.tokens["acme"], 409, "export_pending", "not sealed"},
		{"sealed empty day", empty.url + "/v1/exports/" + sample + "/attachments", empty.tokens["acme"], 404, "attachment_not_found", "no records"},
		{"sealed, never captured", off.url + "/v1/exports/" + sample + "/attachments", off.tokens["acme"], 404, "attachment_not_found", "sealed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.url, tt.token)
			checkError(t, resp, body, tt.status, tt.code)
			var e struct{ Message string }
			json.Unmarshal(body, &e)
			if !strings.Contains(e.Message, tt.says) {
				t.Errorf("message %q does not say %q", e.Message, tt.says)
			}
		})
	}
	// The same day as an export: the same answer.
	resp, body := get(t, captured.url+"/v1/exports/2026-11-21/manifest", captured.tokens["acme"])
	checkError(t, resp, body, 409, "export_pending")
	reliability.Record(t, "input", "a day's attachment index is asked for before the day is sealed, or after it is sealed but never captured", reliability.Kept,
		"409 export_pending with Retry-After before the seal, as every export endpoint; 404 attachment_not_found once sealed without an index (capture off or not run yet), saying so")
}
