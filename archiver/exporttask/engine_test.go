package exporttask_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

const (
	acme    = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	initech = "0c1c2e3f-0000-4000-8000-00000000cccc"
)

var days = []string{"2026-11-22", "2026-11-23"}

// fixture is a store with the sample day sealed as 2026-11-22 and 2026-11-23, and an
// engine on it whose clock stands at 2026-11-25.
type fixture struct {
	store *fsstore.Store
	dir   *model.Directory
	clock *scheduler.FakeClock
}

func newFixture(t *testing.T) *fixture { return newKeyedFixture(t, nil) }

// newKeyedFixture is newFixture with the days' manifests signed by key (nil: unsigned).
func newKeyedFixture(t *testing.T, key ed25519.PrivateKey) *fixture {
	t.Helper()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	dir := sealSample(t, store, key)
	return &fixture{store: store, dir: dir, clock: scheduler.NewFakeClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))}
}

// sealSample seals the sample day as 2026-11-22 and 2026-11-23 into store, the manifests
// signed by key (nil: unsigned), and returns the directory.
func sealSample(t *testing.T, store archiver.Store, key ed25519.PrivateKey) *model.Directory {
	t.Helper()
	return sealSampleAs(t, store, key, days)
}

// sealSampleAs is sealSample with the sample day sealed as each of dates.
func sealSampleAs(t *testing.T, store archiver.Store, key ed25519.PrivateKey, dates []string) *model.Directory {
	t.Helper()
	return sealSampleDays(t, store, archiver.Options{SigningKey: key}, dates, nil)
}

// sealSampleDays seals the sample day as each of dates into store, and each of empty as a
// day without any event (its partition closed and empty), with the sealer's options opt
// (its clock, temporary folder and logger set here), and returns the directory.
func sealSampleDays(t *testing.T, store archiver.Store, opt archiver.Options, dates, empty []string) *model.Directory {
	t.Helper()
	root := exporttest.SampleLog(t, dates...)
	for _, d := range empty {
		if err := os.MkdirAll(root+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root+"/"+d+"/_CLOSED", nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := eventlog.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	dirBytes, _ := os.ReadFile(root + "/directory.json")
	opt.Now = func() time.Time { return time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC) }
	opt.Logger = slog.New(slog.DiscardHandler)
	for _, d := range append(append([]string{}, dates...), empty...) {
		opt.TempDir = t.TempDir()
		s := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: opt}
		day, _ := archiver.ParseDay(d)
		if _, err := s.Seal(context.Background(), day, dirBytes, ""); err != nil {
			t.Fatalf("seal %s in layout %d: %v", d, opt.Layout, err)
		}
	}
	dir, err := model.ParseDirectory(dirBytes)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func (f *fixture) engine(t *testing.T, store archiver.Store) *exporttask.Engine {
	if store == nil {
		store = f.store
	}
	return &exporttask.Engine{
		Store:     store,
		Directory: func(context.Context) (*model.Directory, error) { return f.dir, nil },
		Links:     exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
		Now:       f.clock.Now,
		TempDir:   t.TempDir(),
	}
}

// sealedJSONL returns the organization's sealed days' JSONL, concatenated in date order.
func (f *fixture) sealedJSONL(t *testing.T, org string) []byte {
	var all []byte
	for _, d := range days {
		day, _ := archiver.ParseDay(d)
		_, rc, err := ledger.Ledger{Store: f.store}.OpenExport(context.Background(), org, day)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, gunzip(t, rc)...)
		rc.Close()
	}
	return all
}

