package exporttask

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/model"
)

// Mailer sends a message (archiver/smtp in production). The engine only ever mails a
// download link, never the data.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, textBody string) error
}

// maxAttempts bounds how often a task is started: a task that took the process down
// (out of memory, a crash) twice fails the third time instead of doing it again forever.
const maxAttempts = 3

// Engine creates, runs and reports export tasks. Store and Directory are required.
type Engine struct {
	Store archiver.Store
	// Directory returns the current directory snapshot (which organizations archive).
	Directory func(ctx context.Context) (*model.Directory, error)
	// Formats maps a format name to its encoder; nil means jsonl only. cmd/chatvault adds
	// html and rsmf.
	Formats map[string]NewEncoder
	// Mailer enables delivery "email"; nil refuses it.
	Mailer Mailer
	// TrustedKeys, when set, are the keys every source day's manifest must be signed by
	// (archiver.Ledger.TrustedKeys): a task never exports a day whose manifest was forged.
	//
	// They are also the keys a completed task's completed.json must be signed by: it names
	// the result and the SHA-256 a download is checked against, so an unsigned or
	// untrusted one reads failed and its result is never served.
	TrustedKeys []ed25519.PublicKey
	// SigningKey, when set, signs completed.json (signing.keyFile).
	SigningKey ed25519.PrivateKey
	// Links signs download links; BaseURL (exports.baseURL) starts the links in e-mails.
	Links   Links
	BaseURL string
	// Limits bound requests; zero values mean 366 days and 25 ids.
	Limits Limits
	// Concurrency is how many tasks run at once (exports.concurrency, default 2).
	Concurrency int
	// Retention is how long a result is kept after completion (exports.retention, default 60 days).
	Retention time.Duration
	// TempDir is where results are written before they are stored ("" = os.TempDir()).
	TempDir string
	// Now is the clock (default time.Now): of tasks, links and expiry.
	Now    func() time.Time
	Logger *slog.Logger
	// OnStart and OnDone, when set, are called once a worker has recorded its attempt at a
	// task and when it is done with it
	// (tests wait on them instead of sleeping). OnDone's state is "" when the run was
	// interrupted (the engine stopping); the task stays queued for the next start.
	OnStart func(ctx context.Context, id string)
	OnDone  func(id string, state State)

	once    sync.Once
	mu      sync.Mutex
	queue   []taskRef
	wake    chan struct{} // closed and replaced when work is queued
	running map[string]*Progress
	metrics metrics
}

type taskRef struct{ org, id string }

// ledger reads the sealed days, checking their manifests against TrustedKeys.
func (e *Engine) ledger() archiver.Ledger {
	return archiver.Ledger{Store: e.Store, TrustedKeys: e.TrustedKeys}
}

func (e *Engine) init() {
	e.once.Do(func() {
		if e.Formats == nil {
			e.Formats = map[string]NewEncoder{"jsonl": NewJSONL}
		}
		if e.Limits.MaxRangeDays <= 0 {
			e.Limits.MaxRangeDays = 366
		}
		if e.Limits.MaxIDs <= 0 {
			e.Limits.MaxIDs = 25
		}
		if e.Concurrency <= 0 {
			e.Concurrency = 2
		}
		if e.Retention <= 0 {
			e.Retention = 60 * 24 * time.Hour
		}
		if e.Links.Expiry <= 0 {
			e.Links.Expiry = 24 * time.Hour
		}
		if e.Now == nil {
			e.Now = time.Now
		}
		if e.Logger == nil {
			e.Logger = slog.New(slog.DiscardHandler)
		}
		e.wake = make(chan struct{})
		e.running = map[string]*Progress{}
		e.metrics.init()
	})
}

// Register adds the engine's metrics to r.
func (e *Engine) Register(r prometheus.Registerer) {
	e.init()
	e.metrics.register(r)
}

