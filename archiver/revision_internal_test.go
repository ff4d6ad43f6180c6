package archiver

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// rec is a canonical export line; text varies the content of records that are otherwise
// the same (same time, message and event type).
func rec(ts int64, id, eventType, text string) string {
	return fmt.Sprintf(`{"eventType":%q,"chatId":"c","timestamp":%d,"eventTimestamp":%d,"messageId":%q,`+
		`"sender":{"participantType":"occupant","id":"g","displayName":"Guest"},"contentType":"text",`+
		`"content":{"contentType":"text","text":%q,"markdownText":%q,"attachments":[]}}`+"\n",
		eventType, ts, ts, id, text, text)
}

func TestDiffRevisions(t *testing.T) {
	a, b, c := rec(1, "m1", "sent", "x"), rec(2, "m2", "sent", "x"), rec(3, "m3", "sent", "x")
	aEdited, bOther := rec(1, "m1", "edited", "y"), rec(2, "m2", "sent", "z")
	tests := []struct {
		name     string
		old, new []string
		want     RevisionDiff
		err      string
	}{
		{"same", []string{a, b, c}, []string{a, b, c}, RevisionDiff{Old: 3, New: 3}, ""},
		{"both empty", nil, nil, RevisionDiff{}, ""},
		{"added anywhere", []string{b}, []string{a, aEdited, b, c}, RevisionDiff{Old: 1, New: 4, Added: 3}, ""},
		{"dropped first, middle and last", []string{a, aEdited, b, c}, []string{aEdited}, RevisionDiff{Old: 4, New: 1, Dropped: 3}, ""},
		{"everything dropped", []string{a, b}, nil, RevisionDiff{Old: 2, Dropped: 2}, ""},
		{"same key, other content: one dropped, one added", []string{a, b, c}, []string{a, bOther, c}, RevisionDiff{Old: 3, New: 3, Dropped: 1, Added: 1}, ""},
		{"old out of order", []string{b, a}, []string{a, b}, RevisionDiff{}, "committed revision: record 2 is not after the previous one"},
		{"new repeats a record", []string{a}, []string{a, a}, RevisionDiff{}, "new revision: record 2 is not after the previous one"},
		{"line without newline", []string{strings.TrimSuffix(a, "\n")}, []string{a}, RevisionDiff{}, "has no newline"},
		{"not a record", []string{"{}\n"}, []string{a}, RevisionDiff{}, "committed revision: record 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DiffRevisions(strings.NewReader(strings.Join(tt.old, "")), strings.NewReader(strings.Join(tt.new, "")))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("diff = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// genExport produces an export of n records on the fly, skipping every skip-th record
// (none when skip is 0), so that a day far larger than the memory measured never exists
// in memory as a whole.
type genExport struct {
	n, i, skip int64
	pad        string
	buf        []byte
}

func (g *genExport) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(g.buf) == 0 {
			if g.i >= g.n {
				break
			}
			g.i++
			if g.skip > 0 && g.i%g.skip == 0 {
				continue
			}
			g.buf = append(g.buf[:0], rec(1795338000000+g.i, fmt.Sprintf("m-%09d", g.i), "sent", g.pad)...)
		}
		c := copy(p[n:], g.buf)
		g.buf, n = g.buf[c:], n+c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// sampleHeap samples the live heap while r is read.
type sampleHeap struct {
	r    io.Reader
	n    int
	peak uint64
}

func (s *sampleHeap) Read(p []byte) (int, error) {
	s.n++
	if s.n%4 == 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.peak = max(s.peak, ms.HeapAlloc)
	}
	return s.r.Read(p)
}

// TestDiffRevisionsStreamsLargeDay compares two 100 MiB-class exports in a few MiB of
// heap: the superset check walks both sides once, whatever the day's size.
func TestDiffRevisionsStreamsLargeDay(t *testing.T) {
	n := int64(150_000)
	if testing.Short() {
		n = 50_000
	}
	pad := strings.Repeat("p", 300)
	old := &genExport{n: n, pad: pad}
	newer := &genExport{n: n, pad: pad, skip: 1000} // every 1000th record dropped
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	sh := &sampleHeap{r: newer}
	d, err := DiffRevisions(old, sh)
	if err != nil {
		t.Fatal(err)
	}
	if want := (RevisionDiff{Old: n, New: n - n/1000, Dropped: n / 1000}); d != want {
		t.Fatalf("diff = %+v, want %+v", d, want)
	}
	size := n * int64(len(rec(0, "m-000000000", "sent", pad)))
	growth := int64(sh.peak) - int64(base)
	t.Logf("compared 2 x %d MiB; heap grew by at most %d KiB", size>>20, growth>>10)
	// Two 1 MiB read buffers and a line or two of each side: far below a tenth of a side.
	if limit := int64(8 << 20); growth > limit || growth > size/10 {
		t.Fatalf("heap grew by %d bytes comparing 2 x %d bytes: the check must stream", growth, size)
	}
	reliability.Record(t, "input", "superset check of a large day's revisions", reliability.Kept,
		"the stored and the new export are walked side by side: two days of 40 to 120 MiB compared in under 8 MiB of heap, whatever the size")
}
