package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
)

// Tasks is what the API uses of the export task engine (exporttask.Engine).
type Tasks interface {
	Create(ctx context.Context, org, by string, req exporttask.Request) (string, error)
	Status(ctx context.Context, org, id string) (*exporttask.Status, error)
	ListPage(ctx context.Context, org, after string, limit int) ([]*exporttask.Status, string, error)
	Link(base string, st *exporttask.Status, by string) (string, time.Time)
	CheckLink(id string, q url.Values) (org, by string, err error)
	OpenResult(ctx context.Context, org, id string) (*exporttask.Status, io.ReadCloser, error)
}

// minTaskBody bounds a task request at exports.maxIds' default: the longest ids, terms
// (200 bytes) and addresses of every list and a subject fit in less.
const minTaskBody = 64 << 10

// taskBodyPerID is what one index of every id list can take in a request (an id of up to
// 128 bytes in each of five lists, a term of 200, an address of 254, quoted and separated),
// so that raising exports.maxIds (MaxTaskIDs) to its 1,000 never makes a valid request a
// body too large.
const taskBodyPerID = 2 << 10

// maxTaskBody is the largest task request body the server reads.
func (s *Server) maxTaskBody() int64 {
	return max(minTaskBody, int64(s.MaxTaskIDs)*taskBodyPerID)
}

// taskHandler answers one task request with a status and a JSON value; the caller audits
// the request before anything is sent.
type taskHandler func(r *http.Request, tok archiver.Token, rec *audit.Record) (int, any, error)

// audited authenticates, runs h, stores the access record, and only then answers: a task
// request is never served unaudited. HEAD is refused, as for download links: net/http
// would run the GET and drop the body, and the audit would record an answer (a status
// with a new download link, a page of tasks) that was never sent.
func (s *Server) audited(action string, h taskHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if refuseHead(w, r, s) {
			return
		}
		rec := &audit.Record{Client: s.clientAddr(r), Action: action}
		status, v := 0, any(nil)
		err := s.gate(w, r, archiver.ScopeComplianceRead, rec, func(w http.ResponseWriter, r *http.Request, tok archiver.Token) error {
			if err := s.admit(); err != nil {
				return err
			}
			var err error
			status, v, err = h(r, tok, rec)
			return err
		})
		rec.Time, rec.Status, rec.Complete = s.now(), status, err == nil
		if err != nil {
			e, code := errorCode(err)
			rec.Status, rec.Error = code, e.Code
		}
		if rec.Org == "" {
			s.Error(w, r, err) // no valid token: refused, counted by the gate, not stored
			return
		}
		if aerr := s.Audit.Append(context.WithoutCancel(r.Context()), *rec); aerr != nil {
			s.log().Error("audit append failed", "err", aerr, "token", rec.TokenID, "action", action)
			err = aerr
		}
		if err != nil {
			s.Error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := newJSONEncoder(w)
		w.WriteHeader(status)
		enc.Encode(v)
	}
}

// baseURL starts download links: BaseURL (exports.baseURL) when set, else nothing, which
// makes the link relative (/v1/exports/tasks/…), resolved by the client against the
// address it called. Never the request's Host header: it is the client's to choose, and a
// link built from it would point wherever a forged header says.
func (s *Server) baseURL(*http.Request) string {
	return s.BaseURL
}

func (s *Server) createTask(r *http.Request, tok archiver.Token, rec *audit.Record) (int, any, error) {
	limit := s.maxTaskBody()
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return 0, nil, errorf(EInvalidRequest, "the body exceeds %d bytes", limit)
		}
		return 0, nil, errorf(EInvalidRequest, "the body could not be read")
	}
	if name, ok := ambiguousField(body, requestFields); ok {
		return 0, nil, &Error{Code: EInvalidRequest, Message: clip(name) + ": given twice, or a field name in another case", Field: clip(name)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req exporttask.Request
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return 0, nil, &Error{Code: EInvalidRequest, Message: te.Field + ": wrong type, want " + te.Type.String(), Field: te.Field}
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name = strings.Trim(name, `"`)
			return 0, nil, &Error{Code: EInvalidRequest, Message: "unknown field " + clip(name), Field: clip(name)}
		}
		return 0, nil, errorf(EInvalidRequest, "the body must be one JSON object with format and the optional from, to, since, until, chatIds, userIds, messageIds, terms, delivery, toEmails, subject")
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, nil, errorf(EInvalidRequest, "the body must hold one JSON object")
	}
	rec.Date = clip(req.From) + ".." + clip(req.To)
	id, err := s.Tasks.Create(r.Context(), tok.Org, tok.ID, req)
	if err != nil {
		return 0, nil, err
	}
	rec.TaskID = id
	if req.From == "" || req.To == "" {
		// The audit names the days the task reads: the range the defaults resolved to.
		if st, err := s.Tasks.Status(r.Context(), tok.Org, id); err == nil {
			rec.Date = clip(st.Request.From) + ".." + clip(st.Request.To)
		}
	}
	return http.StatusAccepted, struct {
		TaskID string `json:"taskId"`
	}{id}, nil
}

