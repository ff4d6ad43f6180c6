package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHeadOfListingsReadsNothing: net/http answers HEAD with a GET route's handler and
// drops the body, so HEAD /v1/audit read every access record of the range (up to 100000)
// and HEAD /v1/exports every day's manifest, for a body never sent. As for the task
// routes, HEAD is refused (405, Allow: GET) before the store is touched; GET answers.
func TestHeadOfListingsReadsNothing(t *testing.T) {
	cs := &countingStore{Store: newFolderStore(t)}
	f := newFixtureOn(t, cs, nil)
	for _, tc := range []struct{ path, token string }{
		{"/v1/audit?from=2026-11-20&to=2026-11-23", "acme-audit"},
		{"/v1/exports?from=2026-11-20&to=2026-11-23", "acme"},
	} {
		cs.reset()
		req, _ := http.NewRequest("HEAD", f.url+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[tc.token])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cs.mu.Lock()
		opened, listed := len(cs.opened), len(cs.listed)
		cs.mu.Unlock()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("HEAD %s: %d, Allow %q, Content-Type %q; want 405, Allow: GET, application/json",
				tc.path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"))
		}
		if opened+listed != 0 {
			t.Errorf("HEAD %s read the store: %d opened, %d listed; want none", tc.path, opened, listed)
		}
		resp, body := get(t, f.url+tc.path, f.tokens[tc.token])
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
	reliability.Record(t, "security", "HEAD of the audit listing and of the exports listing", reliability.Refused,
		"405 with Allow: GET before the store is read, as the task routes; GET answers as before")
}
