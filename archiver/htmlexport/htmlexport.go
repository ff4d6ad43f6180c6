package htmlexport

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/fastzip"
	"github.com/chatvault/chatvault/internal/spillsort"
	"github.com/chatvault/chatvault/model"
)

// sortMemory is the budget of the regrouping by chat.
const sortMemory = 16 << 20

// Options are those every export format takes.
type Options struct {
	Org, OrgName string // the organization (custodian) the export is for
	TaskID       string // goes into names/identifiers so productions are traceable
	TempDir      string // where bounded-memory spill files may go ("" = os.TempDir())
	// Attachments are the organization's captured files (nil: none).
	Attachments exporttask.Attachments
}

// Writer writes the HTML transcripts of an export as a ZIP archive.
type Writer struct {
	opt Options
	out io.Writer
	zw  *fastzip.Writer // made by Close, which writes the whole archive
	// asOf is the latest sealing time of the days written: the archive's only time (its
	// entries' modification time, the pages' stamp), so that the same task gives the
	// same bytes whenever and wherever it runs.
	asOf   time.Time
	sorter *spillsort.Sorter
	budget int // sortMemory, smaller in tests
	days   []sourceDay
	closed bool
	// summary is rendered at the top of the index.
	summary exporttask.Summary
}

// Summarize records s for the index; call it before Close.
func (w *Writer) Summarize(s exporttask.Summary) error {
	w.summary = s
	return nil
}

type sourceDay struct {
	Date     string
	Revision int
	SHA256   string
	// Sealed is the day's records as its manifest counts them; Records those the task
	// selected and this export shows. The index names both: a count beside a manifest's
	// hash is read as the manifest's.
	Sealed  int64
	Records int64
}

// NewWriter starts an export written to w.
func NewWriter(w io.Writer, opt Options) (*Writer, error) {
	return &Writer{opt: opt, out: w, budget: sortMemory}, nil
}

// ContentType is the media type of the output.
func (w *Writer) ContentType() string { return "application/zip" }

// Extension is the output's file name extension.
func (w *Writer) Extension() string { return ".zip" }

// WriteDay adds one sealed day. Nothing is written to the output before Close, which
// renders every chat across all days.
func (w *Writer) WriteDay(ctx context.Context, m *archiver.StoredManifest, next func() (model.Event, error)) error {
	if w.closed {
		return errors.New("htmlexport: write after close")
	}
	day := sourceDay{Date: m.Date, Revision: m.Revision, SHA256: hex.EncodeToString(m.SHA256[:]), Sealed: m.Data.Records}
	if t := m.SealedTime(); t.After(w.asOf) {
		w.asOf = t
	}
	idx := len(w.days)
	var atts map[string]attach.Entry
	if w.opt.Attachments != nil {
		var err error
		if atts, err = w.opt.Attachments.Day(ctx, m.Date); err != nil {
			return fmt.Errorf("htmlexport: day %s: %w", day.Date, err)
		}
	}
	if w.sorter == nil {
		w.sorter = spillsort.New(w.opt.TempDir, w.budget)
	}
	var key, val []byte
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("htmlexport: day %s: %w", day.Date, err)
		}
		day.Records++
		// By chat, then by thread (a reply's threadTimestamp is its parent's timestamp,
		// so replies follow their parent), then by the message's own time; a message's
		// edits and deletion carry its timestamp and id, so they follow it.
		root := e.Timestamp
		if e.ThreadTimestamp != 0 {
			root = e.ThreadTimestamp
		}
		key = spillsort.AppendString(key[:0], e.ChatID)
		key = spillsort.AppendInt64(key, root)
		key = spillsort.AppendInt64(key, e.Timestamp)
		key = spillsort.AppendString(key, e.MessageID)
		key = append(key, model.EventTypeRank(e.EventType))
		key = spillsort.AppendInt64(key, e.EventTimestamp)
		val = binary.AppendUvarint(val[:0], uint64(idx))
		// What the day's attachment index says of the event's links goes with it through
		// the sort: only one day's index is ever held.
		outs, err := outcomes(atts, &e)
		if err != nil {
			return fmt.Errorf("htmlexport: day %s: %w", day.Date, err)
		}
		val = binary.AppendUvarint(val, uint64(len(outs)))
		val = append(val, outs...)
		val = model.AppendJSON(val, &e)
		if err := w.sorter.Add(key, val); err != nil {
			return fmt.Errorf("htmlexport: day %s: %w", day.Date, err)
		}
	}
	w.days = append(w.days, day)
	return nil
}