// FormatNames returns the formats the engine can write, sorted.
func (e *Engine) FormatNames() []string {
	e.init()
	names := make([]string, 0, len(e.Formats))
	for n := range e.Formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Create validates req for the organization, stores it as a new task and queues it.
// by names the requester (a token id) for the record. Errors: *FieldError (bad request),
// ErrNoArchive, *UnsealedError, or a store error.
func (e *Engine) Create(ctx context.Context, org, by string, req Request) (string, error) {
	e.init()
	now := e.Now()
	from, to, err := req.validate(e.Limits, e.FormatNames(), archiver.DayOf(now))
	if err != nil {
		return "", err
	}
	if req.Delivery == DeliveryEmail && e.Mailer == nil {
		return "", fieldErr("delivery", "email delivery is not configured")
	}
	if req.Delivery == DeliveryEmail && e.BaseURL == "" {
		return "", fieldErr("delivery", "email delivery needs exports.baseURL, the API's public address, for the link")
	}
	o, err := e.organization(ctx, org)
	if err != nil {
		return "", err
	}
	if o.ArchivalStart != "" {
		if start, err := archiver.ParseDay(o.ArchivalStart); err == nil && from.Before(start) {
			return "", fieldErr("from", "%s is before the organization's archival start %s", from, start)
		}
	}
	rows, err := e.ledger().Status(ctx, org, from, to)
	if err != nil {
		return "", err
	}
	var unsealed []archiver.DayStatus
	for _, r := range rows {
		if r.State != archiver.StateSealed && r.State != archiver.StateEmpty {
			unsealed = append(unsealed, r)
		}
	}
	if len(unsealed) > 0 {
		return "", &UnsealedError{Days: unsealed}
	}
	rec := record{TaskID: uuid.NewString(), Org: org, OrgName: o.Name, CreatedAt: now.UTC(), CreatedBy: by, Request: req}
	if err := putJSON(ctx, e.Store, requestKey(org, rec.TaskID), rec); err != nil {
		return "", fmt.Errorf("create task: %w", err)
	}
	e.metrics.created.WithLabelValues(req.Format).Inc()
	e.enqueue(taskRef{org, rec.TaskID})
	return rec.TaskID, nil
}

func (e *Engine) organization(ctx context.Context, org string) (model.Organization, error) {
	dir, err := e.Directory(ctx)
	if err != nil {
		return model.Organization{}, fmt.Errorf("read directory: %w", err)
	}
	for _, o := range dir.Organizations {
		if o.ID == org && o.Archival {
			return o, nil
		}
	}
	return model.Organization{}, ErrNoArchive
}

func (e *Engine) enqueue(r taskRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, r)
	e.metrics.queued.Set(float64(len(e.queue)))
	close(e.wake)
	e.wake = make(chan struct{})
}

// Status returns the organization's task id. Another organization's task is
// ErrTaskNotFound, as is an id that is not a UUID.
func (e *Engine) Status(ctx context.Context, org, id string) (*Status, error) {
	e.init()
	_, st, err := load(ctx, e.Store, org, id, e.TrustedKeys)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if p, ok := e.running[id]; ok && st.State == StateQueued {
		st.State, st.Progress = StateRunning, *p
	}
	e.mu.Unlock()
	if st.State == StateCompleted {
		st.ExpiresAt = st.CompletedAt.Add(e.Retention)
		if !e.Now().Before(st.ExpiresAt) {
			st.State = StateExpired
		}
	}
	return st, nil
}

