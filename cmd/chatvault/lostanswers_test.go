package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestS3LostAnswersAndServerErrors seals a day in layout 3 through a proxy that lets MinIO
// carry out every other write (PUT, POST, DELETE: exports, multipart uploads, manifests,
// chain links, day keys, lease links) but drops the connection before its answer, and
// answers every fifth other request 500 InternalError. Each lost write is retried and finds
// its own object: the run must take it as stored (same SHA-256), not fail the day nor fork
// the chain, and seal byte-identical to the folder store; a rerun finds the day sealed;
// verify passes.
func TestS3LostAnswersAndServerErrors(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	proxy := srv.NewFaultProxy(t)
	s3Env(t, srv)
	t.Setenv("CHATVAULT_S3_ENDPOINT", proxy.URL)
	const day = faultDay
	archive, s3Args, fsArgs := sealFaultDayInFolder(t, srv)

	writes, others := 0, 0
	completes := 0
	proxy.SetFaults(func(r *http.Request) miniotest.Fault {
		if !strings.HasPrefix(r.URL.Path, "/"+archive+"/") {
			return miniotest.Pass
		}
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodDelete:
			writes++
			if writes%2 == 0 {
				if r.Method == http.MethodPost && r.URL.Query().Has("uploadId") {
					completes++
				}
				return miniotest.Lost
			}
		default:
			others++
			if others%5 == 0 {
				return miniotest.Internal
			}
		}
		return miniotest.Pass
	})
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, s3Args...)...); code != exitOK {
		t.Fatalf("run with lost answers: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", day}, s3Args...)...); code != exitOK {
		t.Fatalf("rerun with lost answers: exit %d\n%s%s", code, out, errOut)
	}
	proxy.SetFaults(nil)
	if proxy.Count(miniotest.Lost) == 0 || proxy.Count(miniotest.Internal) == 0 || completes == 0 {
		t.Errorf("lost answers %d (of them multipart completes %d), 500s %d: the test proved less than it claims",
			proxy.Count(miniotest.Lost), completes, proxy.Count(miniotest.Internal))
	}
	sameExportsAndVerified(t, s3Args, fsArgs)
	if !t.Failed() {
		reliability.Record(t, "fault", "S3 store (layout 3): every other write carried out but its answer lost, every fifth read answered 500", reliability.Recovered,
			"each retried write finds its own object (same SHA-256) and counts as stored: the day seals byte-identical to the folder store, no fork; the rerun finds it sealed; verify passes")
	}
}