// requestFields are the JSON names of exporttask.Request's fields.
var requestFields = jsonFields(reflect.TypeFor[exporttask.Request]())

// jsonFields returns the JSON names of struct type t's fields.
func jsonFields(t reflect.Type) map[string]bool {
	m := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}

// ambiguousField returns the first member name of the body's object that encoding/json
// would read other than as written: one given twice (it keeps the last) or a request
// field's name in another case (it matches names regardless of case), fields being the
// request type's JSON names (jsonFields). Such a body means one thing to the server and
// another to a proxy, a log or a person reading it. Unknown names are left to
// DisallowUnknownFields, a body that is not an object to Decode.
func ambiguousField(body []byte, fields map[string]bool) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		name, _ := t.(string)
		folded := strings.ToLower(name)
		if seen[folded] {
			return name, true
		}
		seen[folded] = true
		if !fields[name] {
			for f := range fields {
				// EqualFold as encoding/json folds: the Kelvin sign is a k, ſ an s.
				if strings.EqualFold(f, name) {
					return name, true
				}
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

func clip(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func (s *Server) taskStatus(r *http.Request, tok archiver.Token, rec *audit.Record) (int, any, error) {
	id := r.PathValue("id")
	if id == "" {
		id = r.PathValue("leaf")
	}
	st, err := s.Tasks.Status(r.Context(), tok.Org, id)
	if err != nil {
		return 0, nil, err
	}
	rec.TaskID, rec.Date = st.TaskID, st.Request.From+".."+st.Request.To
	if st.State == exporttask.StateCompleted {
		// The link is this token's: revoking it ends the link (linkHolder).
		st.URL, st.URLExpiresAt = s.Tasks.Link(s.baseURL(r), st, tok.ID)
		rec.SHA256 = st.Result.SHA256
	}
	return http.StatusOK, st, nil
}

// listTasks answers a page of the organization's tasks, newest first: ?limit= (default
// exporttask.DefaultListLimit, at most exporttask.MaxListLimit) and ?after=, the cursor
// the previous page gave as next. A page costs its tasks, not every task ever made.
func (s *Server) listTasks(r *http.Request, tok archiver.Token, rec *audit.Record) (int, any, error) {
	q := r.URL.Query()
	if err := singleParams(q, "limit", "after"); err != nil {
		return 0, nil, err
	}
	limit := exporttask.DefaultListLimit
	if v := q.Get("limit"); v != "" || q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > exporttask.MaxListLimit {
			return 0, nil, &Error{Code: EInvalidRequest, Field: "limit",
				Message: "limit: a number of tasks from 1 to " + strconv.Itoa(exporttask.MaxListLimit)}
		}
		limit = n
	}
	list, next, err := s.Tasks.ListPage(r.Context(), tok.Org, q.Get("after"), limit)
	if errors.Is(err, exporttask.ErrBadCursor) {
		return 0, nil, &Error{Code: EInvalidRequest, Field: "after",
			Message: "after: not a cursor this list handed out (give the next of the previous page, or none)"}
	}
	if err != nil {
		return 0, nil, err
	}
	// The listing gives states; links come from each task's own status.
	return http.StatusOK, struct {
		Org   string               `json:"org"`
		Tasks []*exporttask.Status `json:"tasks"`
		Next  string               `json:"next,omitempty"`
	}{tok.Org, list, next}, nil
}

// handleExportsLeaf serves GET /v1/exports/{date}/manifest, /v1/exports/{date}/quarantine,
// /v1/exports/{date}/attachments, /v1/exports/tasks/{id} and
// /v1/exports/attachments/{sha256} from one pattern: they overlap (on
// /v1/exports/tasks/manifest, /v1/exports/attachments/attachments), which net/http
// refuses to register separately.
func (s *Server) handleExportsLeaf(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.PathValue("date") == "tasks" && s.Tasks != nil:
		s.audited(audit.ActionTaskStatus, s.taskStatus)(w, r)
	case r.PathValue("date") == "attachments":
		r.SetPathValue("sha256", r.PathValue("leaf"))
		s.handleAttachment(w, r)
	case r.PathValue("leaf") == "attachments":
		s.handleAttachmentIndex(w, r)
	case r.PathValue("leaf") == "manifest":
		s.authenticate(archiver.ScopeComplianceRead, s.handleManifest)(w, r)
	case r.PathValue("leaf") == "quarantine":
		s.handleQuarantine(w, r)
	default:
		s.Error(w, r, errorf(EExportNotFound, "no such resource"))
	}
}

// tokenByID is a Tokens that can find a token by its id (tokenfile.Set.ByID): what a
// download link names as its holder.
type tokenByID interface {
	ByID(id string, now time.Time) (archiver.Token, error)
}

// linkHolder checks that the holder a valid link was issued to may still read the
// organization's exports: an API token that is still in the tokens file, unexpired, of
// the organization and with the scope, or an operator's chatvault export-task
// ("cli:<user>", no token to revoke). A link outlives neither its token's revocation nor
// its expiry. A Tokens that cannot look tokens up by id accepts no link.
func (s *Server) linkHolder(org, by string) error {
	if strings.HasPrefix(by, "cli:") {
		return nil
	}
	refused := errorf(EInvalidLink, "the download link was issued to an API token that has been revoked, has expired or "+
		"no longer has the scope; ask the task's status with a valid token for a new link")
	ts, ok := s.Tokens.(tokenByID)
	if !ok {
		return refused
	}
	t, err := ts.ByID(by, s.now())
	if err != nil || t.Org != org || !t.HasScope(archiver.ScopeComplianceRead) {
		return refused
	}
	return nil
}

// handleDownload serves a task's result to whoever holds a valid link while the token it
// was issued to is valid (linkHolder): the link is the credential, as a presigned URL
// would be, but it dies with its token. It is audited like an export.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		// net/http would run the whole download and drop the body, and the audit would
		// record a complete transfer of bytes that never left. A link is for GET.
		w.Header().Set("Allow", http.MethodGet)
		s.Error(w, r, errorf(EMethodNotAllowed, "HEAD is not allowed here; allowed: GET"))
		return
	}
	rec := &audit.Record{Client: s.clientAddr(r), Action: audit.ActionTaskDownload, TaskID: r.PathValue("id")}
	rw := w.(*responseWriter)
	err := s.download(w, r, rec)
	rec.Time = s.now()
	rec.Status = rw.status
	if err != nil {
		e, status := errorCode(err)
		rec.Status, rec.Error = status, e.Code
	}
	if !exporttask.ValidID(rec.TaskID) {
		rec.TaskID = "" // keep arbitrary input out of the audit
	}
	if rec.Org == "" {
		s.Error(w, r, err) // no valid link: refused, counted, not stored
		return
	}
	if aerr := s.Audit.Append(context.WithoutCancel(r.Context()), *rec); aerr != nil {
		s.log().Error("audit append failed", "err", aerr, "action", rec.Action, "task", rec.TaskID)
		if rw.status == 0 {
			err = aerr
		}
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if !rec.Complete {
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, rec *audit.Record) error {
	// The link is the credential: one that does not check is refused like a bad token
	// (limited per address, counted, not stored); a valid one is audited under its
	// organization, refusals included.
	org, by, err := s.Tasks.CheckLink(rec.TaskID, r.URL.Query())
	if err != nil {
		if !errors.Is(err, exporttask.ErrLinkInvalid) && !errors.Is(err, exporttask.ErrLinkExpired) {
			return err
		}
		return s.refuseAnonymous(r, s.now(), reasonInvalidLink, err)
	}
	// The signature proves the organization and the holder: a refusal from here on is
	// audited under them.
	rec.Org, rec.TokenID = org, by
	// A valid link is limited like a valid token, by its own bucket (per task, at
	// http.tokenRate), never per address: behind a proxy every client shares one, and one
	// organization fetching its link in a loop must not lock out the others' links.
	if ok, wait := s.tokenLimit.allow("l:"+org+"/"+rec.TaskID, s.now()); !ok {
		return &Error{Code: ERateLimited, Message: "too many requests for this download", RetryAfter: wait}
	}
	if err := s.linkHolder(org, by); err != nil {
		return err
	}
	// A link's downloads count among its token's requests in progress: a link is that
	// token's credential too (TokenConcurrency).
	done, err := s.busy.enter(by)
	if err != nil {
		return err
	}
	defer done()
	if err := s.admit(); err != nil {
		return err
	}
	st, rc, err := s.Tasks.OpenResult(r.Context(), org, rec.TaskID)
	if err != nil {
		return err
	}
	defer rc.Close()
	rec.Date = st.Request.From + ".." + st.Request.To
	res := st.Result
	src := &watchedReader{r: rc}
	sent, err := s.sendVerified(w, src, res.Size, res.SHA256, func(h http.Header) {
		h.Set("Content-Type", res.ContentType)
		h.Set("Content-Disposition", `attachment; filename="`+res.Filename+`"`)
		h.Set("Content-Length", strconv.FormatInt(res.Size, 10))
		h.Set(HeaderSHA256, res.SHA256)
		h.Set("Cache-Control", "no-store")
		if b, err := hex.DecodeString(res.SHA256); err == nil {
			h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(b)+":")
		}
	})
	rec.Encoding = "identity"
	if err != nil {
		if err = classify(err, src); errors.Is(err, errMismatch) {
			s.integrityFailures.Inc()
			s.log().Error("task result does not match its status; not served", "org", org, "task", rec.TaskID, "err", err)
			return mismatchError("task result")
		}
		return err
	}
	rec.Bytes, rec.SHA256, rec.Complete = sent.bytes, sent.sha256, sent.complete
	s.bytesServed.WithLabelValues("task").Add(float64(sent.bytes))
	if !rec.Complete {
		// handleDownload cuts the connection: the client sees a short body.
		err := classify(sent.err, src)
		if errors.Is(err, errMismatch) {
			s.integrityFailures.Inc()
			s.log().Error("task result does not match its status; cut", "org", org, "task", rec.TaskID, "err", err)
		} else {
			s.log().Warn("task download incomplete", "org", org, "task", rec.TaskID, "sent", sent.bytes, "size", res.Size, "err", err)
		}
	}
	return nil
}