func gunzip(t *testing.T, r io.Reader) []byte {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run creates a task of acme and executes it in the test's goroutine.
func run(t *testing.T, e *exporttask.Engine, req exporttask.Request) (*exporttask.Status, []byte) {
	t.Helper()
	return attachtest.Run(t, e, acme, req)
}

// TestJSONLIsTheSealedDays: with no filter, the result is exactly the sealed days'
// JSONL one after the other, and the status traces it to their manifests.
func TestJSONLIsTheSealedDays(t *testing.T) {
	f := newFixture(t)
	st, b := run(t, f.engine(t, nil), exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if st.State != exporttask.StateCompleted {
		t.Fatalf("state %s: %s", st.State, st.Error)
	}
	want := f.sealedJSONL(t, acme)
	if got := gunzip(t, bytes.NewReader(b)); !bytes.Equal(got, want) {
		t.Fatalf("result differs from the sealed days:\n%s\nwant\n%s", got, want)
	}
	if n := int64(bytes.Count(want, []byte("\n"))); st.Result.Events != n || n == 0 {
		t.Errorf("events %d, want %d", st.Result.Events, n)
	}
	if st.Progress != (exporttask.Progress{DaysDone: 2, DaysTotal: 2}) || st.Attempts != 1 {
		t.Errorf("progress %+v, attempts %d", st.Progress, st.Attempts)
	}
	if len(st.SourceDays) != 2 {
		t.Fatalf("source days %+v", st.SourceDays)
	}
	for i, sd := range st.SourceDays {
		day, _ := archiver.ParseDay(days[i])
		m, _ := ledger.Ledger{Store: f.store}.Latest(context.Background(), acme, day)
		if sd.Date != days[i] || sd.ManifestSHA256 != hex.EncodeToString(m.SHA256[:]) || sd.JSONLSHA256 != m.Data.JSONLSHA256 || sd.Selected != m.Data.Records {
			t.Errorf("source day %+v does not match manifest %s", sd, m.Key)
		}
	}
	if st.Result.Filename != st.TaskID+".jsonl.gz" || st.Result.ContentType != "application/gzip" {
		t.Errorf("result %+v", st.Result)
	}
	// The same request again gives the same bytes: results are deterministic, which is
	// what makes re-running a task after a crash safe.
	_, again := run(t, f.engine(t, nil), exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if !bytes.Equal(again, b) {
		t.Error("a second run of the same request gave other bytes")
	}
}

func TestFilters(t *testing.T) {
	f := newFixture(t)
	all := f.sealedJSONL(t, acme)
	var records []model.Event
	for line := range bytes.Lines(all) {
		e, err := model.Decode(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, e)
	}
	tests := []struct {
		name  string
		chats []string
		users []string
		want  func(e model.Event) bool
	}{
		{"one chat", []string{"chat-acme-team"}, nil, func(e model.Event) bool { return e.ChatID == "chat-acme-team" }},
		{"one sender, with the members they changed", nil, []string{"u-hank"}, func(e model.Event) bool { return e.Sender.ID == "u-hank" }},
		// o-guest is removed by Ada's membersChanged: the custodian's leaving is theirs too.
		{"a member removed", nil, []string{"o-guest"}, func(e model.Event) bool {
			return e.Sender.ID == "o-guest" || e.ContentType == model.ContentMembersChanged
		}},
		{"chat and user together", []string{"chat-acme-globex"}, []string{"u-ada"}, func(e model.Event) bool {
			return e.ChatID == "chat-acme-globex" && e.Sender.ID == "u-ada"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []byte
			for _, e := range records {
				if tt.want(e) {
					want = append(model.AppendJSON(want, &e), '\n')
				}
			}
			st, b := run(t, f.engine(t, nil), exporttask.Request{From: days[0], To: days[1], Format: "jsonl", ChatIDs: tt.chats, UserIDs: tt.users})
			if got := gunzip(t, bytes.NewReader(b)); !bytes.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
			if st.Result.Events != int64(bytes.Count(want, []byte("\n"))) {
				t.Errorf("events %d", st.Result.Events)
			}
		})
	}
}

func TestCreateRefuses(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("id-%d", i)
		}
		return out
	}
	ok := exporttask.Request{From: days[0], To: days[1], Format: "jsonl"}
	with := func(change func(r *exporttask.Request)) exporttask.Request {
		r := ok
		change(&r)
		return r
	}
	tests := []struct {
		name  string
		org   string
		req   exporttask.Request
		field string // the field a *FieldError names
		err   error  // or the error wanted
	}{
		{"impossible day", acme, with(func(r *exporttask.Request) { r.From = "2026-02-30" }), "from", nil},
		{"path in day", acme, with(func(r *exporttask.Request) { r.To = "../../x" }), "to", nil},
		{"reversed range", acme, with(func(r *exporttask.Request) { r.From, r.To = days[1], days[0] }), "to", nil},
		{"since not an instant", acme, with(func(r *exporttask.Request) { r.Since = "2026-11-22" }), "since", nil},
		{"until before since", acme, with(func(r *exporttask.Request) {
			r.Since, r.Until = "2026-11-22T10:00:00Z", "2026-11-22T09:00:00Z"
		}), "until", nil},
		{"until before from", acme, with(func(r *exporttask.Request) { r.Until = "2026-11-21T09:00:00Z" }), "to", nil},
		{"26 messages", acme, with(func(r *exporttask.Request) { r.MessageIDs = ids(26) }), "messageIds", nil},
		{"26 terms", acme, with(func(r *exporttask.Request) { r.Terms = ids(26) }), "terms", nil},
		{"term of no word", acme, with(func(r *exporttask.Request) { r.Terms = []string{`"--"`} }), "terms", nil},
		{"term of two lines", acme, with(func(r *exporttask.Request) { r.Terms = []string{"a\nb"} }), "terms", nil},
		{"today", acme, with(func(r *exporttask.Request) { r.To = "2026-11-25" }), "to", nil},
		{"26 chats", acme, with(func(r *exporttask.Request) { r.ChatIDs = ids(26) }), "chatIds", nil},
		{"26 users", acme, with(func(r *exporttask.Request) { r.UserIDs = ids(26) }), "userIds", nil},
		{"empty user id", acme, with(func(r *exporttask.Request) { r.UserIDs = []string{""} }), "userIds", nil},
		{"no format", acme, with(func(r *exporttask.Request) { r.Format = "" }), "format", nil},
		{"unwired format", acme, with(func(r *exporttask.Request) { r.Format = "rsmf" }), "format", nil},
		{"unknown delivery", acme, with(func(r *exporttask.Request) { r.Delivery = "fax" }), "delivery", nil},
		{"email without a mailer", acme, with(func(r *exporttask.Request) {
			r.Delivery, r.ToEmails = "email", []string{"counsel@acme.example"}
		}), "delivery", nil},
		{"emails with url delivery", acme, with(func(r *exporttask.Request) { r.ToEmails = []string{"a@b.example"} }), "toEmails", nil},
		{"before archival start", acme, with(func(r *exporttask.Request) { r.From = "2025-12-31" }), "from", nil},
		{"archival off", initech, ok, "", exporttask.ErrNoArchive},
		{"unknown organization", "nobody", ok, "", exporttask.ErrNoArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Create(context.Background(), tt.org, "test", tt.req)
			var fe *exporttask.FieldError
			switch {
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Fatalf("Create = %v, want a field error naming %s", err, tt.field)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("Create = %v, want %v", err, tt.err)
			}
		})
	}
	// A range with a day that was never sealed: refused, naming the day, since an export
	// with a hole would look complete.
	_, err := e.Create(context.Background(), acme, "test", with(func(r *exporttask.Request) { r.To = "2026-11-24" }))
	var ue *exporttask.UnsealedError
	if !errors.As(err, &ue) || len(ue.Days) != 1 || !strings.Contains(err.Error(), "2026-11-24 (pending)") {
		t.Fatalf("Create over an unsealed day = %v", err)
	}
	if n := countKeys(t, f.store, archiver.TasksPrefix); n != 0 {
		t.Errorf("refused requests left %d objects under tasks/", n)
	}
	reliability.Record(t, "input", "export task over a day not sealed yet", reliability.Refused, "409 export_pending naming the day; no task")
}

