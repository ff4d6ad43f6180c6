package exporttask

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/model"
)

// JSONFormatVersion is the json format's "version": it changes only when a field's
// meaning does (new fields may be added without).
const JSONFormatVersion = 1

// TaskInfo is what a format that describes its task is told about it (see Tasker).
type TaskInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Request   Request   `json:"request"`
}

// Tasker is an Encoder that writes its task into the result (the json format): the engine
// calls Task once, before the first WriteDay.
type Tasker interface {
	Task(TaskInfo)
}

// JSON is the json format: one JSON document, gzipped, that any JSON parser reads (as
// Stream's v1 export and Rocket.Chat's json export are one document):
//
//	{"format":"chatvault-export","version":1,
//	 "task":{"id":…,"createdAt":…,"request":{…}},
//	 "organization":{"id":…,"name":…},
//	 "days":[{"date":…,"revision":…,"manifestSha256":…,"jsonlSha256":…,"sealedRecords":…,
//	          "sealedAt":…,"records":[record,…],"selected":…[,"attachmentIndex":…]},…],
//	 "totals":{"days":…,"records":…,"sealedAsOf":…}}
//
// Each record is the canonical record followed by its times in RFC 3339 UTC
// (timestampRfc3339, eventTimestampRfc3339, and threadTimestampRfc3339 for a reply); the
// days come in date order, the records of each in export order. The document is written
// as the days are read, a record at a time: nothing but the current record is held, so
// memory does not grow with the range. Nothing in it depends on when it is written.
// With the request's AttachmentIndex, each day adds its attachment index's entries for the
// day's selected records (dayAttachments): one day's index is held at a time.
type JSON struct {
	zw  *gzip.Writer
	bw  *bufio.Writer
	opt FormatOptions

	task    *TaskInfo
	summary Summary
	begun   bool
	days    int
	records int64
	asOf    time.Time
	buf     []byte
	err     error
}

// NewJSON is the json format's NewEncoder.
func NewJSON(w io.Writer, opt FormatOptions) (Encoder, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	zw.ModTime = time.Time{} // a fixed header: the same task gives the same bytes
	return &JSON{zw: zw, bw: bufio.NewWriterSize(zw, 64<<10), opt: opt}, nil
}

// ContentType is the stored result's type: a gzip file whose content is one JSON document.
func (j *JSON) ContentType() string { return "application/gzip" }

// Extension is the result's file extension.
func (j *JSON) Extension() string { return ".json.gz" }

// Task implements Tasker.
func (j *JSON) Task(t TaskInfo) { j.task = &t }

// Summarize implements Summarizer: the totals say when nothing matched and carry the
// search term report, so the document read on its own is never silently empty.
func (j *JSON) Summarize(s Summary) error {
	j.summary = s
	return nil
}

// RFC3339Millis is how the formats write an epoch-ms time for people: RFC 3339 in UTC with
// milliseconds, the precision of the epoch values beside it.
const RFC3339Millis = "2006-01-02T15:04:05.000Z07:00"

// LastRFC3339Millis is the latest time RFC 3339 writes (a four-digit year), in epoch ms:
// 9999-12-31T23:59:59.999Z.
const LastRFC3339Millis = 253402300799999

// FormatMillis writes epoch ms as RFC3339Millis, clamped to LastRFC3339Millis: a record's
// time past the year 9999 (a platform clock bug, microseconds taken for milliseconds) is
// sealed as it is, but "292278994-08-17T…" is no RFC 3339 time, and a consumer's parser
// (or HTML's datetime attribute) would refuse it. The epoch value beside it keeps the
// record's. Records are never negative (the decoder refuses them).
func FormatMillis(ms int64) string {
	return time.UnixMilli(min(ms, LastRFC3339Millis)).UTC().Format(RFC3339Millis)
}

func (j *JSON) write(b []byte) {
	if j.err == nil {
		_, j.err = j.bw.Write(b)
	}
}

func (j *JSON) writeString(s string) {
	if j.err == nil {
		_, j.err = j.bw.WriteString(s)
	}
}

// value writes v as JSON (encoding/json: a string is escaped, never written raw).
func (j *JSON) value(v any) {
	b, err := json.Marshal(v)
	if err != nil && j.err == nil {
		j.err = err
	}
	j.write(b)
}

func (j *JSON) begin() {
	if j.begun {
		return
	}
	j.begun = true
	task := j.task
	if task == nil {
		task = &TaskInfo{ID: j.opt.TaskID}
	}
	j.writeString(`{"format":"chatvault-export","version":` + strconv.Itoa(JSONFormatVersion) + `,"task":`)
	j.value(task)
	j.writeString(",\n\"organization\":")
	j.value(struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}{j.opt.Org, j.opt.OrgName})
	j.writeString(",\n\"days\":[")
}

