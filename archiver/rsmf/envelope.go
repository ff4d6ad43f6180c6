package rsmf

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/internal/fastzip"
)

// boundary separates the MIME parts. Quoted-printable and base64 never produce "=_", so
// it cannot occur inside a part, and a fixed boundary keeps the output deterministic.
const boundary = "=_chatvault-rsmf"

// ManifestName is the manifest's name inside rsmf.zip.
const ManifestName = "rsmf_manifest.json"

// opener opens a captured file to pack (exporttask.Attachments.Open).
type opener func(name, sum string, size int64) (io.ReadCloser, error)

// encode writes the .rsmf: RFC 5322 headers, a text/plain transcript, rsmf.zip with the
// manifest and the captured files f.files, read through open as they are written.
func (f *file) encode(out io.Writer, open opener) error {
	m := &f.manifest
	ps := m.Participants
	var head bytes.Buffer
	h := headerWriter{w: &head}
	if len(ps) > 0 {
		h.field("From", address(ps[0]))
	}
	to := make([]string, 0, len(ps))
	names := make([]string, 0, len(ps))
	for i, p := range ps {
		if i > 0 {
			to = append(to, address(p))
		}
		names = append(names, p.label())
	}
	if len(to) > 0 {
		h.field("To", strings.Join(to, ", "))
	}
	h.field("Subject", encodeWords(f.subject()))
	h.field("Date", f.first.Format(time.RFC1123Z))
	h.field("Message-ID", "<"+f.info.docID+"@chatvault>")
	h.field("MIME-Version", "1.0")
	h.field("X-RSMF-Version", Version)
	h.field("X-RSMF-Generator", "chatvault")
	h.field("X-RSMF-Application", Platform)
	h.field("X-RSMF-BeginDate", f.first.Format(time.RFC3339Nano))
	h.field("X-RSMF-EndDate", f.last.Format(time.RFC3339Nano))
	h.field("X-RSMF-EventCount", strconv.Itoa(len(m.Events)))
	h.field("X-RSMF-AttachmentCount", strconv.Itoa(len(f.files)))
	h.field("X-RSMF-Custodian", encodeWords(custodianOf(f.info)))
	h.field("X-RSMF-Participants", encodeWords(strings.Join(names, ", ")))
	if f.info.collection != "" {
		h.field("X-RSMF-EventCollectionID", encodeWords(f.info.collection))
	}
	h.field("X-Chatvault-DocID", f.info.docID)
	h.field("X-Chatvault-Org", encodeWords(f.info.org))
	h.field("X-Chatvault-Task", encodeWords(f.info.taskID))
	h.field("X-Chatvault-Source-Date", f.info.day)
	h.field("X-Chatvault-Source-Manifest-Sha256", f.info.manifestSHA256)
	h.field("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	head.WriteString("\r\n")
	if _, err := out.Write(head.Bytes()); err != nil {
		return err
	}

	mw := multipart.NewWriter(out)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {`text/plain; charset="utf-8"`},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return err
	}
	qp := quotedprintable.NewWriter(pw)
	f.transcript(qp)
	if err := qp.Close(); err != nil {
		return err
	}

	pw, err = mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {`application/zip; name="rsmf.zip"`},
		"Content-Disposition":       {`attachment; filename="rsmf.zip"`},
		"Content-Transfer-Encoding": {"base64"},
	})
	if err != nil {
		return err
	}
	lbuf := bufio.NewWriterSize(pw, 32<<10) // one write per line would reach the part 78 bytes at a time
	lines := &lineWriter{w: lbuf}
	b64 := base64.NewEncoder(base64.StdEncoding, lines)
	zw := zip.NewWriter(b64)
	fastzip.Register(zw)
	zf, err := zw.CreateHeader(&zip.FileHeader{Name: ManifestName, Method: zip.Deflate, Modified: f.first})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(zf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	for _, p := range f.files {
		// Stored, not deflated: captured files are mostly compressed already (images,
		// PDFs, office documents).
		zf, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Store, Modified: f.first})
		if err != nil {
			return err
		}
		rc, err := open(p.name, p.sha256, p.size)
		if err != nil {
			return err
		}
		_, err = io.Copy(zf, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := b64.Close(); err != nil {
		return err
	}
	if err := lines.close(); err != nil {
		return err
	}
	if err := lbuf.Flush(); err != nil {
		return err
	}
	return mw.Close()
}

