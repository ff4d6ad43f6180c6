package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// NewFolder returns a folder store in a fresh temporary folder, closed at the test's end.
func NewFolder(t testing.TB) *fsstore.Store {
	t.Helper()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Holds places and lifts legal holds through the ledger of a LockingStore, each a minute
// after the last, and checks which objects the store holds.
type Holds struct {
	T     testing.TB
	Store *LockingStore
	// At is the time of the last hold placed or lifted (the next is a minute later).
	At time.Time
}

// NewHolds returns Holds on s whose first hold is placed a minute after at.
func NewHolds(t testing.TB, s *LockingStore, at time.Time) *Holds {
	return &Holds{T: t, Store: s, At: at}
}

// Hold places (on) or lifts org's hold of matter over the days from to to, by "test", and
// fails the test on an error.
func (h *Holds) Hold(org, matter string, from, to archiver.Day, on bool) ledger.HoldResult {
	h.T.Helper()
	h.At = h.At.Add(time.Minute)
	r, err := ledger.Ledger{Store: h.Store}.Hold(h.T.Context(), ledger.HoldRequest{Org: org, Matter: matter,
		From: from, To: to, On: on, At: h.At, By: "test"})
	if err != nil {
		h.T.Fatal(err)
	}
	return r
}

// Want fails the test unless the store holds exactly the union of keys (none when keys
// are none) after step.
func (h *Holds) Want(step string, keys ...[]string) {
	h.T.Helper()
	all := slices.Concat(keys...)
	slices.Sort(all)
	all = slices.Compact(all)
	if got := h.Store.HeldKeys(); !slices.Equal(got, all) {
		h.T.Errorf("%s: held\n%q\nwant\n%q", step, got, all)
	}
}
