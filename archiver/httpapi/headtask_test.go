package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestHeadOfATaskStatusIsNotAudited: net/http answers HEAD with a GET route's handler and
// drops the body, so a HEAD of a completed task's status minted a download link that never
// left, and the audit recorded a task.status answered in full, the link's result hash
// included; a HEAD of the task list, a page that was never sent. As for download links,
// HEAD of the audited task routes is refused (405, Allow: GET), and nothing is audited.
func TestHeadOfATaskStatusIsNotAudited(t *testing.T) {
	f, _, id, audited := auditedTask(t)
	for _, path := range []string{"/v1/exports/tasks/" + id, "/v1/exports/tasks"} {
		req, _ := http.NewRequest("HEAD", f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		select {
		case rec := <-audited:
			t.Fatalf("HEAD %s (%d) audited as %s, complete=%v", path, resp.StatusCode, rec.Action, rec.Complete)
		default:
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
			t.Fatalf("HEAD %s: %d, Allow %q; want 405, Allow: GET", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
		// GET still answers, audited.
		req.Method = "GET"
		if resp, err = client.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if rec := <-audited; resp.StatusCode != 200 || !rec.Complete {
			t.Fatalf("GET %s: %d, audit %+v", path, resp.StatusCode, rec)
		}
	}
	reliability.Record(t, "security", "HEAD of an export task's status (mints a link) and of the task list", reliability.Refused,
		"405 with Allow: GET, not audited; the audit never records an answer that was not sent")
}
