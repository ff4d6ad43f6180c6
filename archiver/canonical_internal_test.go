package archiver

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestCanonicalLinesAreCopied feeds the decoding worker the model's golden records, as
// the platform wrote them (testdata/decode/*.jsonl: whitespace, field orders, escapes) and
// in their canonical form (*.golden), and counts the lines it encodes again: only those
// that were not canonical as read. Every record the sorter receives is the canonical
// encoding, byte for byte, whether it was copied or encoded.
func TestCanonicalLinesAreCopied(t *testing.T) {
	var lines [][]byte
	for _, pattern := range []string{"*.jsonl", "*.golden"} {
		files, err := filepath.Glob(filepath.Join("..", "model", "testdata", "decode", pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("no golden records (%s): %v", pattern, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range bytes.Split(data, []byte("\n")) {
				if len(l) > 0 {
					lines = append(lines, l)
				}
			}
		}
	}
	// One organization whose user is a member of every chat of the records, so that
	// every record is routed and reaches the sorter.
	dir := &model.Directory{Organizations: []model.Organization{{ID: "o0", Archival: true}},
		Users: []model.User{{ID: "member", OrgID: "o0"}}}
	var want [][]byte // the canonical encoding of each line
	var notCanonical int64
	for _, l := range lines {
		e, err := model.Decode(l)
		if err != nil {
			t.Fatalf("golden record %s: %v", l, err)
		}
		dir.Chats = append(dir.Chats, model.Chat{ID: e.ChatID, Members: []string{"member"}})
		enc := model.AppendJSON(nil, &e)
		if !bytes.Equal(enc, l) {
			notCanonical++
		}
		want = append(want, enc)
	}
	rt, err := newRouter(dir, DayOf(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	so, err := newSorter(1<<20, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer so.release()
	w := decodeWorker{sorter: so, counts: newDayCounts(), rt: rt, excluded: map[string]bool{}, files: []string{"f"}, own: true}
	for i, l := range lines {
		// The worker gets the line in a buffer it may alias, as a batch's arena.
		raw := bytes.Clone(l)
		if err := w.one(&batchLine{number: int64(i + 1), n: len(raw)}, raw); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d records, %d not canonical as read: %d encoded again", len(lines), notCanonical, w.reencoded)
	if w.reencoded != notCanonical {
		t.Errorf("%d of %d records encoded again, want %d (those not canonical as read)", w.reencoded, len(lines), notCanonical)
	}
	// Every record reached the sorter as its canonical encoding.
	so.sort()
	m, closeRuns, err := mergeSorters([]*sorter{so}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeRuns()
	got := map[string]int{}
	if err := m.each(func(r *record) error {
		got[string(r.line)]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, enc := range want {
		if got[string(enc)] == 0 {
			t.Errorf("the sorter did not receive the canonical record %s", enc)
			continue
		}
		got[string(enc)]--
	}
	for l, n := range got {
		if n > 0 {
			t.Errorf("the sorter received %d records that are no canonical encoding: %s", n, l)
		}
	}
	reliability.Record(t, "operations", "lines already canonical", reliability.Kept,
		"TestCanonicalLinesAreCopied: a line that is already the canonical encoding of its record is copied as read, not decoded in full and encoded again; the sorter receives the same bytes either way")
}
