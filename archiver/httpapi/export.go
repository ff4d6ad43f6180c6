package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/klauspost/compress/gzip"
)

// Response headers of an export.
const (
	HeaderSHA256   = "X-Chatvault-Sha256"   // hex SHA-256 of the JSONL (the manifest's jsonlSha256)
	HeaderRevision = "X-Chatvault-Revision" // the revision served (the latest)
	HeaderRecords  = "X-Chatvault-Records"  // number of records (lines)
	HeaderManifest = "X-Chatvault-Manifest-Sha256"
)

type exportRequest struct {
	Date string `json:"date"`
	// Delivery is "stream" (the default: the day in the response) or "url" (a presigned
	// URL of the stored gzip, where the store can make one).
	Delivery string `json:"delivery"`
}

// Deliveries of an export.
const (
	DeliveryStream = "stream"
	DeliveryURL    = "url"
)

// readRequest decodes the export request's body: exactly one JSON object with a valid
// date and, optionally, a delivery.
func readRequest(w http.ResponseWriter, r *http.Request) (exportRequest, archiver.Day, error) {
	req, day, err := readDate(w, r)
	if err == nil && req.Delivery != "" && req.Delivery != DeliveryStream && req.Delivery != DeliveryURL {
		err = errorf(EInvalidRequest, "delivery must be %q or %q", DeliveryStream, DeliveryURL)
	}
	return req, day, err
}

// exportFields are the JSON names of exportRequest's fields.
var exportFields = jsonFields(reflect.TypeFor[exportRequest]())

// readDate decodes the body's JSON object and its date. The body is read whole first (it
// is at most maxBody) so that a field given twice or in another case is refused, as in a
// task request: {"date":"2026-11-21","date":"2026-11-22"} would otherwise serve the day
// a proxy, a log or a reviewer does not see.
func readDate(w http.ResponseWriter, r *http.Request) (exportRequest, archiver.Day, error) {
	var req exportRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, archiver.Day{}, errorf(EInvalidRequest, "the body exceeds %d bytes", maxBody)
		}
		return req, archiver.Day{}, errorf(EInvalidRequest, "the body could not be read")
	}
	if name, ok := ambiguousField(body, exportFields); ok {
		return req, archiver.Day{}, &Error{Code: EInvalidRequest, Message: clip(name) + ": given twice, or a field name in another case", Field: clip(name)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, archiver.Day{}, errorf(EInvalidRequest, "the body must be a JSON object such as {\"date\":\"2026-11-22\"}")
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, archiver.Day{}, errorf(EInvalidRequest, "the body must hold one JSON object")
	}
	day, err := parseDay(req.Date)
	return req, day, err
}

func parseDay(s string) (archiver.Day, error) {
	if s == "" {
		return archiver.Day{}, errorf(EInvalidRequest, "date is required (YYYY-MM-DD)")
	}
	d, err := archiver.ParseDay(s)
	if err != nil {
		// ParseDay's message quotes the input; keep it out of the response all the same.
		return archiver.Day{}, errorf(EInvalidRequest, "date must be a real calendar day, YYYY-MM-DD, from 1970")
	}
	return d, nil
}

// checkDay refuses days the organization has no export for, and days not over yet. A day
// the directory no longer archives (before an archivalStart moved later, archival turned
// off, the organization gone from the directory) is still served when it has a committed
// manifest: what was sealed is evidence whatever the settings are now, and `chatvault
// export` serves it too. Only such refusals cost the extra manifest lookup.
func (s *Server) checkDay(ctx context.Context, org string, day archiver.Day) error {
	if today := archiver.DayOf(s.now()); day.After(today) {
		return errorf(EInvalidRequest, "date %s is in the future", day)
	}
	start, err := s.archivalStart(ctx, org)
	if err == nil && day.Before(start) {
		err = errorf(EExportNotFound, "archival starts on %s", start)
	}
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code != EExportNotFound {
		return err
	}
	m, lerr := s.Exports.Latest(ctx, org, day)
	if lerr != nil {
		return lerr
	}
	if m != nil {
		return nil
	}
	return err
}

