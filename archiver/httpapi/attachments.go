package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/audit"
)

// Attachments is what the attachment endpoints read (attach.Reader): a day's latest
// attachment index with its stored bytes, and a captured file that one of the
// organization's indexes names. An unset Server.Attachments answers 404.
type Attachments interface {
	LatestIndex(ctx context.Context, org string, day archiver.Day) (*attach.StoredIndex, []byte, error)
	OpenFile(ctx context.Context, org string, sum [sha256.Size]byte) (attach.FileEntry, io.ReadCloser, error)
}

// dayFileOpener is an Attachments that can open a file named by one day's index without
// its named record (attach.Reader.OpenFileOf), for ?date=.
type dayFileOpener interface {
	OpenFileOf(ctx context.Context, org string, sum [sha256.Size]byte, day archiver.Day) (attach.FileEntry, io.ReadCloser, error)
}

// HeaderAttachmentIndex is the key of the index that names the file served.
const HeaderAttachmentIndex = "X-Chatvault-Attachment-Index"

// HeaderAttachmentEncoding names the Content-Encoding a linked host served a file with
// (gzip, …) although asked for none, as its index records it: the bytes served are those
// bytes, still encoded. HeaderAttachmentContentType is then the Content-Type the host
// sent, the response's own being application/octet-stream.
const (
	HeaderAttachmentEncoding    = "X-Chatvault-Content-Encoding"
	HeaderAttachmentContentType = "X-Chatvault-Content-Type"
)

// handleAttachmentIndex serves GET /v1/exports/{date}/attachments: the organization's
// latest attachment index of the day, its signed bytes as stored, audited like an export.
func (s *Server) handleAttachmentIndex(w http.ResponseWriter, r *http.Request) {
	if refuseHead(w, r, s) {
		return
	}
	s.auditedStream(w, r, audit.ActionAttachmentIndex, s.attachmentIndex)
}

// refuseHead answers HEAD with 405: net/http would run the GET and drop the body, and the
// audit would record a transfer of bytes that never left.
func refuseHead(w http.ResponseWriter, r *http.Request, s *Server) bool {
	if r.Method != http.MethodHead {
		return false
	}
	w.Header().Set("Allow", http.MethodGet)
	s.Error(w, r, errorf(EMethodNotAllowed, "HEAD is not allowed here; allowed: GET"))
	return true
}

func (s *Server) attachmentIndex(w http.ResponseWriter, r *http.Request, tok archiver.Token, rec *audit.Record) error {
	rec.Date = r.PathValue("date")
	day, err := parseDay(rec.Date)
	if err != nil {
		return err
	}
	if err := s.checkDay(r.Context(), tok.Org, day); err != nil {
		return err
	}
	if s.Attachments == nil {
		return errorf(EAttachmentNotFound, "this server does not serve attachments")
	}
	ix, b, err := s.Attachments.LatestIndex(r.Context(), tok.Org, day)
	if errors.Is(err, attach.ErrInvalidIndex) {
		return s.attachmentMismatch(tok.Org, "", err, "attachment index")
	}
	if err != nil {
		return err
	}
	if ix == nil || ix.Org != tok.Org {
		return s.noAttachmentIndex(r.Context(), tok.Org, day)
	}
	sum := sha256.Sum256(b)
	hexSum := hex.EncodeToString(sum[:])
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	h.Set(HeaderRevision, strconv.Itoa(ix.Revision))
	h.Set(HeaderSHA256, hexSum)
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	rec.Revision, rec.Encoding, rec.SHA256 = ix.Revision, "identity", hexSum
	w.WriteHeader(http.StatusOK)
	n, err := w.Write(b)
	rec.Bytes, rec.Complete = int64(n), err == nil && n == len(b)
	return nil
}

// noAttachmentIndex says why org's day has no attachment index: a day not sealed yet is
// 409 export_pending with Retry-After, as every export endpoint answers it (the index
// can only follow the seal); a sealed day is 404 attachment_not_found, saying it is
// sealed. Not 200 with an empty index: what is served is the signed index as stored,
// and a sealed day whose capture never ran must not read as one that links nothing
// (capture writes an index of no entries for that). Not 409: whether capture will ever
// run (attachments.enabled) is the capturing process's configuration, not this
// server's, and a client must not poll forever for an index that never comes.
func (s *Server) noAttachmentIndex(ctx context.Context, org string, day archiver.Day) error {
	m, err := s.Exports.Latest(ctx, org, day)
	if err != nil {
		return err
	}
	if m == nil {
		return s.pending(ctx, org, day)
	}
	if m.Data.Records == 0 {
		return errorf(EAttachmentNotFound, "%s is sealed with no records, so it has no attachment index (its manifest says it all)", day)
	}
	return errorf(EAttachmentNotFound, "%s is sealed but has no attachment index: its attachments are not captured yet "+
		"(the capture after the seal has not run or not finished), or capture is off (attachments.enabled)", day)
}

// handleAttachment serves GET /v1/exports/attachments/{sha256}: one captured file of
// the organization, audited like an export.
func (s *Server) handleAttachment(w http.ResponseWriter, r *http.Request) {
	if refuseHead(w, r, s) {
		return
	}
	s.auditedStream(w, r, audit.ActionAttachment, s.attachment)
}

