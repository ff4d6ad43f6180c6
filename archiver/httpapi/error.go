package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// Error codes of the API, as DESIGN.md and openapi.json fix them.
const (
	EInvalidRequest    = "invalid_request"
	EInvalidToken      = "invalid_token"
	EInsufficientScope = "insufficient_scope"
	EExportNotFound    = "export_not_found"
	EExportPending     = "export_pending"
	ERateLimited       = "rate_limited"
	EInternal          = "internal"
	// Export tasks.
	EExportExpired = "export_expired" // the task's result passed its retention and is deleted
	ELinkExpired   = "link_expired"   // a download link past its expiry: ask the task's status for a new one
	EInvalidLink   = "invalid_link"   // a download link whose signature does not check
	ETooManyTasks  = "too_many_tasks" // the organization has exports.maxTasksPerOrg tasks queued or running
	EUnknownIDs    = "unknown_ids"    // chat, user or custodian ids the range's sealed days do not know (unknownIds lists them)
	// EAttachmentNotFound: no attachment index of the day, or no index of the
	// organization names the file (whoever else may have it).
	EAttachmentNotFound = "attachment_not_found"
	// EUnavailable is /readyz's 503: the replica should get no traffic (the audit cannot
	// be written, or the store, directory or tokens cannot be read); and any endpoint's,
	// with Retry-After, when the store throttled the requests made to answer it
	// (archiver.ErrStoreBusy).
	EUnavailable = "unavailable"
)

// StoreBusyRetryAfter is the Retry-After of a 503 unavailable for a throttling store: S3
// asks for backoff, and a throttling episode (a nightly seal's burst) lasts seconds to
// minutes.
const StoreBusyRetryAfter = 30 * time.Second

var statusOf = map[string]int{
	EInvalidRequest:     http.StatusBadRequest,
	EInvalidToken:       http.StatusUnauthorized,
	EInsufficientScope:  http.StatusForbidden,
	EExportNotFound:     http.StatusNotFound,
	EExportPending:      http.StatusConflict,
	ERateLimited:        http.StatusTooManyRequests,
	EInternal:           http.StatusInternalServerError,
	EExportExpired:      http.StatusGone,
	ELinkExpired:        http.StatusGone,
	EInvalidLink:        http.StatusForbidden,
	ETooManyTasks:       http.StatusTooManyRequests,
	EUnknownIDs:         http.StatusBadRequest,
	EAttachmentNotFound: http.StatusNotFound,
	EUnavailable:        http.StatusServiceUnavailable,
	ENotFound:           http.StatusNotFound,
	EMethodNotAllowed:   http.StatusMethodNotAllowed,
}

// Error is an error the client may see: a code and a safe message.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, is sent as Retry-After (export_pending, rate_limited).
	RetryAfter time.Duration
	// Field names the request field at fault, for invalid_request.
	Field string
	// UnknownIDs lists the ids at fault, for unknown_ids.
	UnknownIDs *exporttask.UnknownIDsError
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorCode returns the code and status of err: an *Error's own, invalid_token for
// archiver.ErrInvalidToken, internal for anything else.
func errorCode(err error) (*Error, int) {
	var e *Error
	var fe *exporttask.FieldError
	var ue *exporttask.UnsealedError
	var tm *exporttask.TooManyTasksError
	var wl *exporttask.WorkLimitError
	var uk *exporttask.UnknownIDsError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &uk):
		e = &Error{Code: EUnknownIDs, Message: uk.Error(), UnknownIDs: uk}
	case errors.As(err, &tm):
		e = &Error{Code: ETooManyTasks, Message: tm.Error(), RetryAfter: time.Minute}
	case errors.As(err, &fe):
		e = &Error{Code: EInvalidRequest, Message: fe.Error(), Field: fe.Field}
	case errors.As(err, &wl):
		e = &Error{Code: EInvalidRequest, Message: wl.Error(), Field: "to"}
	case errors.As(err, &ue):
		e = &Error{Code: EExportPending, Message: ue.Error(), RetryAfter: time.Hour}
	case errors.Is(err, exporttask.ErrTaskNotFound):
		e = errorf(EExportNotFound, "no such export task")
	case errors.Is(err, exporttask.ErrNoArchive):
		e = errorf(EExportNotFound, "no archive for this organization")
	case errors.Is(err, exporttask.ErrNotReady):
		e = &Error{Code: EExportPending, Message: "the export task has no result yet", RetryAfter: 10 * time.Second}
	case errors.Is(err, exporttask.ErrExpired):
		e = errorf(EExportExpired, "the export task's result has expired and is deleted")
	case errors.Is(err, exporttask.ErrLinkExpired):
		e = errorf(ELinkExpired, "the download link has expired; the task's status gives a new one")
	case errors.Is(err, exporttask.ErrLinkInvalid):
		e = errorf(EInvalidLink, "the download link is not valid")
	case errors.Is(err, ledger.ErrUntrustedManifest):
		e = errorf(EInternal, "the stored manifest of this day is not the one that was sealed (its place or its signature "+
			"does not check), so nothing of it was sent; the server reported it to its operator (chatvault verify shows the object)")
	case errors.Is(err, ledger.ErrBehindWitness):
		e = errorf(EInternal, "the store holds fewer of this organization's sealed days than the witness kept outside it shows "+
			"(sealed days deleted), so no day is reported as not sealed yet; the server reported it to its operator")
	case errors.Is(err, exporttask.ErrUntrustedCompletion):
		e = errorf(EInternal, "the export task's stored completion record is not signed by a trusted key (a forgery, or a task "+
			"completed before completions were signed), so nothing of its result was sent; run the task again")
	case errors.Is(err, archiver.ErrStoreBusy):
		e = &Error{Code: EUnavailable, Message: "the archive's store is throttling requests (S3 503 SlowDown); try again after Retry-After", RetryAfter: StoreBusyRetryAfter}
	case errors.Is(err, archiver.ErrInvalidToken):
		e = errorf(EInvalidToken, "the access token is missing, malformed, revoked or expired")
	default:
		e = errorf(EInternal, "internal error")
	}
	return e, statusOf[e.Code]
}

// Error writes err as the API's JSON error. It is the one place that maps errors to
// statuses; internal errors are logged with their detail and shown without it.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	e, status := errorCode(err)
	switch {
	case errors.Is(err, ledger.ErrUntrustedManifest):
		// A forged or misplaced manifest: tampering, like a data object that does not match.
		s.integrityFailures.Inc()
		s.log().Error("stored manifest is not the one sealed; not served", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, exporttask.ErrUntrustedCompletion):
		// A forged task record names the bytes to serve and their hash: tampering, like a
		// forged manifest.
		s.integrityFailures.Inc()
		s.log().Error("export task completion record is not trusted; result not served", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, ledger.ErrBehindWitness):
		s.integrityFailures.Inc()
		s.log().Error("the store lost sealed days the witness shows; not answered as pending", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, archiver.ErrStoreBusy):
		s.log().Warn("store throttling: answered 503", "method", r.Method, "path", r.URL.Path, "err", err)
	case status == http.StatusInternalServerError:
		s.log().Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	h.Del("Content-Encoding")
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if e.Code == EInvalidToken {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if e.Code == EInsufficientScope {
		h.Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error      string                      `json:"error"`
		Message    string                      `json:"message"`
		Field      string                      `json:"field,omitempty"`
		UnknownIDs *exporttask.UnknownIDsError `json:"unknownIds,omitempty"`
	}{e.Code, e.Message, e.Field, e.UnknownIDs})
}
