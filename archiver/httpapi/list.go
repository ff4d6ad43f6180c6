package httpapi

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// singleParams refuses a query naming one of names twice: url.Values.Get takes the
// first, while a proxy, a log or a reviewer may read the last, as with a body's field
// given twice (ambiguousField).
func singleParams(q url.Values, names ...string) error {
	for _, n := range names {
		if len(q[n]) > 1 {
			return &Error{Code: EInvalidRequest, Field: n, Message: n + ": given twice"}
		}
	}
	return nil
}

// dayRange reads ?from=&to= (inclusive), bounded by MaxRange.
func (s *Server) dayRange(r *http.Request) (archiver.Day, archiver.Day, error) {
	q := r.URL.Query()
	if err := singleParams(q, "from", "to"); err != nil {
		return archiver.Day{}, archiver.Day{}, err
	}
	from, err := parseDay(q.Get("from"))
	if err != nil {
		return from, from, errorf(EInvalidRequest, "from: a day YYYY-MM-DD is required")
	}
	to, err := parseDay(q.Get("to"))
	if err != nil {
		return from, to, errorf(EInvalidRequest, "to: a day YYYY-MM-DD is required")
	}
	if to.Before(from) {
		return from, to, errorf(EInvalidRequest, "to is before from")
	}
	if to.Start().Sub(from.Start()).Hours()/24 >= float64(s.MaxRange) {
		return from, to, errorf(EInvalidRequest, "the range exceeds %d days", s.MaxRange)
	}
	return from, to, nil
}

// DayJSON is one day of GET /v1/exports.
type DayJSON struct {
	Date     string `json:"date"`
	State    string `json:"state"`
	Revision int    `json:"revision,omitempty"`
	Records  int64  `json:"records"`
	// SHA256 is of the JSONL, StoredSHA256 of the stored gzip; ManifestSHA256 of the manifest.
	SHA256         string `json:"sha256,omitempty"`
	StoredSHA256   string `json:"storedSha256,omitempty"`
	ManifestSHA256 string `json:"manifestSha256,omitempty"`
	Size           int64  `json:"size,omitempty"`
	SealedAt       string `json:"sealedAt,omitempty"`
	// QuarantinedLines is how many of the day's quarantined lines are the organization's
	// (GET /v1/exports/{date}/quarantine serves them); absent when none.
	QuarantinedLines int64 `json:"quarantinedLines,omitempty"`
}

func (s *Server) handleExports(w http.ResponseWriter, r *http.Request, tok archiver.Token) error {
	from, to, err := s.dayRange(r)
	if err != nil {
		return err
	}
	// Only days that can have an export are listed: from the archival start, up to today,
	// and the sealed days the directory no longer archives (before an archivalStart moved
	// later, archival turned off, the organization gone), which the export serves too
	// (checkDay). The range is read once, from `from`: the ledger's listing costs nothing
	// for the days without objects.
	if today := archiver.DayOf(s.now()); to.After(today) {
		to = today
	}
	start, notArchived := s.archivalStart(r.Context(), tok.Org)
	var e *Error
	if notArchived != nil && (!errors.As(notArchived, &e) || e.Code != EExportNotFound) {
		return notArchived
	}
	out := struct {
		Org  string    `json:"org"`
		Days []DayJSON `json:"days"`
	}{Org: tok.Org, Days: []DayJSON{}}
	if to.Before(from) {
		return writeJSON(w, out)
	}
	rows, err := s.Exports.Status(r.Context(), tok.Org, from, to)
	if err != nil {
		return err
	}
	// A day without a manifest lists as pending: not when the witness shows that the
	// store lost sealed days of the organization (see pending).
	if s.Witnessed != nil && slices.ContainsFunc(rows, func(row ledger.DayStatus) bool { return row.Manifest == nil }) {
		if err := s.Witnessed(r.Context(), tok.Org); err != nil {
			return err
		}
	}
	for _, row := range rows {
		if (notArchived != nil || row.Day.Before(start)) && row.Manifest == nil {
			continue // not archived as the directory stands, and nothing sealed
		}
		d := DayJSON{Date: row.Day.String(), State: string(row.State)}
		if m := row.Manifest; m != nil {
			// A day without records sealed in layout 3 stores no gzip: storedSha256 is
			// then the one the export serves, the constant empty gzip's.
			data, _ := servedData(m)
			d.Revision, d.Records, d.SHA256, d.StoredSHA256 = m.Revision, m.Data.Records, m.Data.JSONLSHA256, data.SHA256
			d.Size, d.SealedAt = m.Data.JSONLSize, m.SealedAt
			d.ManifestSHA256 = hex.EncodeToString(m.SHA256[:])
			if q := m.Quarantined; q != nil {
				d.QuarantinedLines = q.Records
			}
		}
		// A failure's message may name internal keys and hosts: the state says enough.
		out.Days = append(out.Days, d)
	}
	if notArchived != nil && len(out.Days) == 0 {
		return notArchived // nothing sealed to show: the answer it always was
	}
	return writeJSON(w, out)
}

