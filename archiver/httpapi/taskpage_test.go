package httpapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
)

// TestTaskListPages: GET /v1/exports/tasks answers a page (?limit=, default 100, at most
// 1000) newest first, with next, the cursor of the following page (?after=), absent on the
// last; a limit or cursor that is not one is a 400 naming the parameter.
func TestTaskListPages(t *testing.T) {
	f, _ := selectionFixture(t, exporttask.Limits{})
	var created []string
	for range 3 {
		resp, b := f.postTask(t, f.tokens["acme"], `{"from":"2026-11-19","to":"2026-11-22","format":"jsonl"}`)
		var c struct{ TaskID string }
		if resp.StatusCode != 202 || json.Unmarshal(b, &c) != nil {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		created = append(created, c.TaskID)
		f.clock.Add(1e9)
	}
	type page struct {
		Tasks []exporttask.Status
		Next  string
	}
	get := func(query string) page {
		t.Helper()
		resp, b := f.get(t, "/v1/exports/tasks"+query, f.tokens["acme"])
		var p page
		if resp.StatusCode != 200 || json.Unmarshal(b, &p) != nil {
			t.Fatalf("GET %s: %d %s", query, resp.StatusCode, b)
		}
		return p
	}
	first := get("?limit=2")
	second := get("?limit=2&after=" + url.QueryEscape(first.Next))
	var got []string
	for _, st := range append(first.Tasks, second.Tasks...) {
		got = append(got, st.TaskID)
	}
	want := slices.Clone(created)
	slices.Reverse(want)
	if first.Next == "" || second.Next != "" || !slices.Equal(got, want) {
		t.Fatalf("pages %v (next %q, then %q), want %v", got, first.Next, second.Next, want)
	}
	if all := get(""); len(all.Tasks) != 3 || all.Next != "" {
		t.Errorf("default page: %d tasks, next %q", len(all.Tasks), all.Next)
	}
	for _, tt := range []struct{ query, field string }{
		{"?limit=0", "limit"}, {"?limit=1001", "limit"}, {"?limit=x", "limit"}, {"?limit=", "limit"},
		{"?after=..%2F..%2Fx", "after"}, {"?after=" + created[0], "after"},
	} {
		resp, b := f.get(t, "/v1/exports/tasks"+tt.query, f.tokens["acme"])
		wantCode(t, resp, b, 400, "invalid_request")
		if !strings.Contains(string(b), `"field":"`+tt.field+`"`) {
			t.Errorf("%s: %s, want field %s", tt.query, b, tt.field)
		}
	}
}
