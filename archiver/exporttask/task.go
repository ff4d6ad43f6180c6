package exporttask

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// State is a task's state.
type State string

// Task states.
const (
	StateQueued    State = "queued"    // waiting for a worker (also after a restart)
	StateRunning   State = "running"   // a worker is reading the sealed days
	StateCompleted State = "completed" // the result is stored; status calls hand out links
	StateFailed    State = "failed"    // see Status.Error; nothing was stored
	StateExpired   State = "expired"   // the result passed its retention and is deleted
)

// Errors of the engine, mapped to API errors by httpapi.
var (
	// ErrTaskNotFound: no such task for this organization (API 404). Another
	// organization's task is not found either.
	ErrTaskNotFound = errors.New("export task not found")
	// ErrNoArchive: the organization does not archive (API 404 export_not_found).
	ErrNoArchive = errors.New("no archive for this organization")
	// ErrNotReady: the task has no result to download yet (API 409 export_pending).
	ErrNotReady = errors.New("export task has no result yet")
	// ErrExpired: the result passed its retention and is gone (API 410 export_expired).
	ErrExpired = errors.New("export task result has expired")
	// ErrUntrustedCompletion: the task's completed.json is not signed by a trusted key
	// (Engine.TrustedKeys), so the result and hash it names may be anyone's: the result is
	// never served (API 500 internal, counted as an integrity failure).
	ErrUntrustedCompletion = errors.New("export task completion record is not signed by a trusted key")
)

// UnsealedError lists days of a range that are not sealed (API 409 export_pending). An
// export is the union of sealed, hashed days; one with a hole would look complete and
// not be, so a task is refused until every day of its range is sealed.
type UnsealedError struct {
	// Days are the first unsealed days of the range (at most five, oldest first).
	Days []ledger.DayStatus
	// Count is how many days of the range are not sealed (len(Days) when zero).
	Count int
}

func (e *UnsealedError) Error() string {
	n := max(e.Count, len(e.Days))
	var b strings.Builder
	fmt.Fprintf(&b, "%d day(s) of the range are not sealed:", n)
	for i, d := range e.Days {
		if i == 5 {
			break
		}
		fmt.Fprintf(&b, " %s (%s)", d.Day, d.State)
	}
	if n > 5 {
		fmt.Fprintf(&b, " and %d more", n-5)
	}
	return b.String()
}

// record is request.json: what was asked, by whom, when.
type record struct {
	TaskID    string    `json:"taskId"`
	Org       string    `json:"org"`
	OrgName   string    `json:"orgName"`
	CreatedAt time.Time `json:"createdAt"`
	// CreatedBy is the API token's id, or "cli:<user>" for chatvault export-task.
	CreatedBy string  `json:"createdBy"`
	Request   Request `json:"request"`
	// UserEmails are the addresses Request.ToUsers had in the directory at creation, in
	// order: who the link is mailed to besides Request.ToEmails.
	UserEmails []string `json:"userEmails,omitempty"`
	// Signature, when the engine that created the task has a signing key, is over this
	// record's encoding without it (archiver.SignBody), as completed.json's is: the run
	// reads its days, filters, addresses and link holder from here, so whoever could
	// rewrite it unchecked could have the link to the result mailed to themselves.
	Signature *archiver.Signature `json:"signature,omitempty"`

	// sha256 is of request.json as load read it: what the completion binds (RequestSHA256).
	sha256 string
	// stored is request.json as load read it: its signature is checked over these bytes
	// (archiver.UnsignedBody), and newer names a field in them this version does not know.
	stored []byte
}

// Result describes a task's stored result.
type Result struct {
	// Filename is what a download is named: <taskId><extension>.
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	// Size and SHA256 are of the result's bytes, exactly as downloaded.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Events is the number of records the result holds.
	Events int64 `json:"events"`
}