// archivalStart returns the organization's first archived day (the zero Day when it has
// no start), or export_not_found when it does not archive.
func (s *Server) archivalStart(ctx context.Context, org string) (archiver.Day, error) {
	dir, err := s.Directory(ctx)
	if err != nil {
		return archiver.Day{}, fmt.Errorf("read directory: %w", err)
	}
	for _, o := range dir.Organizations {
		if o.ID != org {
			continue
		}
		if !o.Archival {
			return archiver.Day{}, errorf(EExportNotFound, "archival is off for this organization")
		}
		if o.ArchivalStart != "" {
			if start, err := archiver.ParseDay(o.ArchivalStart); err == nil {
				return start, nil
			}
		}
		return archiver.Day{}, nil
	}
	return archiver.Day{}, errorf(EExportNotFound, "no archive for this organization")
}

// pending is the error for org's day that is not sealed (yet). With Witnessed, it first
// checks the store against the witness: a store emptied of its sealed days holds no
// manifest of them either, and "not sealed yet, retry later" would be a false answer.
func (s *Server) pending(ctx context.Context, org string, day archiver.Day) error {
	if s.Witnessed != nil {
		if err := s.Witnessed(ctx, org); err != nil {
			return err
		}
	}
	wait := time.Hour // the next scheduler run, give or take; a client polls, it does not hang on
	if ready := day.End().Add(s.Grace); ready.After(s.now()) {
		wait = ready.Sub(s.now()) + time.Minute
	}
	return &Error{Code: EExportPending, Message: fmt.Sprintf("%s is not sealed yet", day), RetryAfter: wait}
}

