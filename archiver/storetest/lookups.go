package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// RunLookups checks, on the store newStore makes (empty, as for Run), that the ledger's
// lookups cost what they answer, not what the store holds: a chain's head is found in a
// number of requests that grows with the logarithm of the chain, reading a bounded number
// of listed keys; a range's status is one listing plus one read per day it reports
// sealed or failed, however much history lies before and after the range. Counted with a
// Counting store, never timed.
func RunLookups(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	t.Run("HeadDoesNotListTheChain", func(t *testing.T) { testHeadLookup(t, newStore) })
	t.Run("StatusIsOneListing", func(t *testing.T) { testStatusLookup(t, newStore) })
	t.Run("AccountingIsOneListing", func(t *testing.T) { testAccountingLookup(t, newStore) })
	runLookups3(t, newStore)
	t.Run("SealRequestsPerOrg", func(t *testing.T) { testSealRequests(t, newStore) })
}

// testAccountingLookup: the latest accounting object of each day of a range (status's
// day-level table) is found by one listing, and only those objects are read.
func testAccountingLookup(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	s := newStore(t)
	first := lookupDay(t, "2026-01-01")
	from, to := lookupDay(t, "2026-01-11"), lookupDay(t, "2026-01-20")
	want := map[archiver.Day]int64{}
	i := 0
	for d := first; d.Before(lookupDay(t, "2026-01-31")); d, i = d.Next(), i+1 {
		if i%4 == 2 {
			continue // a day never sealed
		}
		for n := 1; n <= 1+i%3; n++ {
			a := archiver.Accounting{Version: archiver.AccountingVersion, Date: d.String(), Input: archiver.InputCounts{Read: int64(100*i + n)}}
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			key := fmt.Sprintf("%s%s/%06d-%x.json", archiver.AccountingPrefix, d, n, sum)
			if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sum, archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if !d.Before(from) && !d.After(to) {
				want[d] = a.Input.Read
			}
		}
	}
	c := NewCounting(s)
	got := map[archiver.Day]int64{}
	err := ledger.Ledger{Store: c}.LatestAccountings(t.Context(), from, to, func(d archiver.Day, a *archiver.StoredAccounting) error {
		got[d] = a.Input.Read
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("latest accounting by day = %v, want %v", got, want)
	}
	n := c.Counts()
	t.Logf("accounting of 10 days: %v", n)
	if listings := n["List"] + n["ListAfter"]; listings != 1 || n["Open"] != len(want) {
		t.Errorf("accounting of 10 days: %v; want one listing and %d reads (the latest object of each day)", n, len(want))
	}
	reliability.Record(t, "operations", "status's day-level accounting of a range of days", reliability.Kept,
		"one listing from the range's first day, stopped past its last, and one read per day: its latest accounting object only")
}

const lookupOrg = "0f6c5b1e-lookup"

func putJSON(t *testing.T, s archiver.Store, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(t.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatalf("create %s: %v", key, err)
	}
}

func put(t *testing.T, s archiver.Store, key, body string) {
	t.Helper()
	mustCreate(t, s, key, []byte(body))
}

func chainKey(org string, seq int) string {
	return fmt.Sprintf("orgs/%s/manifests/%012d.json", org, seq)
}

func lookupDay(t *testing.T, s string) archiver.Day {
	t.Helper()
	d, err := archiver.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testHeadLookup(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	for _, tt := range []struct {
		name string
		k    int
		gap  int // a seq missing from the chain (0: none): a damaged chain's head is still its last key
	}{
		{"short", 20, 0},
		{"long", 200, 0},
		{"long, the head one of the reads", 192, 0},
		// The reads meet the gap (192 = 128 + 64): the listing past the last one present
		// meets a window's worth of keys, and Head lists the chain.
		{"long with a gap", 200, 192},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			day := lookupDay(t, "2026-01-01")
			for seq := 1; seq <= tt.k; seq++ {
				if seq == tt.gap {
					continue
				}
				putJSON(t, s, chainKey(lookupOrg, seq), archiver.Manifest{Version: archiver.ManifestVersion, Org: lookupOrg, Date: day.String(), Revision: 1, Seq: int64(seq)})
			}
			// Neighbours whose keys share the chain's beginning must not be taken for it.
			put(t, s, chainKey(lookupOrg+"x", 1), "{}")
			put(t, s, "orgs/"+lookupOrg+"/manifests0", "{}")
			// A window of 16 keys (1,000 by default, one S3 page) shows the law of chains
			// of thousands with chains of a hundred.
			const window = 16
			c := NewCounting(s)
			head, err := ledger.Ledger{Store: c, HeadWindow: window}.Head(t.Context(), lookupOrg)
			if err != nil {
				t.Fatal(err)
			}
			if head == nil || head.Seq != int64(tt.k) || head.Key != chainKey(lookupOrg, tt.k) {
				t.Fatalf("Head = %+v, want seq %d", head, tt.k)
			}
			n := c.Counts()
			t.Logf("head of a chain of %d: %v", tt.k, n)
			// log2(200/16) < 4: reads at 16, 32, … up to 4 doublings and 4 halvings, one
			// listing of fewer than 16 keys, and the head's read.
			if tt.gap == 0 && (n["Keys"] >= window || n["List"]+n["ListAfter"] != 1 || n.Requests() > 2*4+3) {
				t.Errorf("Head of a chain of %d entries: %v; want one listing of fewer than %d keys and at most %d requests", tt.k, n, window, 2*4+3)
			}
			// The next Head in this process (the next day's seal) starts from the head
			// found: one listing past it, which returns what was committed since, and one
			// read, whoever committed it.
			for _, added := range []int{2, 0} {
				for seq := tt.k + 1; seq <= tt.k+added; seq++ {
					putJSON(t, s, chainKey(lookupOrg, seq), archiver.Manifest{Version: archiver.ManifestVersion, Org: lookupOrg, Date: day.String(), Revision: 1, Seq: int64(seq)})
				}
				tt.k += added
				c.Reset()
				head, err := ledger.Ledger{Store: c, HeadWindow: window}.Head(t.Context(), lookupOrg)
				if err != nil {
					t.Fatal(err)
				}
				if head == nil || head.Seq != int64(tt.k) || head.Key != chainKey(lookupOrg, tt.k) {
					t.Fatalf("next Head = %+v, want seq %d", head, tt.k)
				}
				if n := c.Counts(); n.Requests() != 2 || n["Keys"] != added {
					t.Errorf("next Head, %d manifests committed since: %v; want 2 requests listing %d keys", added, n, added)
				}
			}
		})
	}
	s := newStore(t)
	if head, err := (ledger.Ledger{Store: s}).Head(t.Context(), lookupOrg); err != nil || head != nil {
		t.Errorf("Head of an organization with no chain = %v, %v; want nil", head, err)
	}
	reliability.Record(t, "operations", "finding an organization's chain head (every seal, every organization)", reliability.Kept,
		"reads of single manifests at doubling then halving seqs, and one listing of at most a window (one S3 page) of keys: requests grow with the logarithm of the chain, keys listed stay under the window; the next lookup in the process is one listing past the head found and one read")
}

