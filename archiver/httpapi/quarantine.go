package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// QuarantineExports is what GET /v1/exports/{date}/quarantine reads (ledger.Ledger):
// the organization's latest manifest of the day and its quarantine object, rc nil when
// the manifest names none. An Exports without it answers 404.
type QuarantineExports interface {
	OpenQuarantine(ctx context.Context, org string, day archiver.Day) (*archiver.StoredManifest, io.ReadCloser, error)
}

// emptySHA256 is the SHA-256 of no bytes: the body of a day without quarantined lines.
var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// handleQuarantine serves GET /v1/exports/{date}/quarantine: the day's quarantined lines
// attributed to the token's organization (issue 12), audited like an export.
func (s *Server) handleQuarantine(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		// As for a task download: net/http would run the GET and drop the body, and the
		// audit would record a transfer of bytes that never left.
		w.Header().Set("Allow", http.MethodGet)
		s.Error(w, r, errorf(EMethodNotAllowed, "HEAD is not allowed here; allowed: GET"))
		return
	}
	s.auditedStream(w, r, audit.ActionQuarantine, s.quarantine)
}

// quarantine sends the organization's quarantine object of the day like an export (gzip
// as stored or decompressed, checked against the manifest before it is whole). A sealed
// day without quarantined lines of the organization is 200 with an empty body (and
// X-Chatvault-Records: 0), as an empty day's export is: "none" is an answer, not a missing
// resource. A day not sealed yet is export_pending, one before the archival start or of
// an organization that does not archive export_not_found, as for the manifest.
func (s *Server) quarantine(w http.ResponseWriter, r *http.Request, tok archiver.Token, rec *audit.Record) error {
	rec.Date = r.PathValue("date")
	day, err := parseDay(rec.Date)
	if err != nil {
		return err
	}
	if err := s.checkDay(r.Context(), tok.Org, day); err != nil {
		return err
	}
	qe, ok := s.Exports.(QuarantineExports)
	if !ok {
		return errorf(EExportNotFound, "this server does not serve quarantined lines")
	}
	m, rc, err := qe.OpenQuarantine(r.Context(), tok.Org, day)
	if errors.Is(err, ledger.ErrNotSealed) {
		return s.pending(r.Context(), tok.Org, day)
	}
	if err != nil {
		return err
	}
	rec.Revision = m.Revision
	if rc == nil {
		h := manifestHeaders(w, m)
		h.Set(HeaderSHA256, emptySHA256)
		h.Set(HeaderRecords, "0")
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		rec.Encoding, rec.SHA256, rec.Complete = "identity", emptySHA256, true
		return nil
	}
	defer rc.Close()
	return s.sendObject(w, r, tok, day, m, *m.Quarantined, rc, rec, "quarantine")
}
