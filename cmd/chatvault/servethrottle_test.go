package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestServeAnswers503WhileS3Throttles serves a sealed day from MinIO through a proxy that
// then answers every request on the organizations' objects 503 SlowDown. Before, each S3
// request an API call made was tried s3.maxAttempts (10) times, with backoffs up to
// s3.maxBackoff (about 111s by default, counted here in attempts: s3Env caps the backoff
// at 1ms), and the API answered 500 internal at the end of it, long after a client or a
// proxy with a 60s timeout had given up. Now the S3 requests made to answer an API
// request are tried s3.apiMaxAttempts times (default 3: at most 1s + 2s of backoff) and
// the API answers 503 unavailable with Retry-After; once S3 answers again, the same
// requests are served.
func TestServeAnswers503WhileS3Throttles(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	proxy := srv.NewFaultProxy(t)
	t.Setenv("CHATVAULT_VERIFY_INTERVAL", "0")
	// serve's start-up read of the ledger (freshness metrics) lists the organizations' days
	// too: the counts below must start after it, and no periodic re-read may run meanwhile.
	refreshed := make(chan error, 1)
	serveHooks.ledgerRefresh = make(chan time.Time)
	serveHooks.ledgerRefreshed = func(err error) {
		select {
		case refreshed <- err:
		default:
		}
	}
	t.Cleanup(func() { serveHooks.ledgerRefresh, serveHooks.ledgerRefreshed = nil, nil })
	// serve reaches S3 through the proxy.
	url, token, archive := serveSealedS3(t, srv, func() { t.Setenv("CHATVAULT_S3_ENDPOINT", proxy.URL) })
	if err := <-refreshed; err != nil {
		t.Fatalf("serve's start-up read of the ledger: %v", err)
	}

	var mu sync.Mutex
	var seen map[string]int // attempts of each distinct S3 request on the archive's bucket
	throttle := func(on bool) {
		mu.Lock()
		defer mu.Unlock()
		seen = map[string]int{}
		if !on {
			proxy.SetFaults(nil)
			return
		}
		proxy.SetFaults(func(r *http.Request) miniotest.Fault {
			// The organizations' objects and listings: what the API reads to answer, and
			// what nothing else of serve's touches meanwhile (its scheduler and
			// verification loop are off), so that each count is the API's.
			if !strings.HasPrefix(r.URL.Path, "/"+archive+"/cv/orgs/") && !strings.HasPrefix(r.URL.Query().Get("prefix"), "cv/orgs/") {
				return miniotest.Pass
			}
			mu.Lock()
			seen[r.Method+" "+r.URL.RequestURI()]++
			mu.Unlock()
			return miniotest.Unavailable
		})
	}
	call := func(method, path, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	for _, tc := range []struct{ name, method, path, body string }{
		{"export", "POST", "/messageevent.export", `{"date":"2026-11-22"}`},
		{"manifest", "GET", "/v1/exports/2026-11-22/manifest", ""},
		{"list", "GET", "/v1/exports?from=2026-11-22&to=2026-11-22", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			throttle(true)
			resp, body := call(tc.method, tc.path, tc.body)
			mu.Lock()
			attempts, most := 0, 0
			got := maps.Clone(seen)
			for _, n := range seen {
				attempts += n
				most = max(most, n)
			}
			mu.Unlock()
			throttle(false)
			var e struct{ Error, Message string }
			_ = json.Unmarshal(body, &e)
			retryAfter, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			if resp.StatusCode != http.StatusServiceUnavailable || e.Error != "unavailable" || retryAfter <= 0 {
				t.Fatalf("%s %s while S3 throttles: %d %s (Retry-After %q, %d S3 attempts, at most %d of one request); want 503 unavailable with Retry-After",
					tc.method, tc.path, resp.StatusCode, body, resp.Header.Get("Retry-After"), attempts, most)
			}
			if attempts == 0 || most > 3 {
				t.Fatalf("%d S3 attempts, at most %d of one request; want some, each request tried at most s3.apiMaxAttempts (3) times: %v", attempts, most, got)
			}
			t.Logf("%s %s: %d %s, Retry-After %d; %d S3 attempts", tc.method, tc.path, resp.StatusCode, e.Message, retryAfter, attempts)
			// S3 answers again: the same request is served.
			if resp, body := call(tc.method, tc.path, tc.body); resp.StatusCode != http.StatusOK || len(body) == 0 {
				t.Fatalf("%s %s once S3 answers: %d %s", tc.method, tc.path, resp.StatusCode, body)
			}
		})
	}
	reliability.Record(t, "fault", "serve: S3 throttles every request (503 SlowDown) while API clients ask for exports, manifests and day lists", reliability.Refused,
		"each S3 request made for an API call is tried s3.apiMaxAttempts (3) times, not s3.maxAttempts (10, about 111s of backoff), and the API answers 503 unavailable with Retry-After instead of hanging past a client's or proxy's timeout; served once S3 answers")
}
