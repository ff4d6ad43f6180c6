package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// Chain writes one organization's manifests by hand, in layout 2 (Old) or layout 3 (Day),
// as a consistent chain (seq, previous, previousKey; late copies for late commits), for
// tests of the readers on layout-3 and mixed stores without a seal. Its manifests are
// unsigned and carry no counts; a day with records gets a stand-in export object (not a
// gzip: readers of keys and manifests do not open it).
type Chain struct {
	T     testing.TB
	Store archiver.Store
	Org   string

	seq      int64
	prevSum  [sha256.Size]byte
	prevKey  string
	tip      string         // the last manifest key under d/
	revs     map[string]int // latest revision by day
	Keys     []string       // every key written, in order
	Manifest []*archiver.Manifest
}

// NewChain returns a Chain of org in s.
func NewChain(t testing.TB, s archiver.Store, org string) *Chain {
	return &Chain{T: t, Store: s, Org: org, revs: map[string]int{}}
}

// Marker writes the store's layout marker (layout 3 since `since`).
func (c *Chain) Marker(since archiver.Day) {
	c.T.Helper()
	if _, err := archiver.WriteStoreLayout(c.T.Context(), c.Store, since); err != nil {
		c.T.Fatal(err)
	}
}

// Seq is the chain head's seq (0: none).
func (c *Chain) Seq() int64 { return c.seq }

func (c *Chain) put(key string, b []byte) {
	c.T.Helper()
	if err := c.Store.Create(c.T.Context(), key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		c.T.Fatalf("create %s: %v", key, err)
	}
	c.Keys = append(c.Keys, key)
}

func (c *Chain) manifest(version int, day archiver.Day, records int64) *archiver.Manifest {
	rev := c.revs[day.String()] + 1
	c.revs[day.String()] = rev
	m := &archiver.Manifest{Version: version, Org: c.Org, OrgName: "Test", Date: day.String(), Revision: rev, Seq: c.seq + 1,
		Window:   archiver.Window{Start: day.Start().UnixMilli(), End: day.End().UnixMilli()},
		Counts:   archiver.OrgCounts{Exported: records, ByEventType: map[string]int64{}, ByContentType: map[string]int64{}, Excluded: map[string]int64{}},
		SealedAt: day.End().Add(10 * time.Minute).UTC().Format(time.RFC3339Nano), Generator: "chatvault test"}
	if c.seq > 0 {
		m.Previous = hex.EncodeToString(c.prevSum[:])
	}
	return m
}

func encode(t testing.TB, m *archiver.Manifest) []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// Old commits the next revision of day in layout 2: its chain entry and its day index,
// and an export when it has records. It returns the manifest.
func (c *Chain) Old(day archiver.Day, records int64) *archiver.Manifest {
	c.T.Helper()
	m := c.manifest(archiver.ManifestVersion, day, records)
	sum := sha256.Sum256([]byte(fmt.Sprint(c.Org, day, m.Revision)))
	m.Data = archiver.DataObject{Key: archiver.DayPrefix(c.Org, day) + "events-" + hex.EncodeToString(sum[:]) + ".jsonl.gz",
		Size: 4, SHA256: hex.EncodeToString(sum[:]), JSONLSHA256: hex.EncodeToString(sum[:]), Records: records}
	c.put(m.Data.Key, []byte("data"))
	b := encode(c.T, m)
	key := archiver.ChainKey(c.Org, m.Seq)
	c.put(key, b)
	c.put(archiver.RevisionKey(c.Org, day, m.Revision), b)
	c.seq, c.prevSum, c.prevKey = m.Seq, sha256.Sum256(b), key
	c.Manifest = append(c.Manifest, m)
	return m
}

// Day commits the next revision of day in layout 3: its export when it has records, then,
// for a late commit (its key sorts before the tip), the late copy, then the manifest at its
// day key. It returns the manifest.
func (c *Chain) Day(day archiver.Day, records int64) *archiver.Manifest {
	c.T.Helper()
	m := c.manifest(archiver.ManifestVersion3, day, records)
	m.PreviousKey = c.prevKey
	m.Data = archiver.DataObject{JSONLSHA256: archiver.EmptySHA256}
	if records > 0 {
		sum := sha256.Sum256([]byte(fmt.Sprint(c.Org, day, m.Revision)))
		m.Data = archiver.DataObject{Key: archiver.DataKey3(c.Org, day, sum), Size: 4, SHA256: hex.EncodeToString(sum[:]),
			JSONLSHA256: hex.EncodeToString(sum[:]), Records: records}
		c.put(m.Data.Key, []byte("data"))
	}
	key := archiver.DayKey3(c.Org, day, m.Revision)
	m.Late = c.tip != "" && key < c.tip
	b := encode(c.T, m)
	if m.Late {
		c.put(archiver.LateKey(c.Org, m.Seq), b)
	} else {
		c.tip = key
	}
	c.put(key, b)
	c.seq, c.prevSum, c.prevKey = m.Seq, sha256.Sum256(b), key
	c.Manifest = append(c.Manifest, m)
	return m
}

// Failed records a failed attempt at day at ms, in layout 3 (DayPrefix3) or 2.
func (c *Chain) Failed(layout int, day archiver.Day, ms int64, msg string) string {
	c.T.Helper()
	p := archiver.DayPrefix(c.Org, day)
	if layout == archiver.Layout3 {
		p = archiver.DayPrefix3(c.Org, day)
	}
	key := fmt.Sprintf("%sfailed-%d.json", p, ms)
	c.put(key, []byte(msg+"\n"))
	return key
}
