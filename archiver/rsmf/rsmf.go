package rsmf

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/fastzip"
	"github.com/chatvault/chatvault/internal/spillsort"
	"github.com/chatvault/chatvault/model"
)

// Version is the RSMF version written.
const Version = "2.0.0"

// Limits of one .rsmf file; a larger chat-day is split into several files.
const (
	MaxFileEvents = 5000
	MaxFileBytes  = 8 << 20
)

// sortMemory is the budget of one day's regrouping by chat.
const sortMemory = 16 << 20

// Options are those every export format takes.
type Options struct {
	Org, OrgName string // the organization (custodian) the export is for
	TaskID       string // goes into names/identifiers so productions are traceable
	TempDir      string // where bounded-memory spill files may go ("" = os.TempDir())
	// Attachments are the organization's captured files (nil: none).
	Attachments exporttask.Attachments
}

// Writer writes an RSMF production as a ZIP archive.
type Writer struct {
	opt Options
	zw  *fastzip.Writer
	// asOf is the latest sealing time of the days written so far. The production's only
	// times are those of its data: a day's .rsmf files carry that day's sealing time,
	// loadfile.csv and export.json the latest, so that the same task gives the same bytes
	// whenever and wherever it runs.
	asOf     time.Time
	load     *os.File // loadfile.csv rows, copied into the archive by Close
	loadCSV  *csv.Writer
	loadBuf  *bufio.Writer
	docs     int
	days     []sourceDay
	closed   bool
	maxFile  int // MaxFileEvents, smaller in tests
	maxBytes int
	summary  exporttask.Summary
	// attachments counts the captured files packed, over every .rsmf (a file linked from
	// two .rsmf files is in each).
	attachments int
}

// Summarize records s for the index; call it before Close.
func (w *Writer) Summarize(s exporttask.Summary) error {
	w.summary = s
	return nil
}

type sourceDay struct {
	Date           string `json:"date"`
	Revision       int    `json:"revision"`
	ManifestKey    string `json:"manifestKey"`
	ManifestSHA256 string `json:"manifestSha256"`
	// SealedRecords is the day's records as its manifest counts them, Selected those the
	// task kept (the names of the json format and the task's status): a filtered task
	// selects fewer, and one "records" beside the manifest's hash read as the day's.
	SealedRecords int64 `json:"sealedRecords"`
	Selected      int64 `json:"selected"`
	Files         int   `json:"rsmfFiles"`
	sealed        time.Time
}

var loadHeader = []string{"DocID", "Custodian", "Conversation", "Participants", "FirstDate", "LastDate",
	"SHA256", "Path", "Events", "SourceDate", "SourceManifestSHA256", "Attachments", "AttachmentFiles"}

// NewWriter starts a production written to w.
func NewWriter(w io.Writer, opt Options) (*Writer, error) {
	f, err := os.CreateTemp(opt.TempDir, "chatvault-rsmf-load-*")
	if err != nil {
		return nil, fmt.Errorf("rsmf: create load file: %w", err)
	}
	// The load file is only ever read back through f: removing the name now means a crash
	// leaves nothing behind.
	os.Remove(f.Name())
	zw, err := fastzip.NewWriter(w, opt.TempDir)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("rsmf: %w", err)
	}
	buf := bufio.NewWriter(f)
	wr := &Writer{opt: opt, zw: zw, load: f, loadBuf: buf,
		loadCSV: csv.NewWriter(buf), maxFile: MaxFileEvents, maxBytes: MaxFileBytes}
	return wr, nil
}

// ContentType is the media type of the output.
func (w *Writer) ContentType() string { return "application/zip" }

// Extension is the output's file name extension.
func (w *Writer) Extension() string { return ".zip" }