func testStatusLookup(t *testing.T, newStore func(t *testing.T) archiver.Store) {
	type want struct {
		state   ledger.DayState
		records int64
		detail  string // the error of a failed day, or the later failure of a sealed one
	}
	for _, r := range []int{10, 30} {
		t.Run(fmt.Sprint(r, " days"), func(t *testing.T) {
			s := newStore(t)
			first := lookupDay(t, "2026-01-01")
			// History before the range (40 days) and after it (10 days).
			from := first
			for range 40 {
				from = from.Next()
			}
			to := from
			for range r - 1 {
				to = to.Next()
			}
			last := to
			for range 10 {
				last = last.Next()
			}
			wants := map[archiver.Day]want{}
			sealedAt := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			i, reads := 0, 0
			for d := first; !d.After(last); d, i = d.Next(), i+1 {
				prefix := "orgs/" + lookupOrg + "/days/" + d.String() + "/"
				inRange := !d.Before(from) && !d.After(to)
				m := archiver.Manifest{Version: archiver.ManifestVersion, Org: lookupOrg, Date: d.String(), Revision: 1, Seq: int64(i + 1),
					SealedAt: sealedAt.Format(time.RFC3339Nano), Data: archiver.DataObject{Records: int64(i % 3)}}
				switch {
				case i%7 == 3: // pending: nothing stored
					wants[d] = want{state: ledger.StatePending}
				case i%7 == 5: // failed twice, never sealed
					put(t, s, prefix+fmt.Sprintf("failed-%d.json", sealedAt.UnixMilli()), "first\n")
					put(t, s, prefix+fmt.Sprintf("failed-%d.json", sealedAt.UnixMilli()+1), "disk full\n")
					wants[d] = want{state: ledger.StateFailed, detail: "disk full"}
					if inRange {
						reads++
					}
				default:
					put(t, s, prefix+"events-00.jsonl.gz", "data")
					putJSON(t, s, prefix+"r0001.json", m)
					w := want{state: ledger.StateSealed, records: m.Data.Records}
					if m.Data.Records == 0 {
						w.state = ledger.StateEmpty
					}
					if i%7 == 6 { // revision 2, then a rerun that failed after it
						m.Revision, m.Data.Records = 2, m.Data.Records+1
						putJSON(t, s, prefix+"r0002.json", m)
						put(t, s, prefix+fmt.Sprintf("failed-%d.json", sealedAt.Add(time.Hour).UnixMilli()), "would drop records\n")
						w = want{state: ledger.StateSealed, records: m.Data.Records, detail: "would drop records"}
						if inRange {
							reads++
						}
					}
					if i%7 == 1 { // a failure before the seal: not a later one
						put(t, s, prefix+fmt.Sprintf("failed-%d.json", sealedAt.Add(-time.Hour).UnixMilli()), "old\n")
					}
					wants[d] = w
					if inRange {
						reads++
					}
				}
			}
			c := NewCounting(s)
			rows, err := ledger.Ledger{Store: c}.Status(t.Context(), lookupOrg, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != r {
				t.Fatalf("Status gave %d rows, want %d", len(rows), r)
			}
			d := from
			for _, row := range rows {
				w := wants[d]
				var records int64
				if row.Manifest != nil {
					records = row.Manifest.Data.Records
				}
				detail := row.Error
				if row.State != ledger.StateFailed {
					detail = row.FailedLater
				}
				if row.Day != d || row.State != w.state || records != w.records || detail != w.detail {
					t.Errorf("%s: state %s, %d records, detail %q; want %s, %d, %q", row.Day, row.State, records, detail, w.state, w.records, w.detail)
				}
				d = d.Next()
			}
			n := c.Counts()
			t.Logf("status of %d days: %v", r, n)
			if listings := n["List"] + n["ListAfter"]; listings != 1 || n["Open"] != reads {
				t.Errorf("Status of %d days made %d listings and %d reads (%v); want one listing and %d reads (one per day sealed or failed)", r, listings, n["Open"], n, reads)
			}
		})
	}
	reliability.Record(t, "operations", "status of a range of days (status, GET /v1/exports)", reliability.Kept,
		"one listing of the organization's days from the range's first day, stopped past its last, and one read per day it reports sealed or failed: no request per pending day, no listing per day")
}