// attachment sends the file if one of the organization's indexes names it as captured
// (attach.Reader.OpenFile), else 404, the same whether another organization has it or
// nobody does. The bytes are checked against the index's SHA-256 and size as they are
// sent (sendVerified): a small file whole before its first byte, a large one with its
// last chunk held back, so that a tampered file never reaches a client whole.
func (s *Server) attachment(w http.ResponseWriter, r *http.Request, tok archiver.Token, rec *audit.Record) error {
	name := r.PathValue("sha256")
	sum, ok := attach.ParseSHA256(name)
	var err error
	if !ok {
		return errorf(EInvalidRequest, "the attachment must be named by its SHA-256: 64 lower-case hex digits")
	}
	rec.Attachment = name
	// ?date= names a day whose index names the file: looked at when the file's named
	// records lead nowhere (an index written before them), and only that day.
	var hint archiver.Day
	if err := singleParams(r.URL.Query(), "date"); err != nil {
		return err
	}
	if d := r.URL.Query().Get("date"); d != "" {
		rec.Date = d
		if hint, err = parseDay(d); err != nil {
			return err
		}
	}
	if s.Attachments == nil {
		return errorf(EAttachmentNotFound, "no such attachment")
	}
	e, rc, err := s.Attachments.OpenFile(r.Context(), tok.Org, sum)
	if o, ok := s.Attachments.(dayFileOpener); ok && errors.Is(err, attach.ErrNotNamed) && !hint.IsZero() {
		e, rc, err = o.OpenFileOf(r.Context(), tok.Org, sum, hint)
	}
	switch {
	case errors.Is(err, attach.ErrNotNamed):
		return errorf(EAttachmentNotFound, "no such attachment")
	case errors.Is(err, attach.ErrInvalidIndex), errors.Is(err, archiver.ErrNotFound):
		// The index that names it does not check, or names a file that is not there.
		return s.attachmentMismatch(tok.Org, name, err, "attachment")
	case err != nil:
		return err
	}
	defer rc.Close()
	src := &watchedReader{r: rc}
	res, err := s.sendVerified(w, src, e.Size, e.SHA256, func(h http.Header) {
		h.Set("Content-Type", contentType(e.ContentType))
		if e.ContentEncoding != "" {
			// Served encoded although asked for identity: the bytes as stored, which the
			// digests name, as an opaque download whose headers say how they are encoded.
			// Never as Content-Encoding: a client that decodes it transparently (Go's
			// transport, a browser) would hand over other bytes than the digests name.
			h.Set("Content-Type", "application/octet-stream")
			h.Set(HeaderAttachmentEncoding, e.ContentEncoding)
			if e.ContentType != "" {
				h.Set(HeaderAttachmentContentType, e.ContentType)
			}
		}
		h.Set("Content-Length", strconv.FormatInt(e.Size, 10))
		// The bytes are whatever a linked host served: never rendered as the API's own
		// page (no sniffing, a download, a sandbox should a browser render it anyway).
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Disposition", `attachment; filename="`+e.SHA256+attach.EncodingSuffix(e.ContentEncoding)+`"`)
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Cache-Control", "no-store")
		h.Set("ETag", `"`+e.SHA256+`"`)
		h.Set(HeaderSHA256, e.SHA256)
		h.Set(HeaderAttachmentIndex, e.Index)
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	})
	rec.Encoding = "identity"
	if err != nil {
		rec.SHA256 = res.sha256
		return s.attachmentMismatch(tok.Org, name, classify(err, src), "attachment")
	}
	rec.Bytes, rec.SHA256, rec.Complete = res.bytes, res.sha256, res.complete
	s.bytesServed.WithLabelValues("attachment").Add(float64(res.bytes))
	if !res.complete {
		// auditedStream cuts the connection: the client sees a short body.
		if err := classify(res.err, src); errors.Is(err, errMismatch) {
			s.attachmentMismatch(tok.Org, name, err, "attachment")
		} else {
			s.log().Warn("attachment incomplete", "org", tok.Org, "sha256", name, "sent", res.bytes, "size", e.Size, "err", err)
		}
	}
	return nil
}

// contentType is the type recorded at capture when it parses, else a plain download.
func contentType(t string) string {
	if _, _, err := mime.ParseMediaType(t); err != nil {
		return "application/octet-stream"
	}
	return t
}

// attachmentMismatch reports stored attachment data that does not match its signed
// index (errMismatch, attach.ErrInvalidIndex, a named file missing), loudly, and returns
// a 500 for the client; any other err is returned as is.
func (s *Server) attachmentMismatch(org, name string, err error, what string) error {
	if !errors.Is(err, errMismatch) && !errors.Is(err, attach.ErrInvalidIndex) && !errors.Is(err, archiver.ErrNotFound) {
		return err
	}
	s.integrityFailures.Inc()
	s.log().Error("stored "+what+" does not match its attachment index; not served", "org", org, "sha256", name, "err", err)
	return errorf(EInternal, "the stored %s does not match its signed attachment index, so none of it was sent; "+
		"the server reported it to its operator (chatvault verify shows the object)", what)
}
