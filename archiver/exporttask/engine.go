package exporttask

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
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
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/model"
)

// Mailer sends a message (archiver/smtp in production). The engine only ever mails a
// download link, never the data.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, textBody string) error
}

// maxAttempts bounds how often a task is started: a task that took the process down
// (out of memory, a crash) three times fails instead of being run again forever. Runs
// cut short by a shutdown (handed back) do not count: a rolling restart is not the task's
// fault.
const maxAttempts = 3

// Engine creates, runs and reports export tasks. Store and Directory are required.
type Engine struct {
	Store archiver.Store
	// Directory returns the current directory snapshot (which organizations archive).
	Directory func(ctx context.Context) (*model.Directory, error)
	// UserDirectory, when set, returns the snapshot with its users, read when a task names
	// toUsers (serve's Directory keeps only the organizations); nil: Directory.
	UserDirectory func(ctx context.Context) (*model.Directory, error)
	// Formats maps a format name to its encoder; nil means jsonl and json only.
	// cmd/chatvault adds html and rsmf.
	Formats map[string]NewEncoder
	// Mailer enables delivery "email"; nil refuses it.
	Mailer Mailer
	// TrustedKeys, when set, are the keys every source day's manifest must be signed by
	// (ledger.Ledger.TrustedKeys): a task never exports a day whose manifest was forged.
	//
	// They are also the keys a completed task's completed.json must be signed by: it names
	// the result and the SHA-256 a download is checked against, so an unsigned or
	// untrusted one reads failed and its result is never served.
	TrustedKeys []ed25519.PublicKey
	// SigningKey, when set, signs completed.json (signing.keyFile).
	SigningKey ed25519.PrivateKey
	// Witnessed, when set, checks org's chain in the store against a witness kept outside
	// it (verify.witness; ledger.Ledger.CheckWitnessed, as httpapi.Server.Witnessed)
	// before a day without a manifest is answered as not sealed: a store emptied of its
	// sealed days holds no manifest of them either. Its error (ledger.ErrBehindWitness)
	// is returned instead.
	Witnessed func(ctx context.Context, org string) error
	// Links signs download links; BaseURL (exports.baseURL) starts the links in e-mails.
	Links   Links
	BaseURL string
	// Limits bound requests; zero values mean DefaultMaxScanEvents and 25 ids.
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
	// interrupted (the engine stopping: the task is handed back; or another replica
	// taking it over). Neither is called for a task another replica holds or finished.
	OnStart func(ctx context.Context, id string)
	OnDone  func(id string, state State)

	// MaxTasksPerOrg caps an organization's tasks queued or running, over every replica
	// (exports.maxTasksPerOrg, default 20): Create refuses more with *TooManyTasksError.
	MaxTasksPerOrg int
	// Holder names this process in task claims (default a random UUID): every replica
	// on a store needs its own.
	Holder string
	// ClaimTTL is how long a claim keeps other replicas off a task unless renewed (default
	// 3 minutes); the holder renews it every ClaimTTL/3. A replica that dies holds its
	// task that long at most (plus ScanInterval). Replicas' clocks must agree to well
	// within it.
	ClaimTTL time.Duration
	// ScanInterval is how often Run looks in the store for tasks without an outcome and
	// without a live claim (created by another replica, or left by one that died); default
	// one minute.
	ScanInterval time.Duration
	// After is the timer of claim renewals, scans and mail retries (default time.After);
	// tests pass a fake clock's.
	After func(d time.Duration) <-chan time.Time
	// MailRetries are the waits before each new try of a mail that failed for now (the
	// relay answered 4xx, or could not be reached, before anyone was mailed); default 1
	// and 5 minutes: three tries. Nil in a zero Engine takes the default; an empty,
	// non-nil slice tries once.
	MailRetries []time.Duration

	once    sync.Once
	mu      sync.Mutex
	queue   fairQueue
	wake    chan struct{} // closed and replaced when work is queued
	running map[string]*Progress
	// active holds the tasks a worker of this process is claiming or running, and
	// activeOrgs counts them per organization (for the fair queue).
	active     map[taskRef]bool
	activeOrgs map[string]int
	// listed holds the organizations whose tasks made before the list index this process
	// knows to be indexed (listindex.go).
	listed  map[string]bool
	metrics metrics
	// janitor is where Expire's last run left the expiry index (janitor.go), with mu held.
	janitor janitorState
	// openBackfilled is set once the open-task index is known to be complete
	// (openindex.go), with mu held.
	openBackfilled bool
	// ahead holds the claims of other replicas that expire further ahead than a claim is
	// written for, as this process first saw each the task's last link (claimLive), with
	// mu held.
	ahead map[taskRef]aheadClaim
}

type taskRef struct{ org, id string }

// ledger reads the sealed days, checking their manifests against TrustedKeys.
func (e *Engine) lg() ledger.Ledger {
	return ledger.Ledger{Store: e.Store, TrustedKeys: e.TrustedKeys}
}

