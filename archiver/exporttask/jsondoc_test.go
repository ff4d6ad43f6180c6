package exporttask_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// jsonDoc is the json format's document, as a consumer decodes it.
type jsonDoc struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Task    struct {
		ID        string             `json:"id"`
		CreatedAt time.Time          `json:"createdAt"`
		Request   exporttask.Request `json:"request"`
	} `json:"task"`
	Organization struct{ ID, Name string } `json:"organization"`
	Days         []struct {
		Date           string            `json:"date"`
		Revision       int               `json:"revision"`
		ManifestSHA256 string            `json:"manifestSha256"`
		JSONLSHA256    string            `json:"jsonlSha256"`
		SealedRecords  int64             `json:"sealedRecords"`
		SealedAt       string            `json:"sealedAt"`
		Records        []json.RawMessage `json:"records"`
		Selected       int64             `json:"selected"`
	} `json:"days"`
	Totals struct {
		Days       int    `json:"days"`
		Records    int64  `json:"records"`
		SealedAsOf string `json:"sealedAsOf"`
	} `json:"totals"`
}

// recordTimes are the RFC 3339 times the json format adds to a record, and the epoch
// values they must equal.
type recordTimes struct {
	MessageID              string `json:"messageId"`
	Timestamp              int64  `json:"timestamp"`
	EventTimestamp         int64  `json:"eventTimestamp"`
	ThreadTimestamp        int64  `json:"threadTimestamp"`
	TimestampRFC3339       string `json:"timestampRfc3339"`
	EventTimestampRFC3339  string `json:"eventTimestampRfc3339"`
	ThreadTimestampRFC3339 string `json:"threadTimestampRfc3339"`
}

// check reports a record whose RFC 3339 times are not its epoch values, in UTC.
func (r recordTimes) check() error {
	for _, c := range []struct {
		name string
		ms   int64
		s    string
	}{{"timestamp", r.Timestamp, r.TimestampRFC3339}, {"eventTimestamp", r.EventTimestamp, r.EventTimestampRFC3339},
		{"threadTimestamp", r.ThreadTimestamp, r.ThreadTimestampRFC3339}} {
		if c.ms == 0 && c.s == "" && c.name == "threadTimestamp" {
			continue
		}
		t, err := time.Parse(time.RFC3339, c.s)
		if err != nil || t.UnixMilli() != c.ms || t.Location() != time.UTC {
			return fmt.Errorf("record %s: %sRfc3339 %q is not %d in RFC 3339 UTC (%v)", r.MessageID, c.name, c.s, c.ms, err)
		}
	}
	return nil
}

// TestJSONDocument: a json task's result is one JSON document holding the task, the
// organization, each source day with its manifest's hashes, and exactly the sealed
// records in export order, each with its times in RFC 3339.
func TestJSONDocument(t *testing.T) {
	f := newFixture(t)
	req := exporttask.Request{From: days[0], To: days[1], Format: "json"}
	st, b := run(t, f.engine(t, nil), req)
	if st.State != exporttask.StateCompleted {
		t.Fatalf("state %s: %s", st.State, st.Error)
	}
	if st.Result.Filename != st.TaskID+".json.gz" || st.Result.ContentType != "application/gzip" {
		t.Errorf("result %+v", st.Result)
	}
	raw := gunzip(t, bytes.NewReader(b))
	if !json.Valid(raw) {
		t.Fatal("the result is not valid JSON")
	}
	var doc jsonDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Error("more than one document")
	}
	req.Delivery = exporttask.DeliveryURL // the default the engine filled in
	if doc.Format != "chatvault-export" || doc.Version != 1 || doc.Task.ID != st.TaskID || !doc.Task.CreatedAt.Equal(st.CreatedAt) ||
		fmt.Sprint(doc.Task.Request) != fmt.Sprint(req) {
		t.Errorf("document head: format %q version %d task %+v; want task %s created %v request %+v", doc.Format, doc.Version, doc.Task, st.TaskID, st.CreatedAt, req)
	}
	if doc.Organization.ID != acme || doc.Organization.Name == "" {
		t.Errorf("organization %+v", doc.Organization)
	}
	if len(doc.Days) != len(days) || doc.Totals.Days != len(days) {
		t.Fatalf("%d days, totals %+v", len(doc.Days), doc.Totals)
	}
	var got []byte
	var records int64
	for i, d := range doc.Days {
		day, _ := archiver.ParseDay(days[i])
		m, err := ledger.Ledger{Store: f.store}.Latest(context.Background(), acme, day)
		if err != nil {
			t.Fatal(err)
		}
		sd := st.SourceDays[i]
		if d.Date != days[i] || d.Revision != m.Revision || d.ManifestSHA256 != hex.EncodeToString(m.SHA256[:]) || d.ManifestSHA256 != sd.ManifestSHA256 ||
			d.JSONLSHA256 != m.Data.JSONLSHA256 || d.SealedRecords != m.Data.Records || d.SealedAt != m.SealedAt ||
			d.Selected != int64(len(d.Records)) || d.Selected != sd.Selected {
			t.Errorf("day %d: %+v does not match manifest %s or source day %+v", i, d, m.Key, sd)
		}
		if _, err := time.Parse(time.RFC3339, d.SealedAt); err != nil {
			t.Errorf("day %s: sealedAt %q: %v", d.Date, d.SealedAt, err)
		}
		for _, r := range d.Records {
			e, err := model.Decode(r)
			if err != nil {
				t.Fatalf("record %s: %v", r, err)
			}
			got = append(model.AppendJSON(got, &e), '\n')
			var times recordTimes
			if err := json.Unmarshal(r, &times); err != nil {
				t.Fatal(err)
			}
			if err := times.check(); err != nil {
				t.Error(err)
			}
		}
		records += int64(len(d.Records))
	}
	if want := f.sealedJSONL(t, acme); !bytes.Equal(got, want) {
		t.Errorf("the document's records differ from the sealed days':\n%s\nwant\n%s", got, want)
	}
	if records == 0 || doc.Totals.Records != records || st.Result.Events != records {
		t.Errorf("%d records, totals %+v, status %d", records, doc.Totals, st.Result.Events)
	}
	if doc.Totals.SealedAsOf != doc.Days[len(doc.Days)-1].SealedAt {
		t.Errorf("sealedAsOf %q, want the latest sealedAt %q", doc.Totals.SealedAsOf, doc.Days[len(doc.Days)-1].SealedAt)
	}
	reliability.Record(t, "input", "json export task over two sealed days", reliability.Kept,
		"one JSON document: task, organization, days with manifest hashes, the sealed records in order with RFC 3339 times")
}