// WriteDay implements Encoder.
func (j *JSON) WriteDay(ctx context.Context, m *archiver.StoredManifest, next func() (model.Event, error)) error {
	j.begin()
	if j.days > 0 {
		j.writeString(",")
	}
	j.days++
	if t := m.SealedTime(); t.After(j.asOf) {
		j.asOf = t
	}
	j.writeString("\n{\"date\":")
	j.value(m.Date)
	j.writeString(`,"revision":` + strconv.Itoa(m.Revision) + `,"manifestSha256":"` + hex.EncodeToString(m.SHA256[:]) + `","jsonlSha256":`)
	j.value(m.Data.JSONLSHA256)
	j.writeString(`,"sealedRecords":` + strconv.FormatInt(m.Data.Records, 10) + `,"sealedAt":`)
	j.value(m.SealedAt)
	j.writeString(`,"records":[`)
	var ix *attach.StoredIndex
	var refs map[recordKey][]attach.Entry
	var linked []attach.Entry
	if j.task != nil && j.task.Request.AttachmentIndex && j.opt.Attachments != nil {
		var err error
		if ix, err = j.opt.Attachments.Index(ctx, m.Date); err != nil {
			return err
		}
		if ix != nil {
			refs = make(map[recordKey][]attach.Entry)
			for _, en := range ix.Entries {
				k := recordKey{en.MessageID, en.EventType, en.EventTimestamp}
				refs[k] = append(refs[k], en)
			}
		}
	}
	var n int64
	for {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n > 0 {
			j.writeString(",")
		}
		j.buf = appendRecord(append(j.buf[:0], '\n'), &e)
		j.write(j.buf)
		n++
		if refs != nil {
			k := recordKey{e.MessageID, e.EventType, e.EventTimestamp}
			linked = append(linked, refs[k]...)
			delete(refs, k) // a record selected twice lists its links once
		}
		if j.err != nil {
			return j.err
		}
	}
	j.records += n
	j.writeString("\n],\"selected\":" + strconv.FormatInt(n, 10))
	if j.task != nil && j.task.Request.AttachmentIndex {
		j.writeString(`,"attachmentIndex":`)
		if ix == nil {
			j.writeString("null")
		} else {
			if linked == nil {
				linked = []attach.Entry{}
			}
			j.value(dayAttachments{Key: ix.Key, SHA256: hex.EncodeToString(ix.SHA256[:]), Revision: ix.Revision,
				Manifest: ix.Manifest, Entries: linked})
		}
	}
	j.writeString("}")
	return j.err
}

// recordKey names a record as an attachment index's entries do.
type recordKey struct {
	messageID, eventType string
	eventTimestamp       int64
}

// dayAttachments is a day's "attachmentIndex" in the json format: the index revision read
// (its key and SHA-256 as stored, so that it can be checked against the store) and its
// entries for the day's selected records, in export order.
type dayAttachments struct {
	Key      string             `json:"key"`
	SHA256   string             `json:"sha256"`
	Revision int                `json:"revision"`
	Manifest attach.ManifestRef `json:"manifest"`
	Entries  []attach.Entry     `json:"entries"`
}

// appendRecord appends e's canonical JSON with its times in RFC 3339 added at its end.
func appendRecord(dst []byte, e *model.Event) []byte {
	dst = model.AppendJSON(dst, e)
	dst = dst[:len(dst)-1] // the record's closing brace
	dst = append(dst, `,"timestampRfc3339":"`...)
	dst = append(dst, FormatMillis(e.Timestamp)...)
	dst = append(dst, `","eventTimestampRfc3339":"`...)
	dst = append(dst, FormatMillis(e.EventTimestamp)...)
	if e.ThreadTimestamp != 0 {
		dst = append(dst, `","threadTimestampRfc3339":"`...)
		dst = append(dst, FormatMillis(e.ThreadTimestamp)...)
	}
	return append(dst, `"}`...)
}

// Close implements Encoder: it ends the document with its totals.
func (j *JSON) Close() error {
	if j.zw == nil {
		return nil
	}
	zw := j.zw
	j.zw = nil
	j.begin()
	j.writeString("\n],\n\"totals\":{\"days\":" + strconv.Itoa(j.days) + `,"records":` + strconv.FormatInt(j.records, 10) + `,"sealedAsOf":`)
	asOf := ""
	if !j.asOf.IsZero() {
		asOf = j.asOf.UTC().Format(time.RFC3339Nano)
	}
	j.value(asOf)
	if j.summary.NoMatch != "" {
		j.writeString(`,"noMatch":`)
		j.value(j.summary.NoMatch)
	}
	if len(j.summary.TermReport) > 0 {
		j.writeString(`,"termReport":`)
		j.value(j.summary.TermReport)
	}
	j.writeString("}}\n")
	if j.err == nil {
		j.err = j.bw.Flush()
	}
	return errors.Join(j.err, wrapClose(zw.Close()))
}

func wrapClose(err error) error {
	if err != nil {
		return fmt.Errorf("json: close: %w", err)
	}
	return nil
}