// List returns the organization's tasks, newest first.
func (e *Engine) List(ctx context.Context, org string) ([]*Status, error) {
	e.init()
	var ids []string
	prefix := archiver.TasksPrefix + org + "/"
	err := e.Store.List(ctx, prefix, func(key string) error {
		if id, ok := strings.CutSuffix(key[len(prefix):], "/request.json"); ok && ValidID(id) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Status, 0, len(ids))
	for _, id := range ids {
		st, err := e.Status(ctx, org, id)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// Link returns a new download link of a completed task, valid for Links.Expiry from now.
func (e *Engine) Link(base string, st *Status) (string, time.Time) {
	e.init()
	return e.Links.Make(base, st.org, st.TaskID, e.Now())
}

// OpenResult opens a completed task's result. ErrNotReady before completion (or after a
// failure), ErrExpired after retention.
func (e *Engine) OpenResult(ctx context.Context, org, id string) (*Status, io.ReadCloser, error) {
	st, err := e.Status(ctx, org, id)
	if err != nil {
		return nil, nil, err
	}
	switch st.State {
	case StateExpired:
		return st, nil, ErrExpired
	case StateCompleted:
	default:
		if st.untrusted != nil {
			return st, nil, st.untrusted
		}
		return st, nil, ErrNotReady
	}
	rc, err := e.Store.Open(ctx, st.resultKey)
	if errors.Is(err, archiver.ErrNotFound) {
		return st, nil, ErrExpired // deleted by a bucket lifecycle rule before our clock said so
	}
	if err != nil {
		return st, nil, err
	}
	return st, rc, nil
}

// Run queues the store's unfinished tasks again, then runs queued tasks, Concurrency at
// a time, until ctx is done. A task interrupted by ctx stays unfinished in the store, and
// the next Run picks it up.
func (e *Engine) Run(ctx context.Context) error {
	e.init()
	if err := e.resume(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for range e.Concurrency {
		wg.Go(func() { e.worker(ctx) })
	}
	wg.Wait()
	return nil
}

// resume queues every task of the store without an outcome, oldest first.
func (e *Engine) resume(ctx context.Context) error {
	type pending struct {
		ref     taskRef
		created time.Time
	}
	var found []pending
	var cur taskRef
	var curReq, curDone bool
	flush := func() error {
		if curReq && !curDone {
			var rec record
			if err := getJSON(ctx, e.Store, requestKey(cur.org, cur.id), &rec); err != nil {
				return fmt.Errorf("resume tasks: %w", err)
			}
			found = append(found, pending{cur, rec.CreatedAt})
		}
		return nil
	}
	err := e.Store.List(ctx, archiver.TasksPrefix, func(key string) error {
		parts := strings.Split(strings.TrimPrefix(key, archiver.TasksPrefix), "/")
		if len(parts) != 3 || !ValidID(parts[1]) {
			return nil
		}
		if ref := (taskRef{parts[0], parts[1]}); ref != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, curReq, curDone = ref, false, false
		}
		switch parts[2] {
		case "request.json":
			curReq = true
		case "completed.json", "failed.json":
			curDone = true
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].created.Before(found[j].created) })
	for _, p := range found {
		e.Logger.Info("export task queued again after a restart", "org", p.ref.org, "task", p.ref.id)
		e.enqueue(p.ref)
	}
	return nil
}

func (e *Engine) worker(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			return // what is still queued stays in the store for the next start
		}
		e.mu.Lock()
		if len(e.queue) > 0 {
			r := e.queue[0]
			e.queue = e.queue[1:]
			e.metrics.queued.Set(float64(len(e.queue)))
			e.mu.Unlock()
			e.execute(ctx, r)
			continue
		}
		wake := e.wake
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// Execute runs one task now, in the caller's goroutine (chatvault export-task), and
// returns its status.
func (e *Engine) Execute(ctx context.Context, org, id string) (*Status, error) {
	e.init()
	e.execute(ctx, taskRef{org, id})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.Status(ctx, org, id)
}

// execute runs a task to its outcome, which it stores. Errors are the task's: they end in
// failed.json, or, when ctx ends the run, leave the task queued.
func (e *Engine) execute(ctx context.Context, r taskRef) {
	log := e.Logger.With("org", r.org, "task", r.id)
	state, err := e.attempt(ctx, r, log)
	if ctx.Err() != nil {
		log.Info("export task interrupted; it runs again at the next start", "err", err)
		state = ""
	} else if err != nil {
		// The store failed while recording the outcome; the task stays queued in the
		// store and a restart runs it again.
		log.Error("export task: outcome not recorded", "err", err)
		state = ""
	}
	if state != "" {
		e.metrics.finished.WithLabelValues(string(state)).Inc()
	}
	if e.OnDone != nil {
		e.OnDone(r.id, state)
	}
}

// attempt runs the task once and records its outcome: completed or failed. The error is
// about recording, not about the task.
func (e *Engine) attempt(ctx context.Context, r taskRef, log *slog.Logger) (State, error) {
	rec, st, err := load(ctx, e.Store, r.org, r.id, e.TrustedKeys)
	if err != nil {
		return "", err
	}
	if st.State != StateQueued {
		return st.State, nil // queued twice (a resume racing a create): already done
	}
	now := e.Now().UTC()
	if st.Attempts >= maxAttempts {
		f := failure{FailedAt: now, Error: fmt.Sprintf("gave up after %d attempts: the process stopped during each", st.Attempts)}
		log.Error("export task abandoned", "attempts", st.Attempts)
		return StateFailed, putJSON(ctx, e.Store, failedKey(r.org, r.id), f)
	}
	if err := putJSON(ctx, e.Store, attemptKey(r.org, r.id, st.Attempts+1), attempt{StartedAt: now, Attempt: st.Attempts + 1}); err != nil {
		return "", err
	}
	prog := &Progress{DaysTotal: st.Progress.DaysTotal}
	e.mu.Lock()
	e.running[r.id] = prog
	e.metrics.running.Set(float64(len(e.running)))
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, r.id)
		e.metrics.running.Set(float64(len(e.running)))
		e.mu.Unlock()
	}()
	if e.OnStart != nil {
		e.OnStart(ctx, r.id)
	}

	start := time.Now()
	var c *completion
	if len(e.TrustedKeys) > 0 && e.SigningKey == nil {
		// Its completion would be unsigned, and refused by the very check it is for.
		err = taskErrorf("this server trusts signing keys but has none to sign the task's completion with (set signing.keyFile)")
	} else {
		c, err = e.produce(ctx, rec, prog)
	}
	if err == nil && rec.Request.Delivery == DeliveryEmail {
		err = e.mail(ctx, rec, c)
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		log.Warn("export task failed", "err", err)
		return StateFailed, putJSON(ctx, e.Store, failedKey(r.org, r.id), failure{FailedAt: e.Now().UTC(), Error: publicMessage(err)})
	}
	c.CompletedAt = e.Now().UTC()
	log.Info("export task completed", "format", rec.Request.Format, "events", c.Result.Events, "bytes", c.Result.Size, "took", time.Since(start).Round(time.Millisecond))
	e.metrics.events.WithLabelValues(rec.Request.Format).Add(float64(c.Result.Events))
	if err := c.sign(e.SigningKey); err != nil {
		return "", err
	}
	return StateCompleted, putJSON(ctx, e.Store, completedKey(r.org, r.id), c)
}

// taskError is a failure the requester may read in full; any other is summarized.
type taskError struct{ msg string }

func (e *taskError) Error() string { return e.msg }

func taskErrorf(format string, args ...any) error {
	return &taskError{fmt.Sprintf(format, args...)}
}

func publicMessage(err error) string {
	var te *taskError
	if errors.As(err, &te) {
		return te.msg
	}
	return "internal error (the server log has the details)"
}

// produce writes the result to a temporary file, hashing it, then stores it.
func (e *Engine) produce(ctx context.Context, rec *record, prog *Progress) (*completion, error) {
	newEnc, ok := e.Formats[rec.Request.Format]
	if !ok {
		return nil, taskErrorf("format %q is not available in this server", rec.Request.Format)
	}
	from, _ := archiver.ParseDay(rec.Request.From)
	to, _ := archiver.ParseDay(rec.Request.To)
	ledger := e.ledger()

	f, err := os.CreateTemp(e.TempDir, "chatvault-task-*")
	if err != nil {
		return nil, fmt.Errorf("result file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	out := &hashWriter{w: bufio.NewWriterSize(f, 1<<20), h: sha256.New()}
	enc, err := newEnc(out, FormatOptions{Org: rec.Org, OrgName: rec.OrgName, TaskID: rec.TaskID, TempDir: e.TempDir})
	if err != nil {
		return nil, fmt.Errorf("%s encoder: %w", rec.Request.Format, err)
	}
	closed := false
	defer func() {
		// On a failed day the output is thrown away, but the encoder still holds spill
		// files and its ZIP's central directory: Close releases them. Its error adds
		// nothing to the failure already being returned.
		if !closed {
			enc.Close()
		}
	}()
	filter := newFilter(rec.Request)
	c := &completion{}
	for d := from; !d.After(to); d = d.Next() {
		m, err := ledger.Latest(ctx, rec.Org, d)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, taskErrorf("%s is not sealed", d)
		}
		sd, err := e.day(ctx, enc, m, filter)
		if err != nil {
			return nil, err
		}
		c.SourceDays = append(c.SourceDays, sd)
		c.Result.Events += sd.Selected
		e.mu.Lock()
		prog.DaysDone++
		e.mu.Unlock()
	}
	closed = true
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s encoder: close: %w", rec.Request.Format, err)
	}
	if err := out.w.Flush(); err != nil {
		return nil, fmt.Errorf("result file: %w", err)
	}
	var sum [sha256.Size]byte
	out.h.Sum(sum[:0])
	ext, ctype := ".bin", "application/octet-stream"
	if x, ok := enc.(extensioner); ok {
		ext = x.Extension()
	}
	if x, ok := enc.(contentTyper); ok {
		ctype = x.ContentType()
	}
	c.Result.Filename, c.Result.ContentType = rec.TaskID+ext, ctype
	c.Result.Size, c.Result.SHA256 = out.n, hex.EncodeToString(sum[:])
	c.ResultKey = resultKey(rec.Org, rec.TaskID, c.Result.SHA256, ext)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("result file: %w", err)
	}
	// Results never get a retention date: they are copies, deleted after exports.retention.
	if err := e.Store.Create(ctx, c.ResultKey, f, out.n, sum, archiver.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("store result: %w", err)
	}
	return c, nil
}

