package httpapi_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/internal/reliability"
)

// Instants far from now are valid RFC 3339 (years 0000 to 9999): they must bound the
// events as instants, not wrap around. An until in the year 3000 once became a time before
// 1970 (nanoseconds since the epoch overflow int64 past 2262), so "everything until the
// year 3000" completed empty, saying no record matched.
func TestTaskInstantsFarFromNow(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	for _, body := range []string{
		`{"since":"1000-01-01T00:00:00Z","until":"3000-01-01T00:00:00Z","messageIds":["m-104"],"format":"jsonl"}`,
		`{"since":"0001-01-01T00:00:00Z","until":"9999-12-31T23:59:59.999999999Z","messageIds":["m-104"],"format":"jsonl"}`,
		`{"since":"1600-01-01T00:00:00-12:00","messageIds":["m-104"],"format":"jsonl"}`,
		`{"until":"2300-01-01T00:00:00+14:00","messageIds":["m-104"],"format":"jsonl"}`,
	} {
		st, evs := f.runTask(t, engine, body)
		if got := names(evs); !slices.Equal(got, []string{"m-104/sent"}) || st.NoMatch != "" {
			t.Fatalf("%s: records %v (noMatch %q), want m-104/sent", body, got, st.NoMatch)
		}
	}
	reliability.Record(t, "input", "export task since/until far in the past or future (years 0001 to 9999)", reliability.Kept,
		"compared as epoch milliseconds without overflow: the events of the range, never a wrapped bound that empties the result")
}

// RFC 3339 allows a leap second (23:59:60Z). It is the instant the next second starts
// (epoch times have no leap seconds): since it inclusive keeps an event at the next
// second, until it exclusive does not. It was once refused as "not an RFC 3339 instant".
func TestTaskInstantLeapSecond(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	// m-104 was sent at 2026-11-22T12:00:00Z.
	st, evs := f.runTask(t, engine, `{"since":"2026-11-22T11:59:60Z","messageIds":["m-104"],"format":"jsonl"}`)
	if got := names(evs); !slices.Equal(got, []string{"m-104/sent"}) {
		t.Fatalf("since a leap second: records %v (noMatch %q), want m-104/sent", got, st.NoMatch)
	}
	st, evs = f.runTask(t, engine, `{"until":"2026-11-22T13:59:60+02:00","messageIds":["m-104"],"format":"jsonl"}`)
	if len(evs) != 0 || st.NoMatch == "" {
		t.Fatalf("until a leap second: records %v (noMatch %q), want none", names(evs), st.NoMatch)
	}
	resp, b := f.postTask(t, f.tokens["acme"], `{"since":"2026-11-22T11:59:61Z","format":"jsonl"}`)
	wantCode(t, resp, b, 400, "invalid_request")
	reliability.Record(t, "input", "export task since/until on a leap second (23:59:60)", reliability.Kept,
		"accepted as RFC 3339 allows, as the instant the next second starts; second 61 is still 400")
}

// listCounter counts the listings of an organization's days a store is asked for.
type listCounter struct {
	archiver.Store
	prefix string
	n      atomic.Int64
}

func (c *listCounter) List(ctx context.Context, prefix string, fn func(key string) error) error {
	if strings.HasPrefix(prefix, c.prefix) {
		c.n.Add(1)
	}
	return c.Store.List(ctx, prefix, fn)
}

