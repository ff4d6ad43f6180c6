package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestUnknownRoutesAnswerJSON: every answer of the API, even from the router itself, has
// the documented error shape; a client (or a monitoring probe) never has to parse
// net/http's plain-text "404 page not found".
func TestUnknownRoutesAnswerJSON(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/nope", 404, "not_found", ""},
		{"GET", "/v1/exports/2026-11-22/manifest/extra", 404, "not_found", ""},
		{"POST", "/v1/nothing/here", 404, "not_found", ""},
		{"DELETE", "/", 404, "not_found", ""},
		{"GET", "/messageevent.export", 405, "method_not_allowed", "POST"},
		{"PUT", "/v1/exports", 405, "method_not_allowed", "GET, HEAD"},
		{"DELETE", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.url+tc.path, strings.NewReader(`{"date":"2026-11-22"}`))
			req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e struct{ Error, Message string }
			if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error != tc.code || e.Message == "" {
				t.Fatalf("got %d %q; want %d with JSON error %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	reliability.Record(t, "input", "unknown path or wrong method", reliability.Refused,
		`404 not_found or 405 method_not_allowed (with Allow) in the JSON error shape, not plain text`)
}
