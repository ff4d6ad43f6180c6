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
		if err := w.one(&batchLine{number: int64(i + 1), n: len(raw)}, raw, nil); err != nil {
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
	if err := m.each(func(r *Record) error {
		got[string(r.Line)]++
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
	reliability.Record(t, "operations", "a line already canonical, in the seal", reliability.Kept,
		"TestCanonicalLinesAreCopied: a line that is already the canonical encoding of its record is copied as read, not decoded in full and encoded again; the sorter receives the same bytes either way")
}

// TestDecodeWorkerAllocatesNothingPerLine counts the allocations of the decoding worker for
// a line that is routed and sorted, once it has seen one: none, for a typical text line,
// one with attachments and a membership change (the decoder used to allocate each line's
// attachment and member slices).
func TestDecodeWorkerAllocatesNothingPerLine(t *testing.T) {
	lines := []string{
		`{"eventType":"sent","chatId":"c1","timestamp":1763769601456,"eventTimestamp":1763769601501,"messageId":"5d2e8f10-3c4b-4a6d-8e9f-0a1b2c3d4e5f","sender":{"participantType":"email","id":"u1","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Can we move the review?","markdownText":"Can we move the **review**?","attachments":[]}}`,
		`{"eventType":"edited","chatId":"c1","threadTimestamp":1763769500000,"timestamp":1763769601456,"eventTimestamp":1763769701501,"messageId":"5d2e8f10-3c4b-4a6d-8e9f-0a1b2c3d4e5f","sender":{"participantType":"bot","id":"b1","displayName":"Release Bot","roamId":"roam-bot-17","integrationId":"int-4411","botCode":"release"},"contentType":"text","content":{"contentType":"text","text":"Release notes","markdownText":"Release **notes**\nbelow","attachments":[{"type":"file","name":"notes.pdf","size":482133},{"type":"link","url":"https://ci.example/1","meta":{"stages":["build","test"]}}]}}`,
		`{"eventType":"sent","chatId":"c1","timestamp":1,"eventTimestamp":2,"messageId":"m2","sender":{"participantType":"email","id":"u1","displayName":"Ada","email":"ada@acme.example"},"contentType":"membersChanged","content":{"contentType":"membersChanged","added":[{"participantType":"email","id":"u2","displayName":"Grace","email":"grace@acme.example"}],"removed":[{"participantType":"occupant","id":"g1","displayName":"Guest"}]}}`,
	}
	dir := &model.Directory{Organizations: []model.Organization{{ID: "o0", Archival: true}, {ID: "o1", Archival: true}},
		Users: []model.User{{ID: "u1", OrgID: "o0"}, {ID: "m1", OrgID: "o1"}},
		Bots:  []model.Bot{{ID: "b1", OrgID: "o1"}},
		Chats: []model.Chat{{ID: "c1", Members: []string{"u1", "m1"}}}}
	rt, err := newRouter(dir, DayOf(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	// A budget large enough that the sorter never spills here: spilling a run allocates
	// its writer, once per run, not per line.
	so, err := newSorter(64<<20, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer so.release()
	w := decodeWorker{sorter: so, counts: newDayCounts(), rt: rt, excluded: map[string]bool{}, files: []string{"f"}, own: true}
	for _, l := range lines {
		raw := []byte(l)
		bl := &batchLine{number: 1, n: len(raw)}
		if err := w.one(bl, raw, nil); err != nil { // the first line sizes the buffers
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if err := w.one(bl, raw, nil); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("the decoding worker allocates %.1f times a line for %s", allocs, l)
		}
	}
	reliability.Record(t, "operations", "decoding, routing and sorting a line", reliability.Kept,
		"TestDecodeWorkerAllocatesNothingPerLine: the decoding worker decodes, routes and sorts a canonical line (text, attachments, membership change) without allocating")
}
