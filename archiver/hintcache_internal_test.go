package archiver

import (
	"fmt"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestHeadHintsBounded: a long-running process (serve) looks up the chain heads of
// organizations that come and go, in stores it may reopen; what it remembers of them
// (headHints, storedMembers) stays within maxHints entries, and a seal of a whole day
// forgets the store's organizations that no longer archive.
func TestHeadHintsBounded(t *testing.T) {
	defer func(n int) { maxHints = n }(maxHints)
	maxHints = 100
	ctx := t.Context()
	s := &createOnlyStore{m: map[string][]byte{}}
	if _, err := WriteStoreLayout(ctx, s, FreshStoreSince); err != nil {
		t.Fatal(err)
	}
	org := func(i int) string { return fmt.Sprintf("0f6c5b1e-0000-4000-8000-%012d", i) }
	// What each organization's Head lookup leaves (package ledger's rememberHead).
	for i := range 300 {
		HeadHints.Store(HeadHintKey{s, org(i)}, HeadHint{Seq: 1})
	}
	if n := HeadHints.Len(); n > maxHints {
		t.Fatalf("%d head hints after 300 organizations' lookups; want at most %d", n, maxHints)
	}
	if _, ok := HeadHints.Load(HeadHintKey{s, org(299)}); !ok {
		t.Errorf("the most recent organization's hint was dropped")
	}
	if _, ok := HeadHints.Load(HeadHintKey{s, org(0)}); ok {
		t.Errorf("the least recently used organization's hint was kept")
	}
	// A whole day's seal forgets the store's organizations that do not archive on it; another
	// store's are kept.
	other := &createOnlyStore{m: map[string][]byte{}}
	HeadHints.Store(HeadHintKey{other, org(298)}, HeadHint{Seq: 1})
	storedMembers.Store(membersHint{s, org(298), "k1"}, storedMember{})
	storedMembers.Store(membersHint{s, org(299), "k2"}, storedMember{})
	forgetNotArchiving(s, []model.Organization{{ID: org(299)}})
	_, kept := HeadHints.Load(HeadHintKey{s, org(299)})
	_, dropped := HeadHints.Load(HeadHintKey{s, org(298)})
	_, otherKept := HeadHints.Load(HeadHintKey{other, org(298)})
	_, membersDropped := storedMembers.Load(membersHint{s, org(298), "k1"})
	_, membersKept := storedMembers.Load(membersHint{s, org(299), "k2"})
	if !kept || dropped || !otherKept || membersDropped || !membersKept {
		t.Errorf("after a seal of org %s alone: kept %v, dropped %v, other store's kept %v, members dropped %v, kept %v", org(299), kept, !dropped, otherKept, !membersDropped, membersKept)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "operations", "head hints of a long-running process", reliability.Kept,
		"at most 65,536 remembered chain heads and members objects, least recently used dropped first (100 of 300 organizations in the test), and a whole day's seal forgets the store's organizations that no longer archive; a dropped hint costs the next lookup what a new process pays")
}