// SourceDay is a sealed day a result was made from: the manifest it read, so that every
// export traces back to sealed, hashed days.
type SourceDay struct {
	Date           string `json:"date"`
	Revision       int    `json:"revision"`
	ManifestSHA256 string `json:"manifestSha256"`
	// JSONLSHA256 and Records are the sealed day's; the engine checked the bytes it read
	// against them.
	JSONLSHA256 string `json:"jsonlSha256"`
	Records     int64  `json:"records"`
	// Selected is how many of the day's records passed the filters.
	Selected int64 `json:"selected"`
	// AttachmentIndex, for a task with Request.AttachmentIndex, names the revision of the
	// day's attachment index the task read (nil: the day has none).
	AttachmentIndex *IndexRef `json:"attachmentIndex,omitempty"`
}

// IndexRef names a stored revision of a day's attachment index and sums its outcomes.
type IndexRef struct {
	Key      string `json:"key"`
	SHA256   string `json:"sha256"`
	Revision int    `json:"revision"`
	Captured int    `json:"captured"`
	Failed   int    `json:"failed"`
}

// completion is completed.json.
type completion struct {
	CompletedAt time.Time   `json:"completedAt"`
	ResultKey   string      `json:"resultKey"`
	Result      Result      `json:"result"`
	SourceDays  []SourceDay `json:"sourceDays"`
	EmailedTo   []string    `json:"emailedTo,omitempty"`
	// NoMatch says, when no record matched, which filters found nothing in which days.
	NoMatch string `json:"noMatch,omitempty"`
	// MessageIDsNotFound are the request's messageIds that no record of the range carries.
	MessageIDsNotFound []string `json:"messageIdsNotFound,omitempty"`
	// TermReport is the search term report of a task with terms.
	TermReport []TermCount `json:"termReport,omitempty"`
	// RequestSHA256 is of the request.json the task ran (its range and filters), so that
	// the signature covers the request too: the status shows it beside the result, and a
	// request rewritten after the run (a filter dropped) would have a filtered result read
	// as a complete one. Empty in completions made before it was recorded.
	RequestSHA256 string `json:"requestSha256,omitempty"`
	// Signature, when the engine has a signing key, is over this record's encoding without
	// it (archiver.SignBody): the download checks the result's bytes against Result.SHA256,
	// so whoever could write this record unchecked could have any bytes served.
	Signature *archiver.Signature `json:"signature,omitempty"`
}

// signingBody is r's encoding without its signature, what the signature covers.
func (r record) signingBody() ([]byte, error) {
	r.Signature = nil
	return json.Marshal(r)
}

// sign sets r's signature by key; a nil key leaves it unsigned.
func (r *record) sign(key ed25519.PrivateKey) error {
	if key == nil {
		return nil
	}
	body, err := r.signingBody()
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	r.Signature = archiver.SignBody(key, body)
	return nil
}

// check returns why r cannot be the request of the task org/id: it names another
// organization or task (its run would read those days, or mint links for that task), or,
// with trusted keys, its signature does not check. An unsigned record passes unless
// signed is set: tasks finished before requests were signed keep their records, bound
// since by their completion's RequestSHA256, while a task still to run must have a
// signed request. Errors wrap ErrUntrustedCompletion.
func (r record) check(org, id string, trusted []ed25519.PublicKey, signed bool) error {
	key := "tasks/" + org + "/" + id + "/request.json"
	if r.Org != org || r.TaskID != id {
		return fmt.Errorf("%w: %s names organization %q and task %q", ErrUntrustedCompletion, key, r.Org, r.TaskID)
	}
	if len(trusted) == 0 || r.Signature == nil && !signed {
		return nil
	}
	body, err := storedBody(r.stored, r.signingBody)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedCompletion, err)
	}
	if err := archiver.CheckSignature(key, r.Signature, body, trusted); err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedCompletion, err)
	}
	return nil
}

// storedBody is what the signature of an object read as stored covers: stored without
// its signature member (archiver.UnsignedBody), every field kept, those of a newer
// version included; encode makes it for an object built in memory (stored nil).
func storedBody(stored []byte, encode func() ([]byte, error)) ([]byte, error) {
	if stored == nil {
		return encode()
	}
	return archiver.UnsignedBody(stored)
}