// day feeds one sealed day's records, filtered, to the encoder, and checks that what it
// read is what the manifest says: the same count and SHA-256 of the JSONL.
func (e *Engine) day(ctx context.Context, enc Encoder, m *archiver.StoredManifest, keep func(*model.Event) bool) (SourceDay, error) {
	sd := SourceDay{Date: m.Date, Revision: m.Revision, ManifestSHA256: hex.EncodeToString(m.SHA256[:]),
		JSONLSHA256: m.Data.JSONLSHA256, Records: m.Data.Records}
	// The version the manifest names, where the store keeps versions (issue 10.6).
	rc, err := archiver.Ledger{Store: e.Store}.OpenObject(ctx, m.Data.Key, m.Data.VersionID)
	if err != nil {
		return sd, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return sd, fmt.Errorf("%s: %w", m.Data.Key, err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 256<<10)
	h := sha256.New()
	var line []byte
	var lines int64
	eof := false
	next := func() (model.Event, error) {
		for {
			if eof {
				return model.Event{}, io.EOF
			}
			if err := ctx.Err(); err != nil {
				return model.Event{}, err
			}
			line = line[:0]
			for {
				chunk, err := br.ReadSlice('\n')
				line = append(line, chunk...)
				if err == bufio.ErrBufferFull {
					continue
				}
				if err == io.EOF && len(line) == 0 {
					eof = true
					if got := hex.EncodeToString(h.Sum(nil)); got != m.Data.JSONLSHA256 || lines != m.Data.Records {
						return model.Event{}, taskErrorf("%s: the sealed export read back as %d records with SHA-256 %s; its manifest says %d and %s (run chatvault verify)",
							m.Date, lines, got, m.Data.Records, m.Data.JSONLSHA256)
					}
					return model.Event{}, io.EOF
				}
				if err != nil && err != io.EOF {
					return model.Event{}, fmt.Errorf("%s: %w", m.Data.Key, err)
				}
				break
			}
			h.Write(line)
			lines++
			ev, err := model.Decode(bytes.TrimSuffix(line, []byte{'\n'}))
			if err != nil {
				return model.Event{}, taskErrorf("%s: sealed record %d does not decode: %v (run chatvault verify)", m.Date, lines, err)
			}
			if keep(&ev) {
				sd.Selected++
				return ev, nil
			}
		}
	}
	if err := enc.WriteDay(ctx, m, next); err != nil {
		return sd, err
	}
	if !eof {
		return sd, fmt.Errorf("%s: the encoder stopped before the end of the day", m.Date)
	}
	return sd, nil
}

// newFilter returns the request's record filter. Empty sets select everything.
func newFilter(r Request) func(*model.Event) bool {
	chats := set(r.ChatIDs)
	users := set(r.UserIDs)
	return func(e *model.Event) bool {
		if chats != nil && !chats[e.ChatID] {
			return false
		}
		if users == nil || users[e.Sender.ID] {
			return true
		}
		// A custodian added to or removed from a chat is part of their record.
		if e.ContentType == model.ContentMembersChanged {
			return slices.ContainsFunc(e.Content.Added, func(p model.Participant) bool { return users[p.ID] }) ||
				slices.ContainsFunc(e.Content.Removed, func(p model.Participant) bool { return users[p.ID] })
		}
		return false
	}
}

func set(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

type hashWriter struct {
	w *bufio.Writer
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// mail sends the link, never the data, to the request's addresses.
func (e *Engine) mail(ctx context.Context, rec *record, c *completion) error {
	link, expires := e.Links.Make(e.BaseURL, rec.Org, rec.TaskID, e.Now())
	subject := rec.Request.Subject
	if subject == "" {
		subject = fmt.Sprintf("chatvault export %s to %s is ready", rec.Request.From, rec.Request.To)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The export task %s of %s (%s to %s, %s) is ready.\n\n", rec.TaskID, rec.OrgName, rec.Request.From, rec.Request.To, rec.Request.Format)
	fmt.Fprintf(&b, "Download (works until %s):\n%s\n\n", expires.UTC().Format(time.RFC3339), link)
	fmt.Fprintf(&b, "%d events, %d bytes, SHA-256 %s.\n", c.Result.Events, c.Result.Size, c.Result.SHA256)
	fmt.Fprintf(&b, "A new link can be had from GET /v1/exports/tasks/%s until the result expires.\n", rec.TaskID)
	if err := e.Mailer.Send(ctx, rec.Request.ToEmails, subject, b.String()); err != nil {
		return &taskError{"email delivery failed: " + err.Error()}
	}
	c.EmailedTo = rec.Request.ToEmails
	return nil
}

// Expire is the task janitor. It deletes the results of tasks completed more than
// Retention ago, and the results no task names (orphans, see OrphanGrace), and returns how
// many it deleted. A result already gone (a bucket lifecycle rule) is not an error. The
// task's other objects stay: its status then reads expired, with its hashes.
func (e *Engine) Expire(ctx context.Context) (int, error) {
	e.init()
	if _, ok := e.Store.(archiver.Deleter); !ok {
		return 0, errors.New("expire task results: the store cannot delete (use a bucket lifecycle rule on tasks/)")
	}
	d := e.Store.(archiver.Deleter)
	now := e.Now()
	tasks, err := listTaskObjects(ctx, e.Store)
	if err != nil {
		return 0, fmt.Errorf("expire task results: %w", err)
	}
	n := 0
	var errs []error
	for _, t := range tasks {
		var named string       // the result completed.json names
		var finished time.Time // when the task got its outcome
		switch {
		case t.completed:
			var c completion
			if err := getJSON(ctx, e.Store, completedKey(t.org, t.id), &c); err != nil {
				return n, fmt.Errorf("expire task results: %w", err)
			}
			// Only the task's own result is ever deleted, whatever the record says; its
			// signature is not required: an unsigned record's result (a task completed before
			// completions were signed, or a forgery) is a copy that is never served, and
			// deleting it at retention loses nothing.
			if err := c.ownResult(t.org, t.id); err != nil {
				errs = append(errs, err) // the others are still swept
				continue
			}
			named, finished = c.ResultKey, c.CompletedAt
			if !now.Before(c.CompletedAt.Add(e.Retention)) && slices.Contains(t.results, c.ResultKey) {
				gone, err := deleteResult(ctx, d, c.ResultKey)
				if err != nil {
					return n, fmt.Errorf("expire task results: %w", err)
				}
				if !gone {
					break
				}
				e.Logger.Info("export task result deleted after retention", "org", t.org, "task", t.id, "completed", c.CompletedAt)
				e.metrics.expired.Inc()
				n++
			}
		case t.failed:
			var f failure
			if err := getJSON(ctx, e.Store, failedKey(t.org, t.id), &f); err != nil {
				return n, fmt.Errorf("expire task results: %w", err)
			}
			finished = f.FailedAt
		default:
			// Queued or running: a result not named yet may be about to be (a rerun of a
			// deterministic task names the very object a dead replica wrote).
			continue
		}
		m, err := e.sweepOrphans(ctx, d, t, named, finished, now)
		n += m
		if err != nil {
			return n, fmt.Errorf("expire task results: %w", err)
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("expire task results: %w", errors.Join(errs...))
	}
	return n, nil
}

type metrics struct {
	created  *prometheus.CounterVec
	finished *prometheus.CounterVec
	events   *prometheus.CounterVec
	expired  prometheus.Counter
	orphaned prometheus.Counter
	queued   prometheus.Gauge
	running  prometheus.Gauge
}

func (m *metrics) init() {
	m.created = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_tasks_created_total", Help: "Export tasks created, by format."}, []string{"format"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_tasks_finished_total", Help: "Export tasks finished, by outcome (completed, failed)."}, []string{"state"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_task_events_total", Help: "Events written into export task results, by format."}, []string{"format"})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_export_task_results_expired_total", Help: "Export task results deleted after retention."})
	m.orphaned = prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_export_task_results_orphaned_total", Help: "Export task results deleted because their finished task does not name them."})
	m.queued = prometheus.NewGauge(prometheus.GaugeOpts{Name: "chatvault_export_tasks_queued", Help: "Export tasks waiting for a worker."})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: "chatvault_export_tasks_running", Help: "Export tasks running."})
}

func (m *metrics) register(r prometheus.Registerer) {
	r.MustRegister(m.created, m.finished, m.events, m.expired, m.orphaned, m.queued, m.running)
}

// CheckLink verifies a download link's query for task id (see Links.Check) at the
// engine's time, and returns the organization it was made for.
func (e *Engine) CheckLink(id string, q url.Values) (string, error) {
	e.init()
	if !ValidID(id) {
		return "", ErrLinkInvalid
	}
	return e.Links.Check(id, q, e.Now())
}