// An organization without an archival start has no lower bound for from: a careless (or
// hostile) from of 1970-01-01, or a since in the year 1000, once cost a store listing and
// a read per day of the range (20,000 days and more: as many S3 requests for one POST)
// before it was refused. The unsealed
// days are now found from one listing of the sealed ones.
func TestTaskFarFromWithoutArchivalStart(t *testing.T) {
	store := newFolderStore(t)
	logDir := selectionLog(t)
	dirPath := filepath.Join(logDir, "directory.json")
	b, err := os.ReadFile(dirPath)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"archivalStart": "2026-11-19"`), []byte(`"archivalStart": ""`), 1)
	if err := os.WriteFile(dirPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	counter := &listCounter{Store: store, prefix: "orgs/" + acme + "/days/"}
	var engine *exporttask.Engine
	f := newFixtureLog(t, store, logDir, selectionDays, func(s *httpapi.Server) {
		engine = &exporttask.Engine{Store: counter, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	for _, req := range []string{
		`{"from":"1970-01-01","to":"2026-11-22","format":"jsonl"}`,
		// since's day is the range's start: days before 1970 are none of the archive's.
		`{"since":"1000-01-01T00:00:00Z","to":"2026-11-22","format":"jsonl"}`,
	} {
		before := counter.n.Load()
		resp, body := f.postTask(t, f.tokens["acme"], req)
		wantCode(t, resp, body, 409, "export_pending")
		// 20,776 days before the first sealed one, 1970-01-01 named first.
		if !strings.Contains(string(body), "20776 day(s) of the range are not sealed: 1970-01-01 (pending)") {
			t.Fatalf("%s: %s", req, body)
		}
		if n := counter.n.Load() - before; n > 20 { // a few, however long the range
			t.Fatalf("%s: refusing the range listed the organization's days %d times", req, n)
		}
	}
	// The sealed days still run.
	st, evs := f.runTask(t, engine, `{"from":"2026-11-19","messageIds":["m-104"],"format":"jsonl"}`)
	if got := names(evs); !slices.Equal(got, []string{"m-104/sent"}) || st.Request.To != "2026-11-22" {
		t.Fatalf("records %v to %s", got, st.Request.To)
	}
	reliability.Record(t, "security", "export task from far in the past for an organization without archival start", reliability.Kept,
		"409 naming the unsealed days from one listing of the sealed ones, not a store request per day of the range")
}

// A task request is read one way only. encoding/json takes the last of two same-named
// fields and matches names regardless of case, so {"chatIds":["a"],"chatIds":[]} once
// exported every chat while a proxy, a log or a reviewer reading the body saw one chat;
// the archive's own decoder refuses duplicate fields for the same reason.
func TestTaskRequestReadOneWayOnly(t *testing.T) {
	f, _ := selectionFixture(t, exporttask.Limits{})
	for _, tt := range []struct{ body, field string }{
		{`{"format":"jsonl","chatIds":["chat-acme-team"],"chatIds":[]}`, "chatIds"},
		{`{"format":"jsonl","userIds":["u-ada"],"UserIds":[]}`, "UserIds"},
		{`{"format":"jsonl","CHATIDS":["chat-acme-team"]}`, "CHATIDS"},
		{`{"format":"jsonl","chatIds":["chat-acme-team"],"chatIdſ":[]}`, "chatIdſ"},
		{`{"format":"jsonl","terms":["merger"],"ter\u006ds":["lunch"]}`, "terms"},
		{`{"format":"jsonl","subject":"` + strings.Repeat("x", 64<<10) + `"}`, ""},
	} {
		resp, b := f.postTask(t, f.tokens["acme"], tt.body)
		wantCode(t, resp, b, 400, "invalid_request")
		if tt.field != "" && !strings.Contains(string(b), `"field":"`+tt.field+`"`) {
			t.Fatalf("%.80s: %s, want field %s", tt.body, b, tt.field)
		}
	}
	// One of each, in any order, still works.
	resp, b := f.postTask(t, f.tokens["acme"], `{"chatIds":["chat-acme-team"],"format":"jsonl"}`)
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	reliability.Record(t, "security", "export task request with a field twice or in another case", reliability.Refused,
		"400 invalid_request naming the field: the request means one thing to the server and to whoever reads it")
}

// RFC 3339 (5.6) lets "T" and "Z" be written in lower case; time.Parse does not.
func TestTaskInstantLowerCase(t *testing.T) {
	f, engine := selectionFixture(t, exporttask.Limits{})
	st, evs := f.runTask(t, engine, `{"since":"2026-11-22t12:00:00z","until":"2026-11-22t13:00:00+00:00","format":"jsonl"}`)
	if got := names(evs); !slices.Equal(got, []string{"m-104/sent"}) || st.Request.Since != "2026-11-22t12:00:00z" {
		t.Fatalf("records %v (noMatch %q), want m-104/sent", got, st.NoMatch)
	}
	reliability.Record(t, "input", "export task since/until with a lower-case t and z", reliability.Kept,
		"read as RFC 3339 allows, the same instant as with T and Z")
}