func countKeys(t *testing.T, s archiver.Store, prefix string) int {
	n := 0
	if err := s.List(context.Background(), prefix, func(string) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRestartResumes: tasks queued or interrupted when the engine stops run when it
// starts again; a task that kept stopping the process fails after three attempts.
func TestRestartResumes(t *testing.T) {
	f := newFixture(t)
	first := f.engine(t, nil)
	first.Concurrency = 1
	ctx, stop := context.WithCancel(context.Background())
	started := make(chan string, 4)
	first.OnStart = func(c context.Context, id string) {
		started <- id
		<-c.Done() // the process stops while the task runs
	}
	var ids []string
	for range 2 {
		id, err := first.Create(ctx, acme, "test", exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	done := make(chan error)
	go func() { done <- first.Run(ctx) }()
	<-started
	if st, _ := first.Status(context.Background(), acme, ids[1]); st.State != exporttask.StateQueued {
		t.Errorf("second task %s while the first runs, want queued", st.State)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	second := f.engine(t, nil)
	finished := make(chan exporttask.State, 2)
	second.OnDone = func(_ string, s exporttask.State) { finished <- s }
	ctx2, stop2 := context.WithCancel(context.Background())
	go func() { done <- second.Run(ctx2) }()
	for range 2 {
		if s := <-finished; s != exporttask.StateCompleted {
			t.Fatalf("after restart: %s", s)
		}
	}
	stop2()
	<-done
	want := f.sealedJSONL(t, acme)
	for _, id := range ids {
		st, rc, err := second.OpenResult(context.Background(), acme, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := gunzip(t, rc); !bytes.Equal(got, want) {
			t.Errorf("%s: result differs from the sealed days", id)
		}
		rc.Close()
		if id == ids[0] && st.Attempts != 2 {
			t.Errorf("interrupted task: %d attempts, want 2", st.Attempts)
		}
	}
	reliability.Record(t, "crash", "server stops while an export task runs", reliability.Recovered, "the task is queued again at start and completes with the same bytes")

	// A task whose every run stopped the process is not run a fourth time.
	id, err := second.Create(context.Background(), acme, "test", exporttask.Request{From: days[0], To: days[0], Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		crash(t, f, f.store, fmt.Sprintf("crashed-%d", i), acme, id)
		f.clock.Add(time.Hour) // its claim expires
	}
	st, err := f.engine(t, nil).Execute(context.Background(), acme, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "gave up after 3 attempts") {
		t.Fatalf("after three crashes: %s %q", st.State, st.Error)
	}
	reliability.Record(t, "crash", "export task that stops the process every time", reliability.CleanFailure, "failed after 3 attempts, not retried forever")
}

// tamperedStore serves a sealed export of 2026-11-23 whose bytes differ from its manifest,
// in either layout (layout 3, the default: orgs/<org>/d/2026/11/23.events-…).
type tamperedStore struct{ archiver.Store }

func (s tamperedStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.Store.Open(ctx, key)
	if err != nil || !strings.Contains(key, "/days/2026-11-23/events-") && !strings.Contains(key, "/d/2026/11/23.events-") {
		return rc, err
	}
	defer rc.Close()
	zr, _ := gzip.NewReader(rc)
	b, _ := io.ReadAll(zr)
	b = bytes.Replace(b, []byte("Standup at 9:30"), []byte("Standup at 9:31"), 1)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return io.NopCloser(&buf), nil
}

func TestTamperedDayFailsTheTask(t *testing.T) {
	f := newFixture(t)
	st, _ := run(t, f.engine(t, tamperedStore{f.store}), exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "2026-11-23: the sealed export read back as") {
		t.Fatalf("state %s, error %q", st.State, st.Error)
	}
	if n := countKeys(t, f.store, archiver.TasksPrefix+acme+"/"+st.TaskID+"/result-"); n != 0 {
		t.Errorf("a failed task stored a result")
	}
	reliability.Record(t, "fault", "sealed day's bytes differ from its manifest during an export task", reliability.CleanFailure, "task failed naming the day; no result stored")
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	e.Retention = 48 * time.Hour
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	if n, err := e.Expire(context.Background()); n != 0 || err != nil {
		t.Fatalf("Expire before retention: %d, %v", n, err)
	}
	f.clock.Add(48*time.Hour - time.Second)
	if got, _ := e.Status(context.Background(), acme, st.TaskID); got.State != exporttask.StateCompleted {
		t.Fatalf("a second before retention: %s", got.State)
	}
	f.clock.Add(time.Second)
	got, _ := e.Status(context.Background(), acme, st.TaskID)
	if got.State != exporttask.StateExpired || got.Result == nil || got.Result.SHA256 != st.Result.SHA256 {
		t.Fatalf("at retention: %+v", got)
	}
	if n, err := e.Expire(context.Background()); n != 1 || err != nil {
		t.Fatalf("Expire: %d, %v", n, err)
	}
	if n := countKeys(t, f.store, archiver.TasksPrefix+acme+"/"+st.TaskID+"/result-"); n != 0 {
		t.Fatal("the result is still stored after Expire")
	}
	if _, _, err := e.OpenResult(context.Background(), acme, st.TaskID); !errors.Is(err, exporttask.ErrExpired) {
		t.Fatalf("OpenResult = %v, want ErrExpired", err)
	}
	if n, err := e.Expire(context.Background()); n != 0 || err != nil {
		t.Fatalf("second Expire: %d, %v", n, err)
	}
}

func TestOtherOrganizationSeesNothing(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl"})
	for _, tt := range []struct{ org, id string }{
		{"0b1c2e3f-0000-4000-8000-00000000bbbb", st.TaskID},
		{acme, strings.ToUpper(st.TaskID)},
		{acme, "../" + st.TaskID},
		{acme, "00000000-0000-4000-8000-000000000000"},
	} {
		if _, err := e.Status(context.Background(), tt.org, tt.id); !errors.Is(err, exporttask.ErrTaskNotFound) {
			t.Errorf("Status(%s, %s) = %v, want ErrTaskNotFound", tt.org, tt.id, err)
		}
		if _, _, err := e.OpenResult(context.Background(), tt.org, tt.id); !errors.Is(err, exporttask.ErrTaskNotFound) {
			t.Errorf("OpenResult(%s, %s) = %v, want ErrTaskNotFound", tt.org, tt.id, err)
		}
	}
	if list, _, err := e.ListPage(context.Background(), "0b1c2e3f-0000-4000-8000-00000000bbbb", "", 0); err != nil || len(list) != 0 {
		t.Errorf("another organization lists %d tasks (%v)", len(list), err)
	}
}

func TestLinks(t *testing.T) {
	l := exporttask.Links{Key: []byte("k"), Expiry: time.Hour}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const id = "5f0c0b3e-8a4f-4d7e-9a59-3f3f0e1d2c3b"
	a, exp := l.Make("http://x", acme, id, "tok-1", now)
	b, _ := l.Make("http://x", acme, id, "tok-1", now)
	if a == b {
		t.Fatal("two links are the same")
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expires %v", exp)
	}
	q := func(link string) url.Values {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	edit := func(link, k, v string) url.Values {
		vals := q(link)
		vals.Set(k, v)
		return vals
	}
	tests := []struct {
		name string
		id   string
		q    url.Values
		at   time.Time
		want error
	}{
		{"first link", id, q(a), now, nil},
		{"second link", id, q(b), now.Add(time.Hour - time.Second), nil},
		{"at expiry", id, q(a), now.Add(time.Hour), exporttask.ErrLinkExpired},
		{"other task", "5f0c0b3e-8a4f-4d7e-9a59-3f3f0e1d2c3c", q(a), now, exporttask.ErrLinkInvalid},
		{"other organization", id, edit(a, "org", "0b1c2e3f-0000-4000-8000-00000000bbbb"), now, exporttask.ErrLinkInvalid},
		{"expiry pushed back", id, edit(a, "expires", fmt.Sprint(now.Add(48*time.Hour).Unix())), now, exporttask.ErrLinkInvalid},
		{"no signature", id, edit(a, "sig", ""), now, exporttask.ErrLinkInvalid},
		{"other holder", id, edit(a, "by", "tok-2"), now, exporttask.ErrLinkInvalid},
		{"no holder (a link of before holders)", id, edit(a, "by", ""), now, exporttask.ErrLinkInvalid},
		{"other key", id, q(a), now, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org, by, err := l.Check(tt.id, tt.q, tt.at)
			if !errors.Is(err, tt.want) || (err == nil && (org != acme || by != "tok-1")) {
				t.Fatalf("Check = %q, %q, %v; want %v", org, by, err, tt.want)
			}
		})
	}
	other := exporttask.Links{Key: []byte("other"), Expiry: time.Hour}
	if _, _, err := other.Check(id, q(a), now); !errors.Is(err, exporttask.ErrLinkInvalid) {
		t.Errorf("a link checked with another key: %v", err)
	}
	reliability.Record(t, "security", "download link with a changed organization, task, holder, expiry or key", reliability.Refused, "403 invalid_link")
}

type fakeMailer struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (m *fakeMailer) Send(_ context.Context, to []string, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, strings.Join(to, ",")+"\n"+subject+"\n"+body)
	return m.err
}

func TestEmailSendsTheLinkNotTheData(t *testing.T) {
	f := newFixture(t)
	m := &fakeMailer{}
	e := f.engine(t, nil)
	e.Mailer, e.BaseURL = m, "https://chatvault.acme.example"
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "jsonl", Delivery: "email",
		ToEmails: []string{"counsel@acme.example", "it@acme.example"}, Subject: "Matter 42"})
	if st.State != exporttask.StateCompleted || len(m.sent) != 1 {
		t.Fatalf("state %s %q, %d mails", st.State, st.Error, len(m.sent))
	}
	mail := m.sent[0]
	if !strings.HasPrefix(mail, "counsel@acme.example,it@acme.example\nMatter 42\n") {
		t.Errorf("mail header lines: %q", mail)
	}
	i := strings.Index(mail, "https://chatvault.acme.example/v1/exports/tasks/"+st.TaskID+"/download?")
	if i < 0 {
		t.Fatalf("the mail has no link:\n%s", mail)
	}
	link, _, _ := strings.Cut(mail[i:], "\n")
	u, _ := url.Parse(link)
	if org, by, err := e.Links.Check(st.TaskID, u.Query(), f.clock.Now()); err != nil || org != acme || by != "test" {
		t.Errorf("the mailed link does not check: %v", err)
	}
	if strings.Contains(mail, "Standup") || strings.Contains(mail, "u-ada") {
		t.Errorf("the mail carries data:\n%s", mail)
	}
	if len(st.EmailedTo) != 2 {
		t.Errorf("emailedTo %v", st.EmailedTo)
	}

	m.err = errors.New("550 mailbox unavailable")
	st, _ = run(t, e, exporttask.Request{From: days[0], To: days[0], Format: "jsonl", Delivery: "email", ToEmails: []string{"counsel@acme.example"}})
	if st.State != exporttask.StateFailed || !strings.Contains(st.Error, "email delivery failed: 550") {
		t.Fatalf("with a failing mailer: %s %q", st.State, st.Error)
	}

	// Header injection through the subject or an address never reaches the mailer.
	for _, req := range []exporttask.Request{
		{From: days[0], To: days[0], Format: "jsonl", Delivery: "email", ToEmails: []string{"a@acme.example"}, Subject: "x\r\nBcc: thief@evil.example"},
		{From: days[0], To: days[0], Format: "jsonl", Delivery: "email", ToEmails: []string{"a@acme.example, thief@evil.example"}},
		{From: days[0], To: days[0], Format: "jsonl", Delivery: "email", ToEmails: []string{"Thief <thief@evil.example>"}},
	} {
		var fe *exporttask.FieldError
		if _, err := e.Create(context.Background(), acme, "test", req); !errors.As(err, &fe) {
			t.Errorf("Create(%q, %q) = %v, want a field error", req.Subject, req.ToEmails, err)
		}
	}
	reliability.Record(t, "security", "e-mail header injection in an export task's subject or addresses", reliability.Refused, "400 invalid_request naming subject or toEmails")
}

// upperEncoder is a stand-in format: adding html or rsmf is one entry in Formats.
type upperEncoder struct {
	w    io.Writer
	days []string
}

func (u *upperEncoder) WriteDay(_ context.Context, m *archiver.StoredManifest, next func() (model.Event, error)) error {
	u.days = append(u.days, m.Date)
	for {
		e, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(u.w, "%s %s\n", m.Date, strings.ToUpper(e.MessageID))
	}
}
func (u *upperEncoder) Close() error        { _, err := io.WriteString(u.w, "END\n"); return err }
func (u *upperEncoder) ContentType() string { return "text/plain" }
func (u *upperEncoder) Extension() string   { return ".txt" }

func TestPluggedFormat(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, nil)
	var opts exporttask.FormatOptions
	e.Formats = map[string]exporttask.NewEncoder{
		"jsonl": exporttask.NewJSONL,
		"upper": func(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
			opts = o
			return &upperEncoder{w: w}, nil
		},
	}
	st, b := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "upper", ChatIDs: []string{"chat-acme-team"}})
	if st.State != exporttask.StateCompleted || st.Result.Filename != st.TaskID+".txt" || st.Result.ContentType != "text/plain" {
		t.Fatalf("%+v %+v", st, st.Result)
	}
	if opts.Org != acme || opts.OrgName != "Acme" || opts.TaskID != st.TaskID {
		t.Errorf("encoder options %+v", opts)
	}
	if !strings.HasPrefix(string(b), "2026-11-22 M-001\n") || !strings.HasSuffix(string(b), "END\n") || int64(strings.Count(string(b), "\n")) != st.Result.Events+1 {
		t.Errorf("result:\n%s", b)
	}
}

// closeCounter is a format that records whether Close ran, to show a failed task still
// releases what its encoder holds (spill files, a ZIP's central directory).
type closeCounter struct{ closed *int }

func (c closeCounter) WriteDay(context.Context, *archiver.StoredManifest, func() (model.Event, error)) error {
	return nil
}
func (c closeCounter) Close() error { *c.closed++; return nil }

func TestFailedTaskClosesItsEncoder(t *testing.T) {
	f := newFixture(t)
	e := f.engine(t, tamperedStore{f.store})
	closed := 0
	e.Formats = map[string]exporttask.NewEncoder{
		"count": func(io.Writer, exporttask.FormatOptions) (exporttask.Encoder, error) {
			return closeCounter{&closed}, nil
		},
	}
	st, _ := run(t, e, exporttask.Request{From: days[0], To: days[1], Format: "count"})
	if st.State != exporttask.StateFailed {
		t.Fatalf("state %s, want failed (the second day is tampered)", st.State)
	}
	if closed != 1 {
		t.Errorf("encoder closed %d times after a failed day, want 1", closed)
	}
}

// TestLinkExpiryCapped: a link never works longer than the configured exports.urlExpiry
// from now, whatever its signed expiry says: a link minted under a longer setting (or by
// whoever got hold of the key) is refused once the setting is shorter, even with a valid
// signature. Replicas' clocks may differ by up to LinkClockSkew.
func TestLinkExpiryCapped(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	const id = "5f0c0b3e-8a4f-4d7e-9a59-3f3f0e1d2c3b"
	strict := exporttask.Links{Key: key, Expiry: time.Hour}
	query := func(l exporttask.Links, at time.Time) url.Values {
		link, _ := l.Make("", acme, id, "tok-1", at)
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	for _, tt := range []struct {
		name  string
		query url.Values
		want  error
	}{
		{"minted for 30 days", query(exporttask.Links{Key: key, Expiry: 30 * 24 * time.Hour}, now), exporttask.ErrLinkInvalid},
		{"minted for 2 hours", query(exporttask.Links{Key: key, Expiry: 2 * time.Hour}, now), exporttask.ErrLinkInvalid},
		{"minted for 100 years", query(exporttask.Links{Key: key, Expiry: 100 * 365 * 24 * time.Hour}, now), exporttask.ErrLinkInvalid},
		{"minted now", query(strict, now), nil},
		{"minted by a replica whose clock is ahead", query(strict, now.Add(exporttask.LinkClockSkew)), nil},
		{"minted by a replica whose clock is far ahead", query(strict, now.Add(exporttask.LinkClockSkew+2*time.Second)), exporttask.ErrLinkInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			org, _, err := strict.Check(id, tt.query, now)
			if !errors.Is(err, tt.want) || (err == nil && org != acme) {
				t.Fatalf("Check = %q, %v; want %v", org, err, tt.want)
			}
		})
	}
	reliability.Record(t, "security", "download link with a valid signature but an expiry beyond exports.urlExpiry", reliability.Refused,
		"403 invalid_link: no link works longer than the configured maximum from now")
}
