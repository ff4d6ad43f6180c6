package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHeadManifestReadsNoManifest: net/http answers HEAD with the GET handler and drops
// the body, so HEAD /v1/exports/{date}/manifest read (downloaded, up to 16 MiB) the
// day's latest manifest for a body never sent: a client polling with HEAD for a day to
// be sealed cost the store a manifest per poll. HEAD answers from the listing of the
// day's keys alone: 200 with GET's Content-Type and Cache-Control for a sealed day (and
// no Content-Length: the body as served is known only once the manifest is read, checked
// and, for a version 1 manifest, redacted), 409 export_pending for a day not sealed,
// 404 before the archival start; no object of the store is opened. GET answers as before.
func TestHeadManifestReadsNoManifest(t *testing.T) {
	cs := &countingStore{Store: newFolderStore(t)}
	f := newFixtureOn(t, cs, nil)
	for _, tc := range []struct {
		date   string
		status int
	}{
		{"2026-11-22", http.StatusOK},
		{"2026-11-21", http.StatusConflict},
		{"2020-01-01", http.StatusNotFound},
	} {
		path := "/v1/exports/" + tc.date + "/manifest"
		getResp, getBody := get(t, f.url+path, f.tokens["acme"])
		cs.reset()
		req, _ := http.NewRequest("HEAD", f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cs.mu.Lock()
		var manifests []string
		for _, k := range cs.opened {
			if !strings.HasSuffix(k, "layout.json") {
				manifests = append(manifests, k)
			}
		}
		cs.mu.Unlock()
		if resp.StatusCode != tc.status || getResp.StatusCode != tc.status {
			t.Errorf("HEAD %s: %d, GET %d %s; want %d for both", path, resp.StatusCode, getResp.StatusCode, getBody, tc.status)
		}
		if ct := resp.Header.Get("Content-Type"); ct != getResp.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type %q, GET's %q", path, ct, getResp.Header.Get("Content-Type"))
		}
		if tc.status == http.StatusOK && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("HEAD %s: Cache-Control %q, want no-store", path, resp.Header.Get("Cache-Control"))
		}
		if len(manifests) != 0 {
			t.Errorf("HEAD %s opened %v; want no object read", path, manifests)
		}
	}
	reliability.Record(t, "security", "HEAD of a day's manifest, polled", reliability.Kept,
		"answered from the listing of the day's keys: the status GET gives (200 sealed, 409 pending, 404 before the archival start) without opening the manifest; no Content-Length, since the body as served is known only once it is read")
}