// newer returns the first field of stored, a task record's bytes, that v's type does not
// know, or "" when there is none: a newer chatvault wrote it. A request with such a field
// asks for something this version cannot do (a filter it would not apply).
func newer(stored []byte, v any) string {
	dec := json.NewDecoder(bytes.NewReader(stored))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return ""
	}
	msg := err.Error()
	if _, field, ok := strings.Cut(msg, "json: unknown field "); ok {
		return strings.Trim(field, `"`)
	}
	return ""
}

// signingBody is c's encoding without its signature, what the signature covers.
func (c completion) signingBody() ([]byte, error) {
	c.Signature = nil
	return json.Marshal(c)
}

// sign sets c's signature by key; a nil key leaves it unsigned.
func (c *completion) sign(key ed25519.PrivateKey) error {
	if key == nil {
		return nil
	}
	body, err := c.signingBody()
	if err != nil {
		return fmt.Errorf("sign completion: %w", err)
	}
	c.Signature = archiver.SignBody(key, body)
	return nil
}

// check verifies that the result c names is the task's own (ownResult) and c's signature
// against trusted (none: not required). Errors wrap ErrUntrustedCompletion.
func (c completion) check(org, id string, stored []byte, trusted []ed25519.PublicKey) error {
	if err := c.ownResult(org, id); err != nil {
		return err
	}
	body, err := storedBody(stored, c.signingBody)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedCompletion, err)
	}
	if err := archiver.CheckSignature("tasks/"+org+"/"+id+"/completed.json", c.Signature, body, trusted); err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedCompletion, err)
	}
	return nil
}

// ownResult checks that the result c names is in the task's own folder, so that neither
// a download nor the janitor's delete can be pointed at another object (a sealed day).
func (c completion) ownResult(org, id string) error {
	if !strings.HasPrefix(c.ResultKey, taskPrefix(org, id)+"result-") {
		return fmt.Errorf("%w: tasks/%s/%s/completed.json names result %q outside the task", ErrUntrustedCompletion, org, id, c.ResultKey)
	}
	return nil
}

// failure is failed.json.
type failure struct {
	FailedAt time.Time `json:"failedAt"`
	Error    string    `json:"error"`
}

// attempt is attempt-<n>.json.
type attempt struct {
	StartedAt time.Time `json:"startedAt"`
	Attempt   int       `json:"attempt"`
}