func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request, tok archiver.Token) error {
	day, err := parseDay(r.PathValue("date"))
	if err != nil {
		return err
	}
	if lk, ok := s.Exports.(latestKeyer); ok && r.Method == http.MethodHead {
		return s.headManifest(w, r, tok, day, lk)
	}
	if err := s.checkDay(r.Context(), tok.Org, day); err != nil {
		return err
	}
	m, err := s.Exports.Latest(r.Context(), tok.Org, day)
	if err != nil {
		return err
	}
	if m == nil {
		return s.pending(r.Context(), tok.Org, day)
	}
	b, err := orgManifest(w, m)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}

// latestKeyer is an Exports that can find the key of a day's latest manifest from a
// listing, without reading it (ledger.Ledger.LatestKey).
type latestKeyer interface {
	LatestKey(ctx context.Context, org string, day archiver.Day) (string, error)
}

// headManifest answers HEAD of a day's manifest from the listing of the day's keys alone.
// net/http would otherwise run the GET and drop the body: every HEAD downloaded the
// manifest (up to 16 MiB), and a client polling with HEAD for the day to be sealed cost a
// download per poll. The status is GET's (sealed, pending, not archived); the headers
// are GET's but Content-Length and X-Chatvault-Manifest-Redacted, which only the
// manifest's bytes tell (a version 1 manifest is served redacted, re-encoded), and the
// manifest is not checked: a GET of a manifest that fails its check still answers 500.
func (s *Server) headManifest(w http.ResponseWriter, r *http.Request, tok archiver.Token, day archiver.Day, lk latestKeyer) error {
	if today := archiver.DayOf(s.now()); day.After(today) {
		return errorf(EInvalidRequest, "date %s is in the future", day)
	}
	key, err := lk.LatestKey(r.Context(), tok.Org, day)
	if err != nil {
		return err
	}
	start, err := s.archivalStart(r.Context(), tok.Org)
	if err == nil && day.Before(start) {
		err = errorf(EExportNotFound, "archival starts on %s", start)
	}
	// As checkDay: a day sealed before the archival start moved, or before the
	// organization stopped archiving, is still served.
	var e *Error
	if err != nil && (key == "" || !errors.As(err, &e) || e.Code != EExportNotFound) {
		return err
	}
	if key == "" {
		return s.pending(r.Context(), tok.Org, day)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleAudit lists the token's organization's access records: an auditor sees who read
// their organization's archive, never another's.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, tok archiver.Token) error {
	from, to, err := s.dayRange(r)
	if err != nil {
		return err
	}
	recs := []audit.Record{}
	errFull := errors.New("full")
	err = s.Audit.List(r.Context(), tok.Org, from, to, func(rec audit.Record) error {
		if rec.Org != tok.Org {
			return nil // List reads only the organization's segments; this is a second lock
		}
		recs = append(recs, rec)
		if len(recs) > 100000 {
			return errFull
		}
		return nil
	})
	if errors.Is(err, errFull) {
		return errorf(EInvalidRequest, "more than 100000 records: narrow the range")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, struct {
		Org     string         `json:"org"`
		Records []audit.Record `json:"records"`
	}{tok.Org, recs})
}
