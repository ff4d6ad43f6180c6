package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestUncleanPathsNotRedirected: net/http's ServeMux answers a path that is not clean
// (`//v1/exports`, `/v1/../v1/exports`, `/v1/./audit`) with a redirect to the cleaned
// path, a Location without the prefix of a path-prefix proxy in front of the API (so
// wrong behind it), in plain text, and for POST a method change some clients make. The
// API has no such path: 404 not_found in its JSON shape, no Location, nothing served.
func TestUncleanPathsNotRedirected(t *testing.T) {
	f := newFixture(t, nil)
	noFollow := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "//v1/exports?from=2026-11-22&to=2026-11-22", "acme"},
		{"GET", "/v1/../v1/exports?from=2026-11-22&to=2026-11-22", "acme"},
		{"GET", "/v1/./audit?from=2026-11-22&to=2026-11-22", "acme-audit"},
		{"GET", "/v1/exports//2026-11-22/manifest", "acme"},
		{"POST", "//messageevent.export", "acme"},
		{"GET", "/x/../healthz", ""},
	} {
		req, _ := http.NewRequest(tc.method, f.url+tc.path, strings.NewReader(date(sample)))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+f.tokens[tc.token])
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s %s: %d with Location %q; want no redirect", tc.method, tc.path, resp.StatusCode, loc)
			continue
		}
		checkError(t, resp, body, 404, "not_found")
	}
	reliability.Record(t, "input", "path that is not clean (//v1/exports, /v1/../v1/exports)", reliability.Refused,
		"404 not_found in the JSON error shape, never net/http's redirect to a Location without the proxy's path prefix")
}