// Close renders every chat and the index into the archive and finishes it. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.sorter == nil {
		w.sorter = spillsort.New(w.opt.TempDir, w.budget)
	}
	defer w.sorter.Close()
	zw, err := fastzip.NewWriter(w.out, w.opt.TempDir)
	if err != nil {
		return fmt.Errorf("htmlexport: %w", err)
	}
	w.zw = zw
	r, err := newRenderer(w)
	if err != nil {
		w.zw.Abort()
		return fmt.Errorf("htmlexport: %w", err)
	}
	defer r.cleanup()
	err = w.sorter.Iterate(func(rec spillsort.Record) error {
		v := rec.Value
		idx, n := binary.Uvarint(v)
		v = v[n:]
		size, n := binary.Uvarint(v)
		v = v[n:]
		var outs []linkOutcome
		if size > 0 {
			if err := json.Unmarshal(v[:size], &outs); err != nil {
				return fmt.Errorf("decode spilled record: %w", err)
			}
		}
		e, err := model.Decode(v[size:])
		if err != nil {
			return fmt.Errorf("decode spilled record: %w", err)
		}
		return r.event(int(idx), &e, outs)
	})
	if err == nil {
		err = r.finishChat()
	}
	if err == nil {
		err = r.writeFiles(context.Background())
	}
	if err == nil {
		err = r.index()
	}
	if err == nil {
		err = w.zw.Close()
	}
	if err != nil {
		w.zw.Abort() // releases the archive's spilled central directory
		return fmt.Errorf("htmlexport: %w", err)
	}
	return nil
}

// tempFile is a scratch file reused for each chat; its name is removed at once, so
// nothing is left behind whatever happens.
type tempFile struct {
	f *os.File
	w *bufio.Writer
}

func newTempFile(dir, pattern string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &tempFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (t *tempFile) reset() error {
	t.w.Reset(t.f)
	if err := t.f.Truncate(0); err != nil {
		return err
	}
	_, err := t.f.Seek(0, io.SeekStart)
	return err
}

// copyTo writes everything written so far to dst.
func (t *tempFile) copyTo(dst io.Writer) error {
	if err := t.w.Flush(); err != nil {
		return err
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(dst, t.f)
	return err
}

// linkOutcome is what the day's attachment index says of one link of an event.
type linkOutcome struct {
	Field string `json:"f"`
	// Captured: the file's name under files/, its SHA-256 and size.
	Name string `json:"n,omitempty"`
	Sum  string `json:"s,omitempty"`
	Size int64  `json:"z,omitempty"`
	// Captured: the encoding its host served it with (kept encoded), and the URL that
	// served it after a redirect.
	Encoding   string `json:"e,omitempty"`
	ServedFrom string `json:"u,omitempty"`
	// Not captured: why.
	Reason string `json:"r,omitempty"`
}

// outcomes encodes what atts says of e's links (nothing when the day has no index).
func outcomes(atts map[string]attach.Entry, e *model.Event) ([]byte, error) {
	if atts == nil {
		return nil, nil
	}
	links := exporttask.EventLinks(e)
	if len(links) == 0 {
		return nil, nil
	}
	outs := make([]linkOutcome, len(links))
	for i, l := range links {
		o := linkOutcome{Field: l.Field}
		switch ent, ok := atts[l.URL]; {
		case !ok:
			o.Reason = "not in the attachment index"
		case ent.Outcome == attach.Captured:
			o.Name, o.Sum, o.Size = exporttask.CapturedFileName(ent, l.URL), ent.SHA256, ent.Size
			o.Encoding, o.ServedFrom = ent.ContentEncoding, ent.ServedFrom
		default:
			o.Reason = ent.Reason
			if ent.Status != 0 {
				o.Reason += " " + strconv.Itoa(ent.Status)
			}
		}
		outs[i] = o
	}
	return json.Marshal(outs)
}
