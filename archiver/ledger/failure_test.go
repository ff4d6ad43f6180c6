package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// failingRecorder fails the record of the organizations in fail with their error.
type failingRecorder struct {
	fail  map[string]error
	tried []string
}

func (r *failingRecorder) RecordFailure(_ context.Context, org string, _ archiver.Day, _ time.Time, _ error) error {
	r.tried = append(r.tried, org)
	return r.fail[org]
}

// TestRecordFailuresStopsWhenTheStoreIsDown: a seal that failed as a whole records the
// failure of each organization it would have committed; when the store is down, each
// record waited out its retries in turn (on S3 25s to two minutes each, for thousands of
// organizations). The first record the store did not take for the store's sake ends the
// loop; a record refused for its own sake does not.
func TestRecordFailuresStopsWhenTheStoreIsDown(t *testing.T) {
	orgs := []string{"a", "b", "c", "d", "e"}
	down := fmt.Errorf("put: connection refused: %w", archiver.ErrStoreUnreachable)
	for _, tc := range []struct {
		name        string
		fail        map[string]error
		tried       int
		skipped     int
		failedCalls int
	}{
		{"every record written", nil, 5, 0, 0},
		{"the store down at the third", map[string]error{"c": down, "d": down, "e": down}, 3, 2, 1},
		{"the store throttling past its attempts", map[string]error{"a": fmt.Errorf("put: %w", archiver.ErrStoreBusy)}, 1, 4, 1},
		{"one record refused for its own sake", map[string]error{"b": errors.New("invalid key")}, 5, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &failingRecorder{fail: tc.fail}
			calls := 0
			skipped := ledger.RecordFailures(t.Context(), r, orgs, archiver.Day{}, time.Time{}, errors.New("seal failed"), func(string, error) { calls++ })
			if len(r.tried) != tc.tried || skipped != tc.skipped || calls != tc.failedCalls {
				t.Fatalf("tried %v, skipped %d, reported %d; want %d tried, %d skipped, %d reported", r.tried, skipped, calls, tc.tried, tc.skipped, tc.failedCalls)
			}
		})
	}
}