// lineWriter breaks base64 into lines of 76 characters, each ended by CRLF, the last one
// too (RFC 2045 6.8).
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	const width = 76
	n := 0
	for len(p) > 0 {
		k := min(width-l.col, len(p))
		if _, err := l.w.Write(p[:k]); err != nil {
			return n, err
		}
		n += k
		l.col += k
		p = p[k:]
		if l.col == width {
			if _, err := l.w.Write(crlf); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}

// crlf is allocated once: a conversion per line would allocate for every 76 characters.
var crlf = []byte("\r\n")

// close ends a last partial line.
func (l *lineWriter) close() error {
	if l.col == 0 {
		return nil
	}
	l.col = 0
	_, err := l.w.Write(crlf)
	return err
}

func (f *file) subject() string {
	s := "Chat " + f.chat + " on " + f.info.day
	if f.info.collection != "" {
		s += " (part " + strconv.Itoa(f.info.part) + ")"
	}
	return s
}

func custodianOf(info fileInfo) string {
	if info.orgName != "" {
		return info.orgName
	}
	return info.org
}

// transcript is the plain-text body: what the file is, then one line per event, so the
// text is searchable on platforms that do not read the manifest.
func (f *file) transcript(w io.Writer) {
	m := &f.manifest
	names := make(map[string]string, len(m.Participants))
	labels := make([]string, len(m.Participants))
	for i, p := range m.Participants {
		names[p.ID] = p.Display
		if p.Display == "" {
			names[p.ID] = p.ID
		}
		labels[i] = p.label()
	}
	// Every line goes through continued, whatever field it shows: a name, an id or a chat
	// id breaks lines as well as a text does.
	line := func(format string, args ...any) {
		io.WriteString(w, continued(fmt.Sprintf(format, args...)))
		io.WriteString(w, "\n")
	}
	line("%s", f.subject())
	line("Custodian: %s (%s)", custodianOf(f.info), f.info.org)
	line("Export task: %s, DocID %s", f.info.taskID, f.info.docID)
	line("Source: sealed day %s, manifest SHA-256 %s", f.info.day, f.info.manifestSHA256)
	line("Participants: %s", strings.Join(labels, "; "))
	line("Events: %d, %s to %s (UTC)", len(m.Events), f.first.Format(time.RFC3339Nano), f.last.Format(time.RFC3339Nano))
	io.WriteString(w, "\n")
	for _, ev := range m.Events {
		who := names[ev.Participant]
		switch ev.Type {
		case "join":
			line("%s (%d) %s joined", ev.Timestamp, ev.ms, who)
		case "leave":
			line("%s (%d) %s left", ev.Timestamp, ev.ms, who)
		default:
			reply := ""
			if ev.Parent != "" {
				reply = " (reply to " + ev.Parent + ")"
			}
			if ev.who != "" {
				who = ev.who // renamed during the day: the name it sent under
			}
			line("%s (%d) %s%s: %s", ev.Timestamp, ev.ms, who, reply, ev.Body)
			for _, ed := range ev.Edits {
				by := names[ed.Participant]
				if ed.who != "" {
					by = ed.who
				}
				line("    edited %s (%d) by %s: %s", ed.Timestamp, ed.ms, by, ed.New)
			}
			if ev.Deleted {
				line("    deleted %s (%d)", stamp(ev.deletedMS), ev.deletedMS)
			}
		}
	}
}

// continued marks the lines of a text after its first with "  | ", so that every line of
// the transcript that does not start so is an event's (a message cannot fake one). A line
// breaks at every break a reader may honour, not only "\n": a lone carriage return (the
// quoted-printable body writes it as a line break), a vertical tab or form feed, NEL and
// the Unicode line and paragraph separators.
// It also shows the bidi embeddings, overrides and isolates (U+202A–U+202E,
// U+2066–U+2069) as their escapes (\u202e), as the html pages do: raw, an override in a
// name draws the rest of its line reversed. The manifest keeps them verbatim.
func continued(s string) string { return transcriptSafe.Replace(s) }

var transcriptSafe = strings.NewReplacer("\r\n", "\n  | ", "\n", "\n  | ", "\r", "\n  | ", "\v", "\n  | ", "\f", "\n  | ",
	"\u0085", "\n  | ", "\u2028", "\n  | ", "\u2029", "\n  | ",
	"\u202a", `\u202a`, "\u202b", `\u202b`, "\u202c", `\u202c`, "\u202d", `\u202d`, "\u202e", `\u202e`,
	"\u2066", `\u2066`, "\u2067", `\u2067`, "\u2068", `\u2068`, "\u2069", `\u2069`)

// address renders a participant as a mail address; one without a usable email gets a
// placeholder under the reserved .invalid domain, so the header still parses.
func address(p participant) string {
	a := mail.Address{Name: p.Display, Address: p.Email}
	if a.Address == "" {
		local := strings.Map(func(r rune) rune {
			if r < 128 && (r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return r
			}
			return '_'
		}, p.ID)
		a.Address = strings.Trim(local, ".") + "@participants.chatvault.invalid"
	}
	return a.String()
}

// encodeWords makes any text safe as a header value: non-ASCII and control characters
// (a CR or LF in a chat name must not start a header of its own) become RFC 2047 words.
func encodeWords(s string) string { return mime.QEncoding.Encode("utf-8", s) }

// headerWriter writes header fields, folding long values at spaces (RFC 5322 2.2.3).
type headerWriter struct{ w *bytes.Buffer }

func (h headerWriter) field(name, value string) {
	line := len(name) + 2
	h.w.WriteString(name)
	h.w.WriteString(":")
	for i, word := range strings.Split(value, " ") {
		if i > 0 && line+1+len(word) > 76 {
			h.w.WriteString("\r\n")
			line = 0
		}
		h.w.WriteString(" ")
		h.w.WriteString(word)
		line += 1 + len(word)
	}
	h.w.WriteString("\r\n")
}