// Status is a task as GET /v1/exports/tasks/{id} shows it.
type Status struct {
	TaskID    string    `json:"taskId"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"createdAt"`
	Request   Request   `json:"request"`
	// Progress counts sealed days read of the range (days done / total).
	Progress Progress `json:"progress"`
	// Attempts is how many times a worker started the task (more than one after restarts).
	Attempts int `json:"attempts"`
	// HandedBack is how many of those attempts a shutdown cut short (the replica released
	// the task); they do not count towards the three a task that keeps stopping the
	// process gets.
	HandedBack  int       `json:"handedBack,omitempty"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	// ExpiresAt is when the result is deleted (completion + exports.retention).
	ExpiresAt  time.Time   `json:"expiresAt,omitzero"`
	Result     *Result     `json:"result,omitempty"`
	SourceDays []SourceDay `json:"sourceDays,omitempty"`
	EmailedTo  []string    `json:"emailedTo,omitempty"`
	// NoMatch, on a completed task whose result holds no record (events 0), says so
	// plainly: the filters and the days searched.
	NoMatch string `json:"noMatch,omitempty"`
	// MessageIDsNotFound, on a completed task, are the request's messageIds that no record
	// of the range's sealed days carries (whatever the other filters kept): a request for
	// named messages learns which of them the archive does not hold. Unknown chat, user and
	// custodian ids are refused when the task is created; a message id is known only by
	// reading the records, which the task does.
	MessageIDsNotFound []string `json:"messageIdsNotFound,omitempty"`
	// TermReport is the search term report of a task with terms: per term, the records,
	// chats and custodians (senders) it matched, and the records it alone matched.
	TermReport []TermCount `json:"termReport,omitempty"`
	Error      string      `json:"error,omitempty"`
	// URL and URLExpiresAt: a download link, new on every call, while completed.
	URL          string    `json:"url,omitempty"`
	URLExpiresAt time.Time `json:"urlExpiresAt,omitzero"`

	org       string
	resultKey string
	// untrusted is why the task's completion record was refused (wraps
	// ErrUntrustedCompletion); the status then reads failed.
	untrusted error
	// refused: the task has no outcome yet and its request was refused (record.check);
	// its attempt stores the failure, so that the scans stop queueing it.
	refused bool
}

// Progress is days done of days total.
type Progress struct {
	DaysDone  int `json:"daysDone"`
	DaysTotal int `json:"daysTotal"`
}

// ResultExtension is the file name extension of a completed task's result (".jsonl.gz",
// ".json.gz", ".zip"): what a file it is saved to should end with, since tools go by the
// name. Empty while the task has no result.
func (s *Status) ResultExtension() string {
	name := path.Base(s.resultKey)
	const head = len("result-") + 2*sha256.Size
	if s.resultKey == "" || len(name) <= head {
		return ""
	}
	return name[head:]
}

func taskPrefix(org, id string) string { return archiver.TasksPrefix + org + "/" + id + "/" }

func requestKey(org, id string) string { return taskPrefix(org, id) + "request.json" }

func attemptKey(org, id string, n int) string {
	return fmt.Sprintf("%sattempt-%04d.json", taskPrefix(org, id), n)
}

func resultKey(org, id, sum, ext string) string { return taskPrefix(org, id) + "result-" + sum + ext }

func completedKey(org, id string) string { return taskPrefix(org, id) + "completed.json" }

func failedKey(org, id string) string { return taskPrefix(org, id) + "failed.json" }

// putJSON creates key holding v, once.
func putJSON(ctx context.Context, s archiver.Store, key string, v any) error {
	b, err := encodeJSON(key, v)
	if err != nil {
		return err
	}
	return putBytes(ctx, s, key, b)
}

// encodeJSON is v as putJSON stores it under key.
func encodeJSON(key string, v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	return append(b, '\n'), nil
}

// putBytes creates key holding b, create-only (the same bytes again are no change).
func putBytes(ctx context.Context, s archiver.Store, key string, b []byte) error {
	return s.Create(ctx, key, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{})
}

// getJSONSum is getJSONBytes that also returns the hex SHA-256 of the bytes read.
func getJSONSum(ctx context.Context, s archiver.Store, key string, v any) (string, []byte, error) {
	b, err := getJSONBytes(ctx, s, key, v)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}

func getJSON(ctx context.Context, s archiver.Store, key string, v any) error {
	_, err := getJSONBytes(ctx, s, key, v)
	return err
}

// getJSONBytes decodes the object at key into v and returns its bytes.
func getJSONBytes(ctx context.Context, s archiver.Store, key string, v any) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return b, nil
}

// load reads a task's state from the store: its request, attempts, and outcome. A
// completion that does not check against trusted (see completion.check) makes the task
// failed, with nothing of what it names.
func load(ctx context.Context, s archiver.Store, org, id string, trusted []ed25519.PublicKey) (*record, *Status, error) {
	if !ValidID(id) {
		return nil, nil, ErrTaskNotFound
	}
	var rec record
	sum, stored, err := getJSONSum(ctx, s, requestKey(org, id), &rec)
	if err != nil {
		if errors.Is(err, archiver.ErrNotFound) {
			return nil, nil, ErrTaskNotFound
		}
		return nil, nil, err
	}
	rec.sha256, rec.stored = sum, stored
	st := &Status{TaskID: id, State: StateQueued, CreatedAt: rec.CreatedAt, Request: rec.Request, org: org}
	from, _ := archiver.ParseDay(rec.Request.From)
	to, _ := archiver.ParseDay(rec.Request.To)
	st.Progress.DaysTotal = dayCount(from, to)
	var done, failed bool
	err = s.List(ctx, taskPrefix(org, id), func(key string) error {
		name := key[len(taskPrefix(org, id)):]
		switch {
		case strings.HasPrefix(name, "attempt-"):
			st.Attempts++
		case strings.HasPrefix(name, "handback-"):
			st.HandedBack++
		case name == "completed.json":
			done = true
		case name == "failed.json":
			failed = true
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	switch {
	case done:
		var c completion
		stored, err := getJSONBytes(ctx, s, completedKey(org, id), &c)
		if err != nil {
			return nil, nil, err
		}
		if err := c.check(org, id, stored, trusted); err != nil {
			st.State, st.untrusted = StateFailed, err
			st.Error = "the task's completion record is not signed by a trusted key, so its result is not served " +
				"(a forgery, or a task completed before completions were signed: run the task again)"
			break
		}
		if c.RequestSHA256 != "" && c.RequestSHA256 != rec.sha256 {
			st.State = StateFailed
			st.untrusted = fmt.Errorf("%w: tasks/%s/%s/request.json is not the request the task ran (SHA-256 %s, its completion names %s)",
				ErrUntrustedCompletion, org, id, rec.sha256, c.RequestSHA256)
			st.Error = "the task's request record is not the one its completion names (rewritten in the store), " +
				"so its result is not served: run the task again"
			break
		}
		st.State, st.CompletedAt, st.Result, st.SourceDays, st.EmailedTo = StateCompleted, c.CompletedAt, &c.Result, c.SourceDays, c.EmailedTo
		st.NoMatch, st.TermReport, st.MessageIDsNotFound = c.NoMatch, c.TermReport, c.MessageIDsNotFound
		st.resultKey = c.ResultKey
		st.Progress.DaysDone = st.Progress.DaysTotal
	case failed:
		var f failure
		if err := getJSON(ctx, s, failedKey(org, id), &f); err != nil {
			return nil, nil, err
		}
		st.State, st.Error = StateFailed, f.Error
	}
	// A task still to run must have a signed request (with trusted keys): its run would
	// act on whatever the record says.
	if err := rec.check(org, id, trusted, !done && !failed); err != nil {
		st.refused = !done && !failed
		st.State, st.untrusted, st.Result, st.SourceDays, st.resultKey = StateFailed, err, nil, nil, ""
		st.CompletedAt, st.NoMatch, st.TermReport, st.EmailedTo, st.MessageIDsNotFound = time.Time{}, "", nil, nil, nil
		st.Error = "the task's request record is not the one it was created with (it names another organization or task, " +
			"or is not signed by a trusted key), so the task is not run and no result is served: create the task again"
		if rec.Signature == nil && rec.Org == org && rec.TaskID == id {
			st.Error = "the task's request record is not signed, so the task is not run and no result is served (a server " +
				"that trusts signing keys signs the requests it creates with signing.keyFile; one created without it, or by " +
				"a release that did not sign requests, is refused): create the task again"
		}
	} else if field := newer(rec.stored, &record{}); field != "" && !done && !failed {
		// A newer chatvault made it (the other replica of a rolling upgrade, or one rolled
		// back from): its request asks for what this version does not know, a filter it
		// would not apply. Its signature checks, over every field: it is no forgery.
		st.refused = true
		st.State = StateFailed
		st.untrusted = fmt.Errorf("tasks/%s/%s/request.json has field %q, which this version of chatvault does not know: made by a newer version", org, id, field)
		st.Error = fmt.Sprintf("the task was created by a newer version of chatvault (its request has %q, which this "+
			"version does not know), so this version does not run it: run every replica on the newer version and "+
			"create the task again", field)
	}
	return &rec, st, nil
}