// syntheticRange feeds the json encoder n days of one generated day's message events,
// each under its own manifest, to a file, and returns the file, the events fed, and the
// heap's growth measured in the middle of the range.
func syntheticRange(t *testing.T, n int, files []string) (string, int64, uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "result.json.gz")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	enc, err := exporttask.NewJSON(out, exporttask.FormatOptions{Org: exporttest.Org, OrgName: exporttest.OrgName, TaskID: "3f6c1a2e-7d4b-4c8e-9a1f-0b2c3d4e5f60"})
	if err != nil {
		t.Fatal(err)
	}
	var before, mid runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var fed int64
	start, _ := archiver.ParseDay("2026-11-01")
	for i, d := 0, start; i < n; i, d = i+1, d.Next() {
		stream := exporttest.Stream(t, files)
		next := func() (model.Event, error) {
			e, err := stream()
			if err == nil {
				fed++
			}
			if i == n/2 && fed%1000 == 0 && mid.NumGC == 0 {
				runtime.GC()
				runtime.ReadMemStats(&mid)
			}
			return e, err
		}
		if err := enc.WriteDay(context.Background(), exporttest.Manifest(d.String()), next); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if mid.NumGC == 0 {
		t.Fatal("the heap was not measured")
	}
	var growth uint64
	if mid.HeapAlloc > before.HeapAlloc {
		growth = mid.HeapAlloc - before.HeapAlloc
	}
	return path, fed, growth
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestJSONLargeRangeStreams: a json result of a range of many generated events is
// decoded by encoding/json's Decoder, token by token, a record at a time; the counts
// are the events fed, and the heap did not grow with the document while it was written.
func TestJSONLargeRangeStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a large range")
	}
	days := 6
	if raceEnabled {
		days = 2
	}
	files := exporttest.Synth(t, "2026-11-22", 25_000)
	path, fed, growth := syntheticRange(t, days, files)

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: zr}
	dec := json.NewDecoder(cr)
	want := func(d json.Delim) {
		t.Helper()
		tok, err := dec.Token()
		if err != nil || tok != d {
			t.Fatalf("token %v (%v), want %v", tok, err, d)
		}
	}
	key := func() string {
		t.Helper()
		tok, err := dec.Token()
		s, ok := tok.(string)
		if err != nil || !ok {
			t.Fatalf("token %v (%v), want an object key", tok, err)
		}
		return s
	}
	var dayCount int
	var records, totalDays, totalRecords int64
	want('{')
	for dec.More() {
		switch k := key(); k {
		case "days":
			want('[')
			for dec.More() {
				dayCount++
				want('{')
				var inDay, selected int64
				for dec.More() {
					switch k := key(); k {
					case "records":
						want('[')
						for dec.More() {
							var r recordTimes
							if err := dec.Decode(&r); err != nil {
								t.Fatalf("day %d record %d: %v", dayCount, inDay, err)
							}
							if err := r.check(); err != nil {
								t.Fatal(err)
							}
							inDay++
						}
						want(']')
					case "selected":
						if err := dec.Decode(&selected); err != nil {
							t.Fatal(err)
						}
					default:
						var skip json.RawMessage
						if err := dec.Decode(&skip); err != nil {
							t.Fatalf("day key %s: %v", k, err)
						}
					}
				}
				want('}')
				if selected != inDay {
					t.Errorf("day %d: selected %d, %d records", dayCount, selected, inDay)
				}
				records += inDay
			}
			want(']')
		case "totals":
			var tot struct{ Days, Records int64 }
			if err := dec.Decode(&tot); err != nil {
				t.Fatal(err)
			}
			totalDays, totalRecords = tot.Days, tot.Records
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatalf("key %s: %v", k, err)
			}
		}
	}
	want('}')
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("after the document: %v, want io.EOF", err)
	}
	if dayCount != days || totalDays != int64(days) || records != fed || totalRecords != fed || fed < 40_000 {
		t.Fatalf("%d days and %d records decoded, totals %d and %d; %d days and %d events fed", dayCount, records, totalDays, totalRecords, days, fed)
	}
	// Half the document had been written when the heap was measured; had it been held,
	// the heap would have grown by that much at least, twice the bound.
	const bound = 6 << 20
	if half := cr.n / 2; growth > bound || half < 2*bound {
		t.Fatalf("heap grew by %d bytes half-way through a %d-byte document (bound %d; the document must be at least %d for the check to mean something)",
			growth, cr.n, bound, 4*bound)
	}
	t.Logf("%d records, %d bytes of JSON, heap growth half-way %d bytes", records, cr.n, growth)
	reliability.Record(t, "input", "json export of a range of days of generated records (over 40,000)", reliability.Kept,
		"decoded token by token by encoding/json with the counts fed; heap growth under 6 MiB half-way through writing")
}