// acceptsGzip reports whether Accept-Encoding allows gzip (and does not give it q=0).
func acceptsGzip(r *http.Request) bool {
	// Several Accept-Encoding fields make one list (RFC 9110, 5.3).
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept-Encoding"), ","), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		// The weight's name is case-insensitive (RFC 9110, 12.4.2), and it may follow
		// other parameters: gzip;Q=0 and gzip;level=1;q=0 refuse gzip too.
		for _, p := range strings.Split(params, ";") {
			k, q, _ := strings.Cut(strings.TrimSpace(p), "=")
			if !strings.EqualFold(strings.TrimSpace(k), "q") {
				continue
			}
			if v, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// handleExport serves POST /messageevent.export. Every request made with a valid token,
// refused or not, is handed to the audit before the handler returns (requests without one
// are counted, not stored), and an export is only served when the audit admits it.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	s.auditedStream(w, r, "", s.export)
}

// auditedStream serves a download of a day's stored object (an export, a quarantine) with
// the audit of handleExport: the record is written whatever happens, with the action given.
func (s *Server) auditedStream(w http.ResponseWriter, r *http.Request, action string,
	serve func(http.ResponseWriter, *http.Request, archiver.Token, *audit.Record) error) {
	rec := &audit.Record{Client: s.clientAddr(r), Action: action}
	rw := w.(*responseWriter)
	err := s.gate(w, r, archiver.ScopeComplianceRead, rec, func(w http.ResponseWriter, r *http.Request, tok archiver.Token) error {
		if err := s.admit(); err != nil {
			return err
		}
		return serve(w, r, tok, rec)
	})
	rec.Time = s.now()
	rec.Status = rw.status
	if err != nil {
		e, status := errorCode(err)
		rec.Status, rec.Error = status, e.Code
	}
	if rec.Org == "" {
		s.Error(w, r, err) // no valid token: refused, counted by the gate, not stored
		return
	}
	// The client may have gone; the audit record must still be written.
	if aerr := s.Audit.Append(context.WithoutCancel(r.Context()), *rec); aerr != nil {
		s.log().Error("audit append failed", "err", aerr, "token", rec.TokenID, "date", rec.Date)
		if rw.status == 0 {
			err = aerr // nothing sent yet: refuse rather than serve unaudited
		}
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !rec.Complete {
		// Cut the connection so that the client sees a short body, not a clean end.
		panic(http.ErrAbortHandler)
	}
}

// export sends the day: the stored gzip as is when the client takes gzip, otherwise
// decompressed on the fly, never whole unless it matches the manifest (sendVerified).
// Memory is a few buffers, or the body up to VerifyFirstMaxSize within VerifyFirstMemory.
func (s *Server) export(w http.ResponseWriter, r *http.Request, tok archiver.Token, rec *audit.Record) error {
	req, day, err := readRequest(w, r)
	rec.Date = req.Date
	if err != nil {
		return err
	}
	if err := s.checkDay(r.Context(), tok.Org, day); err != nil {
		return err
	}
	if req.Delivery == DeliveryURL {
		return s.exportURL(w, r, tok, day, rec)
	}
	m, rc, err := s.Exports.OpenExport(r.Context(), tok.Org, day)
	if errors.Is(err, ledger.ErrNotSealed) {
		return s.pending(r.Context(), tok.Org, day)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	rec.Revision = m.Revision
	obj, err := servedData(m)
	if err != nil {
		return s.mismatch(tok.Org, day, m.Key, err, "export")
	}
	var body io.Reader = rc
	if m.Data.Keyless() {
		body = emptyReader() // whatever the ledger opened: the bytes checked are these
	}
	return s.sendObject(w, r, tok, day, m, obj, body, rec, "export")
}

// sendObject sends obj, one of m's stored objects, read from rc: the stored gzip as is
// when the client takes gzip, otherwise decompressed on the fly, never whole unless it
// matches the manifest (sendVerified). what names it in errors ("export").
func (s *Server) sendObject(w http.ResponseWriter, r *http.Request, tok archiver.Token, day archiver.Day,
	m *archiver.StoredManifest, obj archiver.DataObject, rc io.Reader, rec *audit.Record, what string) error {
	// The hash checked is the one announced for the representation sent: the stored
	// bytes' (Repr-Digest) for gzip, the JSONL's (X-Chatvault-Sha256, Repr-Digest) for
	// the decompressed coding. The signed manifest binds the two, so the gzip's matching
	// proves the JSONL inside is the manifest's too.
	src := &watchedReader{r: rc}
	var body io.Reader = src
	size, want := obj.JSONLSize, obj.JSONLSHA256
	rec.Encoding = "identity"
	gz := acceptsGzip(r)
	if gz {
		size, want = obj.Size, obj.SHA256
		rec.Encoding = "gzip"
	} else {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return s.mismatch(tok.Org, day, obj.Key, fmt.Errorf("open %s: %w", obj.Key, classify(err, src)), what)
		}
		defer zr.Close()
		body = zr
	}
	res, err := s.sendVerified(w, body, size, want, func(h http.Header) {
		setManifestHeaders(h, m)
		h.Set(HeaderSHA256, obj.JSONLSHA256) // the object's, for a quarantine as for the export
		h.Set(HeaderRecords, strconv.FormatInt(obj.Records, 10))
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Vary", "Accept-Encoding")
		if gz {
			h.Set("Content-Encoding", "gzip")
		}
		// Repr-Digest (RFC 9530) is of the representation as sent, content coding included.
		if b, err := hex.DecodeString(want); err == nil {
			h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(b)+":")
		}
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	})
	if err != nil {
		// Nothing was sent: the client gets a clean 500, the audit what was read.
		rec.SHA256 = res.sha256
		return s.mismatch(tok.Org, day, obj.Key, classify(err, src), what)
	}
	rec.Bytes, rec.SHA256, rec.Complete = res.bytes, res.sha256, res.complete
	s.bytesServed.WithLabelValues(rec.Encoding).Add(float64(res.bytes))
	if !res.complete {
		// handleExport cuts the connection: the client sees a short body, not a clean end.
		if err := classify(res.err, src); errors.Is(err, errMismatch) {
			s.mismatch(tok.Org, day, obj.Key, err, what)
		} else {
			s.log().Warn(what+" incomplete", "org", tok.Org, "day", day.String(), "sent", res.bytes, "size", size, "err", err)
		}
	}
	return nil
}

// mismatch reports stored bytes that do not match their manifest (err wrapping
// errMismatch), loudly, and returns the error for the client: a 500 saying so when
// nothing was sent yet. Any other err is returned as is, an internal error.
func (s *Server) mismatch(org string, day archiver.Day, key string, err error, what string) error {
	if !errors.Is(err, errMismatch) {
		return err
	}
	s.integrityFailures.Inc()
	s.log().Error("stored object does not match its manifest; not served", "org", org, "day", day.String(), "key", key, "err", err)
	return mismatchError(what)
}

// URLDelivery is the answer to an export request with "delivery":"url".
type URLDelivery struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
	// SHA256 and Size are of the object at URL: the stored gzip. JSONLSHA256 is of the
	// JSONL inside, as in the manifest and the X-Chatvault-Sha256 header.
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	JSONLSHA256 string `json:"jsonlSha256"`
	Revision    int    `json:"revision"`
	Records     int64  `json:"records"`
	// VersionID is the object's version the URL is pinned to (the manifest's), when the
	// bucket keeps versions: the URL serves it whatever is put under the key later.
	VersionID string `json:"versionId,omitempty"`
}

