package httpapi_test

import (
	"slices"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
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