// BenchmarkJSON: the json format's cost per record, and its memory, which must not grow
// with the number of records (B/op is per record).
func BenchmarkJSON(b *testing.B) {
	files := exporttest.Synth(b, "2026-11-22", 20_000)
	var events []model.Event
	for next := exporttest.Stream(b, files); ; {
		e, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, e)
	}
	enc, err := exporttask.NewJSON(io.Discard, exporttask.FormatOptions{Org: exporttest.Org})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	next := func() (model.Event, error) {
		if i == b.N {
			return model.Event{}, io.EOF
		}
		i++
		return events[i%len(events)], nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := enc.WriteDay(context.Background(), exporttest.Manifest("2026-11-22"), next); err != nil {
		b.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
}

// TestJSONControlCharacters: text holding control characters, DEL, C1 controls, line and
// paragraph separators, quotes and backslashes stays valid JSON and decodes to the text
// the record holds.
func TestJSONControlCharacters(t *testing.T) {
	line := `{"eventType":"sent","chatId":"c\u0007","timestamp":1795420800000,"eventTimestamp":1795420800000,"messageId":"m","sender":{"participantType":"occupant","id":"o","displayName":"G\u001b[31m"},"contentType":"text","content":{"contentType":"text","text":"a\u0000b\u001bc\r\n\u007f\u0085\u2028\u2029\"\\\ufdd0","markdownText":"x","attachments":[{"name":"n\u0001"}]}}`
	e, err := model.Decode([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc, err := exporttask.NewJSON(&out, exporttask.FormatOptions{Org: exporttest.Org, OrgName: "A\u0000\"corp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.WriteDay(context.Background(), exporttest.Manifest("2026-11-23"), exporttest.Slice([]model.Event{e})); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	raw := gunzip(t, &out)
	var doc jsonDoc
	if !json.Valid(raw) || json.Unmarshal(raw, &doc) != nil || len(doc.Days) != 1 || len(doc.Days[0].Records) != 1 {
		t.Fatalf("not a valid document:\n%s", raw)
	}
	var rec struct {
		ChatID  string `json:"chatId"`
		Content struct{ Text string }
	}
	if err := json.Unmarshal(doc.Days[0].Records[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ChatID != e.ChatID || rec.Content.Text != e.Content.Text || doc.Organization.Name != "A\u0000\"corp" {
		t.Errorf("decoded chat %q text %q organization %q; want %q, %q", rec.ChatID, rec.Content.Text, doc.Organization.Name, e.ChatID, e.Content.Text)
	}
	reliability.Record(t, "input", "json export: control characters, separators, quotes in text and names", reliability.Kept,
		"valid JSON; decodes to the text the records hold")
}
