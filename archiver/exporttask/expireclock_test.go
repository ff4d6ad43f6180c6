package exporttask_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/internal/reliability"
)

// skewedStore is a folder store that tells the store's clock as the S3 store does (its
// answers' Date headers): skew is the store's time minus this host's.
type skewedStore struct {
	*fsstore.Store
	skew time.Duration
}

func (s *skewedStore) ClockSkew() (time.Duration, bool) { return s.skew, true }

// TestExpireOnAHostWhoseClockRunsAhead: serve's clock stepped 61 days ahead (a bad NTP
// source, an RTC wrong at boot) on an S3 store, whose answers show its clock where it
// was. The janitor deleted every result of the last 60 days (exports.retention) as
// expired, and their status read expired, though none was. It now refuses to delete
// while this host's clock runs ahead of the store's by more than ExpireClockSkew, naming
// the skew, and the results stay; once 61 days have passed for the store too, they go.
func TestExpireOnAHostWhoseClockRunsAhead(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	st := &skewedStore{Store: f.store}
	e := f.engine(t, st)
	done, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	result := archiver.TasksPrefix + acme + "/" + done.TaskID + "/result-" + done.Result.SHA256 + ".jsonl.gz"

	ahead := 61 * 24 * time.Hour
	f.clock.Add(ahead)
	st.skew = -ahead // the store's clock is where the host's was
	n, err := e.Expire(ctx)
	if n != 0 || !errors.Is(err, exporttask.ErrClockAhead) || !strings.Contains(err.Error(), "1464h0m0s") {
		t.Fatalf("Expire on a host 61 days ahead of the store: %d, %v; want 0 and ErrClockAhead naming the skew", n, err)
	}
	if !exists(t, f.store, result) {
		t.Fatal("the result was deleted by a host whose clock runs 61 days ahead")
	}
	st.skew = -exporttask.ExpireClockSkew + time.Second // within the skew: 61 days have passed for the store too
	if n, err := e.Expire(ctx); n != 1 || err != nil {
		t.Fatalf("Expire 61 days on, the clocks agreeing: %d, %v; want the result", n, err)
	}
	if exists(t, f.store, result) {
		t.Fatal("the result is kept past its retention")
	}
	reliability.Record(t, "fault", "serve's clock steps 61 days ahead on an S3 store (its Date headers show the store's clock): the janitor's export task expiry",
		reliability.Refused,
		"no result is deleted while this host runs more than 5 minutes ahead of the store's clock: Expire fails naming the skew, the results stay and download; before, every result of the last exports.retention (60 days) was deleted as expired")
}