// exportURL answers with a presigned URL of the day's stored export instead of its bytes,
// for clients that fetch large days straight from the bucket. The audit records the URL's
// issue; what is fetched through it is in the bucket's own access logs.
func (s *Server) exportURL(w http.ResponseWriter, r *http.Request, tok archiver.Token, day archiver.Day, rec *audit.Record) error {
	if s.Presign == nil {
		return errorf(EInvalidRequest, "delivery \"url\" needs an S3 store; use the default delivery")
	}
	m, err := s.Exports.Latest(r.Context(), tok.Org, day)
	if err != nil {
		return err
	}
	if m == nil {
		return s.pending(r.Context(), tok.Org, day)
	}
	if m.Data.Keyless() {
		// A day without records sealed in layout 3 has no object to presign: the answer
		// is the day itself, the constant empty gzip (or nothing, decompressed), with the
		// headers of a streamed export. A client that asked for a URL tells the two apart
		// by the Content-Type (application/x-ndjson, not application/json).
		rec.Revision = m.Revision
		obj, err := servedData(m)
		if err != nil {
			return s.mismatch(tok.Org, day, m.Key, err, "export")
		}
		return s.sendObject(w, r, tok, day, m, obj, emptyReader(), rec, "export")
	}
	u, expires, err := s.Presign(r.Context(), m.Data.Key, m.Data.VersionID)
	if err != nil {
		return fmt.Errorf("presign %s: %w", m.Data.Key, err)
	}
	rec.Revision, rec.Encoding, rec.SHA256, rec.Complete = m.Revision, DeliveryURL, m.Data.SHA256, true
	h := manifestHeaders(w, m)
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// The presigned URL is pasted as printed: no \u0026 for its '&' (see newJSONEncoder).
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(URLDelivery{
		URL: u, ExpiresAt: expires.UTC(), SHA256: m.Data.SHA256, Size: m.Data.Size,
		JSONLSHA256: m.Data.JSONLSHA256, Revision: m.Revision, Records: m.Data.Records, VersionID: m.Data.VersionID,
	})
}

// manifestHeaders sets the headers that identify the export served, whatever the delivery.
func manifestHeaders(w http.ResponseWriter, m *archiver.StoredManifest) http.Header {
	h := w.Header()
	setManifestHeaders(h, m)
	return h
}

func setManifestHeaders(h http.Header, m *archiver.StoredManifest) {
	h.Set(HeaderSHA256, m.Data.JSONLSHA256)
	h.Set(HeaderRevision, strconv.Itoa(m.Revision))
	h.Set(HeaderRecords, strconv.FormatInt(m.Data.Records, 10))
	h.Set(HeaderManifest, hex.EncodeToString(m.SHA256[:]))
	h.Set("Cache-Control", "no-store")
}