// WriteDay adds one sealed day: one .rsmf per chat (more for a very large chat-day).
func (w *Writer) WriteDay(ctx context.Context, m *archiver.StoredManifest, next func() (model.Event, error)) error {
	if w.closed {
		return errors.New("rsmf: write after close")
	}
	day := sourceDay{Date: m.Date, Revision: m.Revision, ManifestKey: m.Key, ManifestSHA256: hex.EncodeToString(m.SHA256[:]),
		SealedRecords: m.Data.Records,
		sealed:        m.SealedTime()}
	if day.sealed.After(w.asOf) {
		w.asOf = day.sealed
	}
	var atts map[string]attach.Entry
	if w.opt.Attachments != nil {
		var err error
		if atts, err = w.opt.Attachments.Day(ctx, m.Date); err != nil {
			return fmt.Errorf("rsmf: day %s: %w", day.Date, err)
		}
	}
	s := spillsort.New(w.opt.TempDir, sortMemory)
	defer s.Close()
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
			return fmt.Errorf("rsmf: day %s: %w", day.Date, err)
		}
		day.Selected++
		// Grouped by chat, then by the message's original time: a message's edits and
		// deletion carry its timestamp and id, so they follow it.
		key = spillsort.AppendString(key[:0], e.ChatID)
		key = spillsort.AppendInt64(key, e.Timestamp)
		key = spillsort.AppendString(key, e.MessageID)
		key = append(key, model.EventTypeRank(e.EventType))
		key = spillsort.AppendInt64(key, e.EventTimestamp)
		val = model.AppendJSON(val[:0], &e)
		if err := s.Add(key, val); err != nil {
			return fmt.Errorf("rsmf: day %s: %w", day.Date, err)
		}
	}

	var (
		events []model.Event
		size   int
		part   int
		chat   string
	)
	// flush writes the buffered events; more says the chat-day goes on in another file.
	flush := func(more bool) error {
		if len(events) == 0 {
			return nil
		}
		part++
		if err := w.writeFile(ctx, &day, chat, part, more, events, atts); err != nil {
			return err
		}
		day.Files++
		clear(events)
		events, size = events[:0], 0
		return nil
	}
	n := 0
	err := s.Iterate(func(r spillsort.Record) error {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		e, err := model.Decode(r.Value)
		if err != nil {
			return fmt.Errorf("decode spilled record: %w", err)
		}
		if e.ChatID != chat {
			if err := flush(false); err != nil {
				return err
			}
			chat, part = e.ChatID, 0
		} else if len(events) > 0 && (len(events) >= w.maxFile || size >= w.maxBytes) {
			// Cut between messages when possible; a single message's own edits may
			// overrun the limit by as much again before the cut is forced.
			last := &events[len(events)-1]
			if last.MessageID != e.MessageID || last.Timestamp != e.Timestamp ||
				len(events) >= 2*w.maxFile || size >= 2*w.maxBytes {
				if err := flush(true); err != nil {
					return err
				}
			}
		}
		events = append(events, e)
		size += len(r.Value)
		return nil
	})
	if err == nil {
		err = flush(false)
	}
	if err != nil {
		return fmt.Errorf("rsmf: day %s: %w", day.Date, err)
	}
	w.days = append(w.days, day)
	return nil
}