func (e *Engine) init() {
	e.once.Do(func() {
		if e.Formats == nil {
			e.Formats = map[string]NewEncoder{"jsonl": NewJSONL, "json": NewJSON}
		}
		if e.Limits.MaxScanEvents <= 0 {
			e.Limits.MaxScanEvents = DefaultMaxScanEvents
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
		if e.MaxTasksPerOrg <= 0 {
			e.MaxTasksPerOrg = 20
		}
		if e.Holder == "" {
			e.Holder = uuid.NewString()
		}
		if e.ClaimTTL <= 0 {
			e.ClaimTTL = 3 * time.Minute
		}
		if e.ScanInterval <= 0 {
			e.ScanInterval = time.Minute
		}
		if e.After == nil {
			e.After = time.After
		}
		if e.MailRetries == nil {
			e.MailRetries = []time.Duration{time.Minute, 5 * time.Minute}
		}
		e.wake = make(chan struct{})
		e.running = map[string]*Progress{}
		e.active = map[taskRef]bool{}
		e.activeOrgs = map[string]int{}
		e.listed = map[string]bool{}
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
// ErrNoArchive, *UnsealedError, *UnknownIDsError, or a store error.
func (e *Engine) Create(ctx context.Context, org, by string, req Request) (string, error) {
	e.init()
	now := e.Now()
	b, err := req.validate(e.Limits, e.FormatNames(), archiver.DayOf(now))
	if err != nil {
		return "", err
	}
	if req.Delivery == DeliveryEmail && e.Mailer == nil {
		return "", fieldErr("delivery", "email delivery is not configured")
	}
	if req.Delivery == DeliveryEmail && e.BaseURL == "" {
		return "", fieldErr("delivery", "email delivery needs exports.baseURL, the API's public address, for the link")
	}
	o, dir, archiving, err := e.organization(ctx, org)
	if err != nil {
		return "", err
	}
	from, to, err := e.resolve(ctx, org, o, b)
	if !archiving && err == nil {
		// What is sealed stays served whatever the directory says now (archival turned
		// off, the organization gone), as the day endpoints and `chatvault export` serve
		// it: a range of sealed days only. Anything else keeps the answer it had.
		err = e.unsealedDays(ctx, org, from, to)
	}
	if !archiving && err != nil {
		var fe *FieldError
		var ue *UnsealedError
		if errors.As(err, &fe) || errors.As(err, &ue) {
			return "", ErrNoArchive
		}
		return "", err // the store's
	}
	if err != nil {
		return "", err
	}
	var userMails []string
	if len(req.ToUsers) > 0 {
		read := e.UserDirectory
		if read == nil {
			read = e.Directory
		}
		dir, err := read(ctx)
		if err != nil {
			return "", fmt.Errorf("read directory: %w", err)
		}
		if userMails, err = userEmails(dir, org, req.ToUsers); err != nil {
			return "", err
		}
	}
	if err := e.unsealedDays(ctx, org, from, to); err != nil {
		return "", err
	}
	rows, err := e.lg().Status(ctx, org, from, to)
	if err != nil {
		return "", err
	}
	var unsealed []ledger.DayStatus
	var records int64
	var sealed []*archiver.StoredManifest
	for _, r := range rows {
		if r.State != ledger.StateSealed && r.State != ledger.StateEmpty {
			unsealed = append(unsealed, r)
		} else {
			records += r.Manifest.Data.Records
			sealed = append(sealed, r.Manifest)
		}
	}
	if len(unsealed) > 0 {
		if err := e.witnessed(ctx, org); err != nil {
			return "", err
		}
		return "", &UnsealedError{Days: unsealed}
	}
	if records > e.Limits.MaxScanEvents {
		return "", &WorkLimitError{From: from, To: to, Records: records, Limit: e.Limits.MaxScanEvents}
	}
	// The request is stored with the range it resolved to, so the task reads the same
	// days however the defaults move later (a new sealed day).
	req.From, req.To = from.String(), to.String()
	if err := checkKnown(ctx, e.lg(), dir, org, &req, sealed); err != nil {
		return "", err
	}
	// Counted in the store, so the cap holds over every replica (two requests racing on
	// two replicas may both pass it by one).
	n, err := e.unfinished(ctx, org)
	if err != nil {
		return "", err
	}
	if n >= e.MaxTasksPerOrg {
		return "", &TooManyTasksError{Limit: e.MaxTasksPerOrg}
	}
	rec := record{TaskID: uuid.NewString(), Org: org, OrgName: o.Name, CreatedAt: now.UTC(), CreatedBy: by, Request: req,
		UserEmails: userMails}
	if err := rec.sign(e.SigningKey); err != nil {
		return "", err
	}
	if err := e.markOpen(ctx, taskRef{org, rec.TaskID}, now); err != nil {
		return "", fmt.Errorf("create task: %w", err)
	}
	if err := e.markListed(ctx, org, rec.TaskID, rec.CreatedAt); err != nil {
		return "", fmt.Errorf("create task: %w", err)
	}
	if err := putJSON(ctx, e.Store, requestKey(org, rec.TaskID), rec); err != nil {
		return "", fmt.Errorf("create task: %w", err)
	}
	e.metrics.created.WithLabelValues(req.Format).Inc()
	e.enqueue(queued{taskRef{org, rec.TaskID}, rec.CreatedAt})
	return rec.TaskID, nil
}

// unsealedDays returns an *UnsealedError when days of from..to have no sealed revision,
// found from one listing of the organization's days that starts at from and stops past
// to (Ledger.ListDays): the range's days are not read one by one (a store listing and a
// read each) before the range is known to be sealed, and the days before and after the
// range are not listed at all, so the cost is the range's whatever the history around
// it, and a from decades before the archive (an organization without an archival start
// has no lower bound) costs one listing. Only the few days the error names are read,
// for their state.
func (e *Engine) unsealedDays(ctx context.Context, org string, from, to archiver.Day) error {
	sealed := map[archiver.Day]bool{}
	err := e.lg().ListDays(ctx, org, from, func(k ledger.DayKeys) error {
		if k.Day.After(to) {
			return archiver.ErrStopListing
		}
		if k.Revision != "" && !k.Day.Before(from) {
			sealed[k.Day] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	ue := &UnsealedError{}
	for d := from; !d.After(to); d = d.Next() {
		if sealed[d] {
			continue
		}
		if len(ue.Days) < 5 {
			st, err := e.lg().Status(ctx, org, d, d)
			if err != nil {
				return err
			}
			if st[0].State == ledger.StateSealed || st[0].State == ledger.StateEmpty {
				continue // sealed since the listing
			}
			ue.Days = append(ue.Days, st[0])
		}
		ue.Count++
	}
	if ue.Count == 0 {
		return nil
	}
	if err := e.witnessed(ctx, org); err != nil {
		return err
	}
	return ue
}

// witnessed is Witnessed's error for org, nil without one: checked before days without a
// manifest are answered as not sealed.
func (e *Engine) witnessed(ctx context.Context, org string) error {
	if e.Witnessed == nil {
		return nil
	}
	return e.Witnessed(ctx, org)
}

// DefaultMaxScanEvents is the default work limit of a task (exports.maxScanEvents): the
// records of the sealed days of its range, read one by one whatever the filters keep.
const DefaultMaxScanEvents = 50_000_000

// WorkLimitError is a task whose range holds more sealed records than a task may read
// (API 400 invalid_request, field "to"): the limit is on work, not on days, so a long
// range of quiet days passes and a short one of busy days may not.
type WorkLimitError struct {
	From, To archiver.Day
	Records  int64
	Limit    int64
}

func (e *WorkLimitError) Error() string {
	return fmt.Sprintf("the range %s to %s holds %d sealed records; a task may read at most %d (exports.maxScanEvents): narrow from/to or since/until",
		e.From, e.To, e.Records, e.Limit)
}

// resolve fills in the range's defaults: from the organization's archival start, to
// its last sealed day; and refuses a range starting before the archival start.
func (e *Engine) resolve(ctx context.Context, org string, o model.Organization, b bounds) (from, to archiver.Day, err error) {
	var start archiver.Day
	if o.ArchivalStart != "" {
		start, _ = archiver.ParseDay(o.ArchivalStart)
	}
	from, to = b.From, b.To
	if from.IsZero() {
		if start.IsZero() {
			return from, to, fieldErr("from", "required: the organization has no archival start to default to")
		}
		from = start
	}
	if !start.IsZero() && from.Before(start) {
		if b.fromGiven {
			// Days sealed before the start (an archivalStart moved later) are served like
			// any sealed day; a range with a day before the start that is not sealed
			// keeps its refusal.
			end := start.Prev()
			if !to.IsZero() && to.Before(end) {
				end = to
			}
			var ue *UnsealedError
			if err := e.unsealedDays(ctx, org, from, end); errors.As(err, &ue) {
				return from, to, fieldErr("from", "%s is before the organization's archival start %s", from, start)
			} else if err != nil {
				return from, to, err
			}
		} else {
			from = start // since alone: nothing was archived before the start
		}
	}
	if to.IsZero() {
		// The last sealed day from `from` on: the listing starts at from, so the days
		// before it cost nothing, and the ones after it are the range asked for.
		var last archiver.Day
		if err := e.lg().SealedDaysFrom(ctx, org, from, func(d archiver.Day) error { last = d; return nil }); err != nil {
			return from, to, err
		}
		if last.IsZero() || last.Before(from) {
			if err := e.witnessed(ctx, org); err != nil {
				return from, to, err
			}
			return from, to, fieldErr("to", "required: the organization has no sealed day from %s on to default to", from)
		}
		to = last
	}
	if to.Before(from) {
		return from, to, fieldErr("to", "the range ends (%s) before it starts (%s)", to, from)
	}
	return from, to, nil
}

// organization returns org's entry of the directory (one with the id alone when the
// directory has none) and whether it archives now; a task of an organization that does
// not is made only over days it has sealed (Create).
func (e *Engine) organization(ctx context.Context, org string) (model.Organization, *model.Directory, bool, error) {
	dir, err := e.Directory(ctx)
	if err != nil {
		return model.Organization{}, nil, false, fmt.Errorf("read directory: %w", err)
	}
	for _, o := range dir.Organizations {
		if o.ID == org {
			return o, dir, o.Archival, nil
		}
	}
	return model.Organization{ID: org}, dir, false, nil
}

// enqueue queues t for a worker of this process, unless one has it already; it reports
// whether it did.
func (e *Engine) enqueue(t queued) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[t.ref] || !e.queue.push(t) {
		return false
	}
	e.metrics.queued.Set(float64(e.queue.len()))
	close(e.wake)
	e.wake = make(chan struct{})
	return true
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
	p, here := e.running[id]
	if here && st.State == StateQueued {
		st.State, st.Progress = StateRunning, *p
	}
	e.mu.Unlock()
	if !here && st.State == StateQueued {
		// Running on another replica: its live claim says so (its progress is its own).
		l, err := lastClaim(ctx, e.Store, org, id)
		if err != nil {
			// The task's own records answered; the claim only refines queued.
			e.Logger.Warn("export task claim unreadable; status reads queued", "org", org, "task", id, "err", err)
		} else if e.claimLive(taskRef{org, id}, l, e.Now()) {
			st.State = StateRunning
		} else {
			e.ensureOpen(ctx, taskRef{org, id}) // openindex.go
		}
	}
	if st.State == StateCompleted {
		st.ExpiresAt = st.CompletedAt.Add(e.Retention)
		if !e.Now().Before(st.ExpiresAt) {
			st.State = StateExpired
		}
	}
	return st, nil
}

// Link returns a new download link of a completed task for the API token by (the one
// asking its status), valid for Links.Expiry from now and while that token is.
func (e *Engine) Link(base string, st *Status, by string) (string, time.Time) {
	e.init()
	return e.Links.Make(base, st.org, st.TaskID, by, e.Now())
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

// Run queues the store's tasks that have no outcome and no live claim, then runs queued
// tasks, Concurrency at a time and fairly across organizations (see fairQueue), until ctx
// is done. Every ScanInterval it looks in the store again, for tasks another replica
// created or left behind when it died. A task cut short by ctx is handed back: its claim
// is released at once and the attempt does not count towards maxAttempts.
func (e *Engine) Run(ctx context.Context) error {
	e.init()
	if err := e.Scan(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for range e.Concurrency {
		wg.Go(func() { e.worker(ctx) })
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.After(e.ScanInterval):
			}
			if err := e.Scan(ctx); err != nil && ctx.Err() == nil {
				e.Logger.Warn("export tasks: the store could not be scanned; trying again later", "err", err)
			}
		}
	})
	wg.Wait()
	return nil
}

// Scan queues every task of the store that has no outcome and no live claim (one queued
// on another replica, one whose replica stopped or died), oldest first, unless this
// process has it already. It finds them through the open-task index (openindex.go), not
// by listing every task ever made.
func (e *Engine) Scan(ctx context.Context) error {
	e.init()
	var found []openTask
	var errs []error
	d, ready, err := e.openIndexReady(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("scan tasks: %w", err)
	case ready:
		// The tasks listed are still queued; the entries that failed are tried next scan.
		found, err = e.openTasks(ctx, d, openPrefix)
		if err != nil {
			errs = append(errs, err)
		}
	default:
		if found, err = e.listAllOpen(ctx); err != nil {
			return fmt.Errorf("scan tasks: %w", err)
		}
	}
	now := e.Now()
	var add []queued
	for _, o := range found {
		e.mu.Lock()
		known := e.active[o.ref] || e.queue.has[o.ref]
		e.mu.Unlock()
		if known {
			continue
		}
		if o.lastClaim != "" {
			l, err := readClaim(ctx, e.Store, o.ref.org, o.ref.id, o.lastClaim)
			if err != nil {
				errs = append(errs, err) // the other tasks are still queued
				continue
			}
			if e.claimLive(o.ref, l, now) {
				continue // another replica runs it
			}
		}
		var rec record
		if err := getJSON(ctx, e.Store, requestKey(o.ref.org, o.ref.id), &rec); err != nil {
			errs = append(errs, err)
			continue
		}
		add = append(add, queued{o.ref, rec.CreatedAt})
	}
	sort.SliceStable(add, func(i, j int) bool { return add[i].created.Before(add[j].created) })
	for _, q := range add {
		if e.enqueue(q) {
			e.Logger.Info("export task queued from the store", "org", q.ref.org, "task", q.ref.id)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("scan tasks: %w", errors.Join(errs...))
	}
	return nil
}

// take marks r as handled by a worker of this process; false when one already does.
func (e *Engine) take(r taskRef) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[r] {
		return false
	}
	e.active[r] = true
	e.activeOrgs[r.org]++
	return true
}

// drop undoes take.
func (e *Engine) drop(r taskRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.active, r)
	if e.activeOrgs[r.org]--; e.activeOrgs[r.org] <= 0 {
		delete(e.activeOrgs, r.org)
	}
}

func (e *Engine) worker(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			return // what is still queued stays in the store for the next start
		}
		e.mu.Lock()
		if t, ok := e.queue.pop(e.activeOrgs); ok {
			e.metrics.queued.Set(float64(e.queue.len()))
			e.mu.Unlock()
			if e.take(t.ref) {
				e.execute(ctx, t.ref)
				e.drop(t.ref)
			}
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
// returns its status. When another replica holds the task (a serve that found it in the
// store), Execute waits for its outcome, or takes the task over if that replica stops.
func (e *Engine) Execute(ctx context.Context, org, id string) (*Status, error) {
	e.init()
	r := taskRef{org, id}
	for {
		if e.take(r) {
			ran := e.execute(ctx, r)
			e.drop(r)
			if ran {
				break
			}
		}
		st, err := e.Status(ctx, org, id)
		if err != nil {
			return nil, err
		}
		if st.State != StateQueued && st.State != StateRunning {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-e.After(e.ClaimTTL / 3):
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return e.Status(ctx, org, id)
}

// errFinished: the task has its outcome already (queued here while another replica
// finished it).
var errFinished = errors.New("export task already finished")

// errNotStarted marks the errors of an attempt that ended before the task ran (claiming
// it, reading it, recording the attempt): the task stays as it was, and OnDone is not
// called.
var errNotStarted = errors.New("export task not started")

func notStarted(err error) error { return fmt.Errorf("%w: %w", errNotStarted, err) }

// execute claims a task and runs it to its outcome, which it stores; it reports false
// when another replica holds the task. Errors are the task's: they end in failed.json,
// or, when ctx ends the run, hand the task back.
func (e *Engine) execute(ctx context.Context, r taskRef) bool {
	log := e.Logger.With("org", r.org, "task", r.id)
	state, err := e.attempt(ctx, r, log)
	switch {
	case errors.Is(err, errClaimHeld):
		log.Debug("export task held by another replica")
		return false
	case errors.Is(err, errFinished):
		return true
	case errors.Is(err, errNotStarted):
		if ctx.Err() == nil {
			log.Error("export task not started; it stays queued", "err", err)
		}
		return true
	case errors.Is(err, errClaimLost):
		e.metrics.claims.WithLabelValues("lost").Inc()
		log.Warn("export task taken over by another replica; this run's outcome is not recorded")
		state = ""
	case err != nil && ctx.Err() != nil:
		log.Info("export task interrupted by shutdown; handed back for another replica or the next start", "err", err)
		state = ""
	case err != nil:
		// The store failed while recording the outcome; the task stays queued in the
		// store and a scan (here or on another replica) runs it again.
		log.Error("export task: outcome not recorded", "err", err)
		state = ""
	}
	if state != "" {
		e.metrics.finished.WithLabelValues(string(state)).Inc()
	}
	if e.OnDone != nil {
		e.OnDone(r.id, state)
	}
	return true
}

// handBackTimeout bounds the store writes that hand a task back at shutdown, which run
// after the run's context has ended.
const handBackTimeout = 10 * time.Second

// release ends c's claim, after ctx too has ended.
func (e *Engine) release(ctx context.Context, c *claim, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
	defer cancel()
	if err := c.release(ctx); err != nil {
		log.Warn("export task claim not released; another replica takes the task when it expires", "err", err, "ttl", e.ClaimTTL)
	}
}

// attempt claims the task, runs it once and records its outcome: completed or failed.
// The error is about claiming and recording, not about the task.
func (e *Engine) attempt(ctx context.Context, r taskRef, log *slog.Logger) (State, error) {
	c, err := e.acquire(ctx, r)
	if err != nil {
		return "", notStarted(err)
	}
	// The claim is read before the task: a replica that finished it released its claim
	// after storing the outcome, so the task read now shows that outcome.
	rec, st, err := load(ctx, e.Store, r.org, r.id, e.TrustedKeys)
	if err != nil {
		e.release(ctx, c, log)
		return "", notStarted(err)
	}
	if c.prev != nil && c.prev.Outcome != "" && st.State == StateQueued {
		// The previous holder committed an outcome and stopped before writing it: it is
		// the task's, and running the task again would record another.
		log.Warn("export task outcome committed by a replica that did not write it; writing it", "holder", c.prev.Holder, "outcome", c.prev.Outcome)
		err := e.commitPrevious(ctx, r, c.prev)
		e.release(ctx, c, log)
		if err != nil {
			return "", notStarted(err)
		}
		// The task is the previous holder's, finished: it reports it (OnDone, the
		// finished count) unless it died. Its commit released the claim, so this replica
		// gets here also while that holder is alive and about to write the same bytes;
		// reporting it here too counted one task finished twice.
		return "", errFinished
	}
	if st.refused && (len(e.TrustedKeys) == 0 || e.SigningKey != nil) {
		// Its request is not the one it was created with: never run it; the failure is
		// stored so that it is not queued again at every scan. (A server with trusted
		// keys and no signing key signs no request: it fails every task below, naming
		// signing.keyFile, and runs none.)
		log.Error("export task refused: its request record does not check", "err", st.untrusted)
		at := e.Now().UTC()
		err := e.finish(ctx, r, c, failedKey(r.org, r.id), failure{FailedAt: at, Error: st.Error}, at)
		e.release(ctx, c, log)
		return StateFailed, err
	}
	if st.State != StateQueued {
		e.release(ctx, c, log)
		return "", errFinished
	}
	now := e.Now().UTC()
	if stopped := st.Attempts - st.HandedBack; stopped >= maxAttempts {
		f := failure{FailedAt: now, Error: fmt.Sprintf("gave up after %d attempts: the process stopped during each", stopped)}
		log.Error("export task abandoned", "attempts", st.Attempts, "handedBack", st.HandedBack)
		err := e.finish(ctx, r, c, failedKey(r.org, r.id), f, now)
		e.release(ctx, c, log)
		return StateFailed, err
	}
	n := st.Attempts + 1
	if err := putJSON(ctx, e.Store, attemptKey(r.org, r.id, n), attempt{StartedAt: now, Attempt: n}); err != nil {
		e.release(ctx, c, log)
		return "", notStarted(err)
	}
	// The run's context also ends when another replica takes the task over.
	run, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop, kept := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(kept)
		c.keep(run, cancel, stop)
	}()
	stopKeeping := func() {
		if stop != nil {
			close(stop)
			<-kept
			stop = nil
		}
	}
	defer stopKeeping()

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
		e.OnStart(run, r.id)
	}

	start := time.Now()
	var res *completion
	if len(e.TrustedKeys) > 0 && e.SigningKey == nil {
		// Its completion would be unsigned, and refused by the very check it is for.
		err = taskErrorf("this server trusts signing keys but has none to sign the task's completion with (set signing.keyFile)")
	} else {
		res, err = e.produce(run, rec, prog)
	}
	if err == nil && rec.Request.Delivery == DeliveryEmail {
		err = e.mail(run, rec, res)
	}
	stopKeeping()
	if errors.Is(context.Cause(run), errClaimLost) {
		return "", errClaimLost // the other replica runs it now; nothing of this run counts
	}
	if ctx.Err() != nil && err == nil {
		// A shutdown after the run finished: its result is stored and its mail, if any,
		// with the relay. Handing it back would run the export again and mail the link a
		// second time, so the outcome is recorded, on a context of its own.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
		defer cancel()
	}
	if ctx.Err() != nil {
		// A shutdown: not the task's fault, so the attempt does not count, and the claim
		// goes at once, for another replica or the next start.
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
		defer hcancel()
		if err := putJSON(hctx, e.Store, handbackKey(r.org, r.id, n), handback{At: e.Now().UTC(), Attempt: n, Holder: e.Holder}); err != nil {
			log.Error("export task hand-back not recorded; the attempt counts as failed", "err", err)
		} else {
			e.metrics.claims.WithLabelValues("handed_back").Inc()
		}
		e.release(ctx, c, log)
		return "", ctx.Err()
	}
	// The last renewal before the outcome: a replica that took the task over while this
	// one stalled records its own.
	if err := c.renew(ctx); err != nil {
		if !errors.Is(err, errClaimLost) {
			e.release(ctx, c, log)
		}
		return "", err
	}
	defer e.release(ctx, c, log)
	if errors.Is(err, ledger.ErrBehindWitness) {
		log.Error("export task failed: the store lost sealed days the witness shows", "err", err)
	} else if err != nil {
		log.Warn("export task failed", "err", err)
	}
	if err != nil {
		at := e.Now().UTC()
		return StateFailed, e.finish(ctx, r, c, failedKey(r.org, r.id), failure{FailedAt: at, Error: publicMessage(err)}, at)
	}
	res.CompletedAt = e.Now().UTC()
	res.RequestSHA256 = rec.sha256 // the request this run read, under the signature
	log.Info("export task completed", "format", rec.Request.Format, "events", res.Result.Events, "bytes", res.Result.Size, "took", time.Since(start).Round(time.Millisecond))
	e.metrics.events.WithLabelValues(rec.Request.Format).Add(float64(res.Result.Events))
	if err := res.sign(e.SigningKey); err != nil {
		return "", err
	}
	return StateCompleted, e.finish(ctx, r, c, completedKey(r.org, r.id), res, res.CompletedAt)
}

// taskError is a failure the requester may read in full; any other is summarized. err,
// when set, is the cause, for the log.
type taskError struct {
	msg string
	err error
}

func (e *taskError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *taskError) Unwrap() error { return e.err }

func taskErrorf(format string, args ...any) error {
	return &taskError{msg: fmt.Sprintf(format, args...)}
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
	lg := e.lg()

	f, err := os.CreateTemp(e.TempDir, "chatvault-task-*")
	if err != nil {
		return nil, fmt.Errorf("result file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	out := &hashWriter{w: bufio.NewWriterSize(f, 1<<20), h: sha256.New()}
	atts := &storeAttachments{store: e.Store, org: rec.Org, trusted: e.TrustedKeys, from: from, to: to}
	enc, err := newEnc(out, FormatOptions{Org: rec.Org, OrgName: rec.OrgName, TaskID: rec.TaskID, TempDir: e.TempDir,
		Attachments: atts})
	if err != nil {
		return nil, fmt.Errorf("%s encoder: %w", rec.Request.Format, err)
	}
	if t, ok := enc.(Tasker); ok {
		t.Task(TaskInfo{ID: rec.TaskID, CreatedAt: rec.CreatedAt, Request: rec.Request})
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
	var sealed []*archiver.StoredManifest
	var scanned int64
	// The range's latest revisions from one listing of its days (and a read per day),
	// not a listing and a read per day: Status checks each manifest as Latest does.
	rows, err := lg.Status(ctx, rec.Org, from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		m := r.Manifest
		if m == nil {
			if err := e.witnessed(ctx, rec.Org); err != nil {
				return nil, &taskError{msg: "the store holds fewer of this organization's sealed days than the witness kept outside it shows " +
					"(sealed days deleted), so nothing was exported; the server reported it to its operator", err: err}
			}
			return nil, taskErrorf("%s is not sealed", r.Day)
		}
		// Create checked the range's work; a day sealed again since (a revision) may have
		// grown it.
		if scanned += m.Data.Records; scanned > e.Limits.MaxScanEvents {
			return nil, taskErrorf("%v", &WorkLimitError{From: from, To: to, Records: scanned, Limit: e.Limits.MaxScanEvents})
		}
		sealed = append(sealed, m)
	}
	var mem memberships
	if len(rec.Request.CustodianIDs) > 0 {
		if mem, err = e.custodianMemberships(ctx, rec.Request.CustodianIDs, sealed); err != nil {
			return nil, err
		}
	}
	filter, terms, found := newFilter(rec.Request, mem)
	c := &completion{}
	for _, m := range sealed {
		sd, err := e.day(ctx, enc, m, filter)
		if err != nil {
			return nil, err
		}
		if rec.Request.AttachmentIndex {
			if sd.AttachmentIndex, err = indexRef(ctx, atts, m.Date); err != nil {
				return nil, err
			}
		}
		c.SourceDays = append(c.SourceDays, sd)
		c.Result.Events += sd.Selected
		e.mu.Lock()
		prog.DaysDone++
		e.mu.Unlock()
	}
	c.TermReport = terms.report()
	for _, id := range rec.Request.MessageIDs {
		if !found[id] && !slices.Contains(c.MessageIDsNotFound, id) {
			c.MessageIDsNotFound = append(c.MessageIDsNotFound, id)
		}
	}
	if c.Result.Events == 0 {
		c.NoMatch = noMatch(rec.Request, from, to, scanned)
	}
	if x, ok := enc.(Summarizer); ok {
		if err := x.Summarize(Summary{NoMatch: c.NoMatch, TermReport: c.TermReport}); err != nil {
			return nil, fmt.Errorf("%s encoder: summary: %w", rec.Request.Format, err)
		}
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

// noMatch says plainly that a task found nothing: the filters it applied and the days it
// searched, so that an empty result can never pass for a complete one.
func noMatch(r Request, from, to archiver.Day, scanned int64) string {
	var f []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			// As typed: json.Marshal would write R&D as R\u0026D for people to read.
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(v)
			f = append(f, name+" "+strings.TrimSuffix(b.String(), "\n"))
		}
	}
	add("chatIds", r.ChatIDs)
	add("userIds", r.UserIDs)
	// Custodians are a filter like any other: left out, a custodian task finding nothing
	// read "the task has no filter" (or named only its chats, as if they were empty).
	add("custodianIds", r.CustodianIDs)
	add("messageIds", r.MessageIDs)
	add("terms", r.Terms)
	if r.Since != "" {
		f = append(f, "since "+r.Since)
	}
	if r.Until != "" {
		f = append(f, "until "+r.Until)
	}
	days := dayCount(from, to)
	if len(f) == 0 {
		return fmt.Sprintf("no record matched: the task has no filter, and the %d sealed day(s) searched, %s to %s, hold no record",
			days, from, to)
	}
	return fmt.Sprintf("no record matched: the filters %s, in the %d sealed day(s) searched, %s to %s (%d records read)",
		strings.Join(f, ", "), days, from, to, scanned)
}

// day feeds one sealed day's records, filtered, to the encoder, and checks that what it
// read is what the manifest says: the same count and SHA-256 of the JSONL.
func (e *Engine) day(ctx context.Context, enc Encoder, m *archiver.StoredManifest, keep func(*model.Event) bool) (SourceDay, error) {
	sd := SourceDay{Date: m.Date, Revision: m.Revision, ManifestSHA256: hex.EncodeToString(m.SHA256[:]),
		JSONLSHA256: m.Data.JSONLSHA256, Records: m.Data.Records}
	// The version the manifest names, where the store keeps versions (issue 10.6).
	rc, err := openData(ctx, ledger.Ledger{Store: e.Store}, m)
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

// newFilter returns the request's record filter, given the custodians' memberships found
// by custodianMemberships, its term matcher (nil without terms), which counts the term
// report of what the filter keeps, and the set of the request's messageIds seen among the
// records it is given, whatever the other selections decide. Empty sets select
// everything; every given selection must match (AND).
func newFilter(r Request, mem memberships) (func(*model.Event) bool, *termMatcher, map[string]bool) {
	chats := set(r.ChatIDs)
	users := set(r.UserIDs)
	custodians := set(r.CustodianIDs)
	messages := set(r.MessageIDs)
	var since, until int64 = math.MinInt64, math.MaxInt64
	if t, err := parseInstant(r.Since); err == nil {
		// Epoch milliseconds, rounded up: an event at 09:30:00.000 is not since 09:30:00.0005.
		since = ceilMillis(t)
	}
	if t, err := parseInstant(r.Until); err == nil {
		until = ceilMillis(t)
	}
	terms := newTermMatcher(r.Terms)
	found := map[string]bool{}
	return func(e *model.Event) bool {
		// First, so that a message counts as found whatever the other selections decide.
		if messages != nil {
			if !messages[e.MessageID] {
				return false
			}
			found[e.MessageID] = true
		}
		if chats != nil && !chats[e.ChatID] {
			return false
		}
		if e.EventTimestamp < since || e.EventTimestamp >= until {
			return false
		}
		if users != nil && !sentOrNamed(e, users) {
			return false
		}
		if custodians != nil && !sentOrNamed(e, custodians) &&
			!slices.ContainsFunc(r.CustodianIDs, func(k string) bool { return mem.in(k, e.ChatID, e.EventTimestamp) }) {
			return false
		}
		// Last, so that the term report counts only records every other filter kept.
		return terms == nil || terms.match(e)
	}, terms, found
}

// sentOrNamed reports whether one of ids sent e, or e adds or removes one of them from a
// chat (membersChanged): a person's joining and leaving are part of their record.
func sentOrNamed(e *model.Event, ids map[string]bool) bool {
	if ids[e.Sender.ID] {
		return true
	}
	if e.ContentType == model.ContentMembersChanged {
		return slices.ContainsFunc(e.Content.Added, func(p model.Participant) bool { return ids[p.ID] }) ||
			slices.ContainsFunc(e.Content.Removed, func(p model.Participant) bool { return ids[p.ID] })
	}
	return false
}

// ceilMillis is t in epoch milliseconds, rounded up. Not through UnixNano: nanoseconds
// overflow int64 outside 1678..2262, and RFC 3339 allows any year 0000..9999 (an until in
// the year 3000 wrapped to before 1970 and emptied the task).
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 { // UnixMilli floors, before 1970 too
		ms++
	}
	return ms
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
	// The link is the creator's: revoking the token that created the task ends it.
	link, expires := e.Links.Make(e.BaseURL, rec.Org, rec.TaskID, rec.CreatedBy, e.Now())
	subject := rec.Request.Subject
	if subject == "" {
		subject = fmt.Sprintf("chatvault export %s to %s is ready", rec.Request.From, rec.Request.To)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The export task %s of %s (%s to %s, %s) is ready.\n\n", rec.TaskID, rec.OrgName, rec.Request.From, rec.Request.To, rec.Request.Format)
	fmt.Fprintf(&b, "Download (works until %s):\n%s\n\n", expires.UTC().Format(time.RFC3339), link)
	fmt.Fprintf(&b, "%d events, %d bytes, SHA-256 %s.\n", c.Result.Events, c.Result.Size, c.Result.SHA256)
	fmt.Fprintf(&b, "A new link can be had from GET /v1/exports/tasks/%s until the result expires.\n", rec.TaskID)
	to := recipients(rec)
	var err error
	tries := 0
	for {
		tries++
		if err = e.Mailer.Send(ctx, to, subject, b.String()); err == nil {
			e.metrics.mails.WithLabelValues("sent").Inc()
			break
		}
		// A failure for now (archiver/smtp's Temporary: a 4xx, an unreachable relay) is
		// tried again: failing the task would lose its result, swept an hour later.
		var te interface{ Temporary() bool }
		if tries > len(e.MailRetries) || !errors.As(err, &te) || !te.Temporary() {
			if ctx.Err() == nil { // a shutdown's cut is no failure: the task is handed back
				e.metrics.mails.WithLabelValues("failed").Inc()
			}
			break
		}
		e.metrics.mails.WithLabelValues("retried").Inc()
		wait := e.MailRetries[tries-1]
		e.Logger.Warn("export task mail failed for now; trying again", "org", rec.Org, "task", rec.TaskID, "try", tries, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.After(wait):
		}
	}
	if err != nil {
		// archiver/smtp's errors name the relay, which is the operator's: the task's
		// error gets the relay's answer, the log the whole error.
		msg := err.Error()
		var pe interface{ Public() string }
		if errors.As(err, &pe) {
			msg = pe.Public()
		}
		if tries > 1 {
			msg = fmt.Sprintf(" after %d tries: %s", tries, msg)
		} else {
			msg = ": " + msg
		}
		return &taskError{msg: "email delivery failed" + msg, err: err}
	}
	c.EmailedTo = to
	return nil
}

// recipients are the request's addresses, then its users' (as recorded at creation), each
// mailbox once: as first listed, whatever the case of its domain, which DNS ignores (a
// local part's case is the mailbox's own, RFC 5321 2.4).
func recipients(rec *record) []string {
	var to []string
	seen := make(map[string]bool)
	for _, a := range slices.Concat(rec.Request.ToEmails, rec.UserEmails) {
		key := a
		if i := strings.LastIndexByte(a, '@'); i >= 0 {
			key = a[:i] + strings.ToLower(a[i:])
		}
		if !seen[key] {
			seen[key] = true
			to = append(to, a)
		}
	}
	return to
}

type metrics struct {
	created  *prometheus.CounterVec
	finished *prometheus.CounterVec
	events   *prometheus.CounterVec
	expired  prometheus.Counter
	orphaned prometheus.Counter
	queued   prometheus.Gauge
	running  prometheus.Gauge
	claims   *prometheus.CounterVec
	mails    *prometheus.CounterVec
}

func (m *metrics) init() {
	m.created = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_tasks_created_total", Help: "Export tasks created, by format."}, []string{"format"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_tasks_finished_total", Help: "Export tasks finished, by outcome (completed, failed)."}, []string{"state"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_task_events_total", Help: "Events written into export task results, by format."}, []string{"format"})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_export_task_results_expired_total", Help: "Export task results deleted after retention."})
	m.orphaned = prometheus.NewCounter(prometheus.CounterOpts{Name: "chatvault_export_task_results_orphaned_total", Help: "Export task results deleted because their finished task does not name them."})
	m.queued = prometheus.NewGauge(prometheus.GaugeOpts{Name: "chatvault_export_tasks_queued", Help: "Export tasks waiting for a worker."})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: "chatvault_export_tasks_running", Help: "Export tasks running."})
	m.claims = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_task_claims_total",
		Help: "Export task claim events on this replica: taken_over (from a replica whose claim expired), handed_back (at shutdown), lost (to another replica)."}, []string{"event"})
	for _, ev := range []string{"taken_over", "handed_back", "lost"} {
		m.claims.WithLabelValues(ev) // from zero, so the first one shows as an increase
	}
	m.mails = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatvault_export_task_mails_total",
		Help: "Export task mails by outcome: sent, retried (failed for now, tried again), failed (the task failed with it)."}, []string{"outcome"})
	for _, o := range []string{"sent", "retried", "failed"} {
		m.mails.WithLabelValues(o)
	}
}

func (m *metrics) register(r prometheus.Registerer) {
	r.MustRegister(m.created, m.finished, m.events, m.expired, m.orphaned, m.queued, m.running, m.claims, m.mails)
}

// CheckLink verifies a download link's query for task id (see Links.Check) at the
// engine's time, and returns the organization it was made for and the holder it was
// issued to (an API token's id, or "cli:<user>"), whose validity the caller checks.
func (e *Engine) CheckLink(id string, q url.Values) (org, by string, err error) {
	e.init()
	if !ValidID(id) {
		return "", "", ErrLinkInvalid
	}
	return e.Links.Check(id, q, e.Now())
}
