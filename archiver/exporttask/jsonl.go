package exporttask

import (
	"context"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/model"
)

// FormatOptions are what an encoder is told about the export. The format packages
// (htmlexport, rsmf) define an Options struct with the same fields, so cmd/chatvault
// converts one into the other.
type FormatOptions struct {
	Org, OrgName string // the organization (custodian) the export is for
	TaskID       string // goes into names and identifiers so productions are traceable
	TempDir      string // where bounded-memory spill files may go ("" = os.TempDir())
	// Attachments are the organization's captured files (nil: none); html and rsmf
	// include them.
	Attachments Attachments
	// No clock: a result holds no time but its data's (a sealed day's sealedAt), so that
	// the same task gives the same bytes on any replica, at any time.
}

// Encoder writes a task's result. WriteDay is called once per sealed day of the range, in
// date order; next yields that day's filtered records in export order and returns io.EOF
// after the last one. Close finishes the output; it does not close the writer.
type Encoder interface {
	WriteDay(ctx context.Context, m *archiver.StoredManifest, next func() (model.Event, error)) error
	Close() error
}

// Summary is what the engine knows of a result once every day is read: an encoder that
// has an index of its own (a Summarizer) writes it there.
type Summary struct {
	// NoMatch, when the result holds no record, says so: the filters and the days
	// searched.
	NoMatch string `json:"noMatch,omitempty"`
	// TermReport is the search term report, when the task had terms.
	TermReport []TermCount `json:"termReport,omitempty"`
}

// Summarizer is an encoder with an index page or document of its own. The engine calls
// Summarize once, after the last WriteDay and before Close.
type Summarizer interface {
	Summarize(Summary) error
}

// NewEncoder makes an Encoder writing to w.
type NewEncoder func(w io.Writer, opt FormatOptions) (Encoder, error)

// An Encoder may say what it writes; without these methods the result is
// application/octet-stream with extension ".bin".
type contentTyper interface{ ContentType() string }
type extensioner interface{ Extension() string }

// JSONL is the built-in format: the canonical records of the selected days, filtered,
// one per line, gzipped. The concatenation of sealed days with no filter gives exactly the
// days' JSONL one after the other.
type JSONL struct {
	zw  *gzip.Writer
	buf []byte
}

// NewJSONL is the jsonl format's NewEncoder.
func NewJSONL(w io.Writer, _ FormatOptions) (Encoder, error) {
	// Level 6 (the default) rather than the sealer's faster level: a task's result is read
	// more often than it is written, and kept for weeks.
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	// A fixed header (no name, no time) keeps the result's bytes deterministic.
	zw.ModTime = time.Time{}
	return &JSONL{zw: zw}, nil
}

// ContentType is the stored result's type: a gzip file whose content is JSON Lines.
func (j *JSONL) ContentType() string { return "application/gzip" }

// Extension is the result's file extension.
func (j *JSONL) Extension() string { return ".jsonl.gz" }

// WriteDay implements Encoder.
func (j *JSONL) WriteDay(ctx context.Context, _ *archiver.StoredManifest, next func() (model.Event, error)) error {
	for {
		e, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		j.buf = append(model.AppendJSON(j.buf[:0], &e), '\n')
		if _, err := j.zw.Write(j.buf); err != nil {
			return err
		}
	}
}

// Close implements Encoder.
func (j *JSONL) Close() error { return j.zw.Close() }