// writeFile encodes one .rsmf and adds it to the archive and the load file. It is
// streamed into the archive: the captured files it carries are never held in memory.
func (w *Writer) writeFile(ctx context.Context, day *sourceDay, chat string, part int, more bool, events []model.Event, atts map[string]attach.Entry) error {
	w.docs++
	docID := w.docID()
	collection := ""
	if part > 1 || more {
		collection = chat + "/" + day.Date
	}
	f := buildFile(chat, events, fileInfo{
		org: w.opt.Org, orgName: w.opt.OrgName, taskID: w.opt.TaskID, docID: docID,
		day: day.Date, manifestSHA256: day.ManifestSHA256, part: part, collection: collection,
	}, atts)
	path := day.Date + "/" + docID + ".rsmf"
	zf, err := w.zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Deflate, Modified: day.sealed})
	if err != nil {
		return fmt.Errorf("add %s: %w", path, err)
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(zf, h), 64<<10)
	if err := f.encode(bw, func(name, sum string, size int64) (io.ReadCloser, error) {
		return w.opt.Attachments.Open(ctx, sum, size)
	}); err != nil {
		return fmt.Errorf("encode %s: %w", docID, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	attNames := make([]string, len(f.files))
	for i, p := range f.files {
		attNames[i] = p.name
	}
	w.attachments += len(f.files)
	names := make([]string, len(f.manifest.Participants))
	for i, p := range f.manifest.Participants {
		// Each name on its own too: a spreadsheet whose list separator is ";" splits the
		// cell there.
		names[i] = cell(p.label())
	}
	row := []string{docID, w.custodian(), chat, strings.Join(names, "; "),
		f.first.Format(time.RFC3339Nano), f.last.Format(time.RFC3339Nano), hex.EncodeToString(sum[:]), path,
		strconv.Itoa(len(f.manifest.Events)), day.Date, day.ManifestSHA256,
		strconv.Itoa(len(f.files)), strings.Join(attNames, "; ")}
	for i := range row {
		row[i] = cell(row[i])
	}
	if err := w.loadCSV.Write(row); err != nil {
		return fmt.Errorf("write load file: %w", err)
	}
	return nil
}

func (w *Writer) custodian() string {
	if w.opt.OrgName != "" {
		return w.opt.OrgName
	}
	return w.opt.Org
}

// docID numbers the files of a production; the task id's first characters tie a DocID to
// the task that produced it.
func (w *Writer) docID() string {
	prefix := "CV"
	var t []byte
	for _, c := range []byte(w.opt.TaskID) {
		if len(t) == 8 {
			break
		}
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			t = append(t, c)
		}
	}
	if len(t) > 0 {
		prefix += "-" + strings.ToUpper(string(t))
	}
	return fmt.Sprintf("%s-%07d", prefix, w.docs)
}

// Close writes loadfile.csv and export.json and finishes the archive. It does not close
// the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.load.Close()
	if err := w.finish(); err != nil {
		w.zw.Abort() // releases the archive's spilled central directory
		return err
	}
	return nil
}

func (w *Writer) finish() error {
	w.loadCSV.Flush()
	if err := w.loadCSV.Error(); err != nil {
		return fmt.Errorf("rsmf: write load file: %w", err)
	}
	if err := w.loadBuf.Flush(); err != nil {
		return fmt.Errorf("rsmf: write load file: %w", err)
	}
	zf, err := w.zw.CreateHeader(&zip.FileHeader{Name: "loadfile.csv", Method: zip.Deflate, Modified: w.asOf})
	if err != nil {
		return fmt.Errorf("rsmf: add load file: %w", err)
	}
	hdr := csv.NewWriter(zf)
	hdr.Write(loadHeader)
	hdr.Flush()
	if err := hdr.Error(); err != nil {
		return fmt.Errorf("rsmf: write load file: %w", err)
	}
	if _, err := w.load.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rsmf: read load file: %w", err)
	}
	if _, err := io.Copy(zf, w.load); err != nil {
		return fmt.Errorf("rsmf: copy load file: %w", err)
	}

	info := struct {
		Format  string `json:"format"`
		Version string `json:"rsmfVersion"`
		Org     string `json:"org"`
		OrgName string `json:"orgName"`
		TaskID  string `json:"taskId"`
		// SealedAsOf is the latest sealing time of the source days, which the export
		// reflects; not when it was written, so that its bytes do not depend on that.
		SealedAsOf string `json:"sealedAsOf"`
		Files      int    `json:"rsmfFiles"`
		// Attachments counts the captured files packed into the .rsmf files.
		Attachments int         `json:"attachments"`
		Days        []sourceDay `json:"sourceDays"`
		exporttask.Summary
	}{"rsmf", Version, w.opt.Org, w.opt.OrgName, w.opt.TaskID, w.asOf.Format(time.RFC3339), w.docs, w.attachments, w.days, w.summary}
	if info.Days == nil {
		info.Days = []sourceDay{}
	}
	zf, err = w.zw.CreateHeader(&zip.FileHeader{Name: "export.json", Method: zip.Deflate, Modified: w.asOf})
	if err != nil {
		return fmt.Errorf("rsmf: add export.json: %w", err)
	}
	enc := json.NewEncoder(zf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(info); err != nil {
		return fmt.Errorf("rsmf: write export.json: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("rsmf: finish archive: %w", err)
	}
	return nil
}
