package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/scheduler"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

var taskDays = []string{"2026-11-20", "2026-11-21", "2026-11-22"}

// taskArchive generates three days with gen, seals them into store with run (both in the
// reference binary: the tests serve this archive, they do not test its seal), and returns
// two archiving organizations that have records on every day.
func taskArchive(t *testing.T, store string) (eventlog string, orgs []string) {
	t.Helper()
	eventlog = t.TempDir()
	for i, d := range taskDays {
		if code, _, errOut := reference(t, "gen", "--date", d, "--events", "4000", "--orgs", "6", "--seed", string(rune('1'+i)), "--out", eventlog); code != exitOK {
			t.Fatalf("gen %s: %d %s", d, code, errOut)
		}
	}
	if code, _, errOut := reference(t, "run", "--from", taskDays[0], "--to", taskDays[2], "--eventlog", eventlog, "--store", store, "--log-level", "error"); code != exitOK {
		t.Fatalf("run: %d %s", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(eventlog, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := model.ParseDirectory(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, o := range dir.Organizations {
		rows, err := ledger.Ledger{Store: s}.Status(context.Background(), o.ID, day(taskDays[0]), day(taskDays[2]))
		if err != nil {
			t.Fatal(err)
		}
		full := true
		for _, r := range rows {
			full = full && r.State == ledger.StateSealed
		}
		if full {
			orgs = append(orgs, o.ID)
		}
	}
	if len(orgs) < 2 {
		t.Fatalf("want two organizations with records on every day, have %v", orgs)
	}
	return eventlog, orgs[:2]
}

func day(s string) archiver.Day {
	d, err := archiver.ParseDay(s)
	if err != nil {
		panic(err)
	}
	return d
}

// sealedRange returns the organization's sealed JSONL of the task days, concatenated,
// and its record count.
func sealedRange(t *testing.T, store, org string) ([]byte, int64) {
	t.Helper()
	s, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var all []byte
	var n int64
	for _, d := range taskDays {
		m, rc, err := ledger.Ledger{Store: s}.OpenExport(context.Background(), org, day(d))
		if err != nil {
			t.Fatal(err)
		}
		zr, _ := gzip.NewReader(rc)
		b, err := io.ReadAll(zr)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		n += m.Data.Records
	}
	return all, n
}

// taskServer is a running serve with a fake clock and the export task hooks.
type taskServer struct {
	t     *testing.T
	url   string
	clock *scheduler.FakeClock
	done  chan exporttask.State
	swept chan int
	tick  chan time.Time
	stop  func() int
}

func startTaskServer(t *testing.T, args []string, clock *scheduler.FakeClock, taskStart func(context.Context, string)) *taskServer {
	t.Helper()
	x := &taskServer{t: t, clock: clock, done: make(chan exporttask.State, 16), swept: make(chan int, 16), tick: make(chan time.Time)}
	addr := make(chan string, 1)
	serveHooks.clock = clock
	serveHooks.listening = func(a string) { addr <- a }
	serveHooks.taskStart = taskStart
	serveHooks.taskDone = func(_ string, s exporttask.State) { x.done <- s }
	serveHooks.janitor = x.tick
	serveHooks.expired = func(n int, err error) {
		if err != nil {
			t.Errorf("janitor: %v", err)
		}
		x.swept <- n
	}
	ctx, stop := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	var stderr bytes.Buffer
	go func() { exit <- Main(ctx, append([]string{"serve"}, args...), io.Discard, &stderr) }()
	x.url = "http://" + <-addr
	<-x.swept // the janitor's pass at start
	var once sync.Once
	var code int
	x.stop = func() int {
		once.Do(func() { code = x.shutdown(stop, exit, &stderr) })
		return code
	}
	return x
}

func (x *taskServer) shutdown(stop func(), exit chan int, stderr *bytes.Buffer) int {
	t := x.t
	{
		stop()
		code := <-exit
		serveHooks.clock, serveHooks.listening, serveHooks.taskStart, serveHooks.taskDone = nil, nil, nil, nil
		serveHooks.janitor, serveHooks.expired = nil, nil
		if code != exitOK {
			t.Errorf("serve exit %d: %s", code, stderr.String())
		}
		return code
	}
}

func (x *taskServer) do(method, path, token, body string) (*http.Response, []byte) {
	x.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = x.url + path
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp, b
}

func (x *taskServer) create(token, body string) string {
	x.t.Helper()
	resp, b := x.do("POST", "/v1/exports/tasks", token, body)
	var out struct{ TaskID string }
	if resp.StatusCode != 202 || json.Unmarshal(b, &out) != nil || !exporttask.ValidID(out.TaskID) {
		x.t.Fatalf("create task: %d %s", resp.StatusCode, b)
	}
	return out.TaskID
}

func (x *taskServer) status(token, id string) *exporttask.Status {
	x.t.Helper()
	resp, b := x.do("GET", "/v1/exports/tasks/"+id, token, "")
	var st exporttask.Status
	if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil {
		x.t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	return &st
}

func mint(t *testing.T, common []string, org, name string) string {
	t.Helper()
	code, out, errOut := chatvault(t, append([]string{"token", "create", "--org", org, "--scope", "admin:compliance:read", "--name", name}, common...)...)
	if code != exitOK {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// TestExportTasksEndToEnd drives serve over HTTP: tasks created, run, polled, downloaded
// through two links and checked against the sealed days; refusals; another
// organization's view; link expiry; result expiry by the janitor.
func TestExportTasksEndToEnd(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	eventlog, orgs := taskArchive(t, store)
	org, other := orgs[0], orgs[1]
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_HTTP_TOKENRATE", "0") // the fake clock stands still: no refill
	t.Setenv("CHATVAULT_HTTP_CLIENTRATE", "0")
	t.Setenv("CHATVAULT_EXPORT_TEMPDIR", t.TempDir())
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	tok, otherTok := mint(t, common, org, "investigator"), mint(t, common, other, "other")

	clock := scheduler.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	x := startTaskServer(t, common, clock, nil)
	defer x.stop()

	// Refusals name the field.
	for _, tt := range []struct{ body, field string }{
		{`{"from":"2026-11-20","to":"2026-11-22"}`, "format"},
		{`{"from":"2026-11-20","to":"2026-11-22","format":"pdf"}`, "format"},
		{`{"from":"2026-11-22","to":"2026-11-20","format":"jsonl"}`, "to"},
		{`{"since":"2026-11-20","to":"2026-11-22","format":"jsonl"}`, "since"},
		{`{"from":"2026-11-20","to":"2026-11-22","format":"jsonl","delivery":"email","toEmails":["counsel@example.com"]}`, "delivery"},
		{`{"from":"2026-11-20","to":"2026-11-22","format":"jsonl","chatIds":[` + strings.Repeat(`"c",`, 25) + `"c"]}`, "chatIds"},
		{`{"from":"2026-11-20","to":"2026-11-22","format":"jsonl","userIds":"u"}`, "userIds"},
		{`{"from":"2026-11-20","to":"2026-11-22","format":"jsonl","orgId":"x"}`, "orgId"},
	} {
		resp, b := x.do("POST", "/v1/exports/tasks", tok, tt.body)
		var e struct{ Error, Message, Field string }
		if resp.StatusCode != 400 || json.Unmarshal(b, &e) != nil || e.Error != "invalid_request" || e.Field != tt.field || !strings.HasPrefix(e.Message, tt.field) && !strings.Contains(e.Message, tt.field) {
			t.Errorf("%s: %d %s; want 400 invalid_request naming %s", tt.body, resp.StatusCode, b, tt.field)
		}
	}
	resp, b := x.do("POST", "/v1/exports/tasks", tok, `{"from":"2026-11-20","to":"2026-11-23","format":"jsonl"}`)
	wantError(t, resp, b, 400, "invalid_request") // the 23rd is today
	resp, b = x.do("POST", "/v1/exports/tasks", tok, `{"from":"2026-11-19","to":"2026-11-22","format":"jsonl"}`)
	if resp.StatusCode == 202 {
		t.Fatalf("a range with a day never delivered was accepted: %s", b)
	}

	// The whole range, and one chat of it.
	want, records := sealedRange(t, store, org)
	all := x.create(tok, `{"from":"2026-11-20","to":"2026-11-22","format":"jsonl"}`)
	var chat string
	for line := range bytes.Lines(want) {
		e, _ := model.Decode(bytes.TrimSpace(line))
		chat = e.ChatID
		break
	}
	oneChat := x.create(tok, `{"from":"2026-11-20","to":"2026-11-22","format":"jsonl","chatIds":["`+chat+`"]}`)
	for range 2 {
		if s := <-x.done; s != exporttask.StateCompleted {
			t.Fatalf("task ended %s", s)
		}
	}

	st := x.status(tok, all)
	if st.State != exporttask.StateCompleted || st.Result.Events != records || len(st.SourceDays) != 3 || st.Progress.DaysDone != 3 {
		t.Fatalf("status %+v, result %+v; want completed with %d events from 3 days", st, st.Result, records)
	}
	again := x.status(tok, all)
	if st.URL == "" || st.URL == again.URL {
		t.Fatalf("two status calls gave links %q and %q", st.URL, again.URL)
	}
	if !st.URLExpiresAt.Equal(clock.Now().Add(24 * time.Hour)) {
		t.Errorf("link expires %v, want 24h from now", st.URLExpiresAt)
	}
	for _, link := range []string{st.URL, again.URL} {
		resp, body := x.do("GET", link, "", "")
		sum := sha256.Sum256(body)
		if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != st.Result.SHA256 || int64(len(body)) != st.Result.Size {
			t.Fatalf("download: %d, %d bytes; want %d bytes with SHA-256 %s", resp.StatusCode, len(body), st.Result.Size, st.Result.SHA256)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(zr)
		if !bytes.Equal(got, want) {
			t.Fatal("the downloaded JSONL is not the sealed days'")
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, all+".jsonl.gz") {
			t.Errorf("Content-Disposition %q", cd)
		}
	}
	s, _ := fsstore.New(store)
	for _, sd := range st.SourceDays {
		m, _ := ledger.Ledger{Store: s}.Latest(context.Background(), org, day(sd.Date))
		if sd.ManifestSHA256 != hex.EncodeToString(m.SHA256[:]) || sd.JSONLSHA256 != m.Data.JSONLSHA256 || sd.Records != m.Data.Records {
			t.Errorf("source day %+v does not trace to its manifest", sd)
		}
	}
	s.Close()

	chatSt := x.status(tok, oneChat)
	_, body := x.do("GET", chatSt.URL, "", "")
	zr, _ := gzip.NewReader(bytes.NewReader(body))
	got, _ := io.ReadAll(zr)
	var wantChat []byte
	for line := range bytes.Lines(want) {
		if e, _ := model.Decode(bytes.TrimSpace(line)); e.ChatID == chat {
			wantChat = append(wantChat, line...)
		}
	}
	if !bytes.Equal(got, wantChat) || chatSt.Result.Events != int64(bytes.Count(wantChat, []byte("\n"))) || len(wantChat) == 0 {
		t.Fatalf("one chat: %d events, %d bytes; want the chat's %d bytes", chatSt.Result.Events, len(got), len(wantChat))
	}

	// Another organization sees nothing of it; a tampered link is refused.
	resp, b = x.do("GET", "/v1/exports/tasks/"+all, otherTok, "")
	wantError(t, resp, b, 404, "export_not_found")
	resp, b = x.do("GET", "/v1/exports/tasks", otherTok, "")
	if resp.StatusCode != 200 || strings.Contains(string(b), all) {
		t.Fatalf("another organization's list: %d %s", resp.StatusCode, b)
	}
	resp, b = x.do("GET", "/v1/exports/tasks", tok, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), all) || !strings.Contains(string(b), oneChat) {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	resp, b = x.do("GET", strings.Replace(st.URL, "org="+org, "org="+other, 1), "", "")
	wantError(t, resp, b, 403, "invalid_link")
	resp, b = x.do("GET", "/v1/exports/tasks/"+all+"/download", "", "")
	wantError(t, resp, b, 403, "invalid_link")
	reliability.Record(t, "security", "another organization's token asks for an export task", reliability.Refused, "404 export_not_found; its list does not show the task")

	// Links stop at their expiry; the status hands out new ones until the retention ends.
	clock.Add(24*time.Hour - time.Second)
	if resp, _ := x.do("GET", st.URL, "", ""); resp.StatusCode != 200 {
		t.Fatalf("a link a second before expiry: %d", resp.StatusCode)
	}
	clock.Add(time.Second)
	resp, b = x.do("GET", st.URL, "", "")
	wantError(t, resp, b, 410, "link_expired")
	fresh := x.status(tok, all)
	if resp, _ := x.do("GET", fresh.URL, "", ""); resp.StatusCode != 200 {
		t.Fatalf("a fresh link after the first expired: %d", resp.StatusCode)
	}

	// Past exports.retention (60 days), the janitor deletes the result.
	clock.Set(st.CompletedAt.Add(60 * 24 * time.Hour))
	x.tick <- clock.Now()
	if n := <-x.swept; n != 2 {
		t.Fatalf("janitor deleted %d results, want 2", n)
	}
	expired := x.status(tok, all)
	if expired.State != exporttask.StateExpired || expired.URL != "" || expired.Result.SHA256 != st.Result.SHA256 {
		t.Fatalf("after retention: %+v", expired)
	}
	resp, b = x.do("GET", fresh.URL, "", "")
	wantError(t, resp, b, 410, "link_expired")
	matches, _ := filepath.Glob(filepath.Join(store, "tasks", org, all, "result-*"))
	if len(matches) != 0 {
		t.Fatalf("result still stored: %v", matches)
	}
	reliability.Record(t, "security", "download of an export task result past its retention", reliability.Refused, "status expired without a link; the result object is deleted")

	// Every task request is in the access audit.
	x.stop()
	code, out, errOut := chatvault(t, append([]string{"audit", "--from", "2026-11-23", "--to", "2027-01-31", "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("audit: %s", errOut)
	}
	actions := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status < 400 {
			actions[r.Action]++
		}
	}
	if actions["task.create"] != 2 || actions["task.status"] < 5 || actions["task.download"] < 4 || actions["task.list"] != 2 {
		t.Errorf("audit actions %v", actions)
	}
}

// TestExportTasksSurviveRestart stops serve while one task runs and another waits: both
// complete after the next start.
func TestExportTasksSurviveRestart(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	eventlog, orgs := taskArchive(t, store)
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(t.TempDir(), "tokens.json"))
	t.Setenv("CHATVAULT_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CHATVAULT_SCHEDULE_ENABLED", "false")
	t.Setenv("CHATVAULT_EXPORTS_CONCURRENCY", "1")
	t.Setenv("CHATVAULT_HTTP_TOKENRATE", "0")
	t.Setenv("CHATVAULT_HTTP_CLIENTRATE", "0")
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	tok := mint(t, common, orgs[0], "investigator")
	clock := scheduler.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))

	started := make(chan string, 1)
	x := startTaskServer(t, common, clock, func(ctx context.Context, id string) {
		started <- id
		<-ctx.Done() // the server stops while this task runs
	})
	first := x.create(tok, `{"from":"2026-11-20","to":"2026-11-22","format":"jsonl"}`)
	second := x.create(tok, `{"from":"2026-11-21","to":"2026-11-21","format":"jsonl"}`)
	if id := <-started; id != first {
		t.Fatalf("started %s first", id)
	}
	if st := x.status(tok, first); st.State != exporttask.StateRunning || st.Progress.DaysTotal != 3 {
		t.Errorf("first task: %s %+v", st.State, st.Progress)
	}
	if st := x.status(tok, second); st.State != exporttask.StateQueued {
		t.Errorf("second task: %s", st.State)
	}
	x.stop()

	y := startTaskServer(t, common, clock, nil)
	defer y.stop()
	for range 2 {
		if s := <-y.done; s != exporttask.StateCompleted {
			t.Fatalf("after restart: %s", s)
		}
	}
	want, records := sealedRange(t, store, orgs[0])
	st := y.status(tok, first)
	_, body := y.do("GET", st.URL, "", "")
	zr, _ := gzip.NewReader(bytes.NewReader(body))
	got, _ := io.ReadAll(zr)
	// The shutdown handed the first task back: its cut run is no failed attempt.
	if st.Attempts != 2 || st.HandedBack != 1 || st.Result.Events != records || !bytes.Equal(got, want) {
		t.Fatalf("after restart: %d attempts (%d handed back), %d events (want %d), result equal: %v", st.Attempts, st.HandedBack, st.Result.Events, records, bytes.Equal(got, want))
	}
	if st := y.status(tok, second); st.State != exporttask.StateCompleted || st.Result.Events == 0 || st.Attempts != 1 {
		t.Fatalf("second task after restart: %+v", st)
	}
	reliability.Record(t, "crash", "serve restarted with one export task running and one queued", reliability.Recovered, "both complete after the restart; the result equals the sealed days")
}

// TestExportTaskCLI runs export-task without a server: the result file equals the sealed
// days, and the task is in the store for serve to report.
func TestExportTaskCLI(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	eventlog, orgs := taskArchive(t, store)
	common := []string{"--eventlog", eventlog, "--store", store, "--log-format", "json", "--log-level", "error"}
	out := filepath.Join(t.TempDir(), "range.jsonl.gz")
	code, stdout, errOut := chatvault(t, append([]string{"export-task", "--org", orgs[0], "--from", taskDays[0], "--to", taskDays[2], "--format", "jsonl", "-o", out}, common...)...)
	if code != exitOK {
		t.Fatalf("export-task: %d %s", code, errOut)
	}
	var st exporttask.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("export-task printed %s (%v)", stdout, err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	want, records := sealedRange(t, store, orgs[0])
	if !bytes.Equal(got, want) || st.Result.Events != records {
		t.Fatalf("the result file is not the sealed days")
	}
	if _, err := os.Stat(filepath.Join(store, "tasks", orgs[0], st.TaskID, "completed.json")); err != nil {
		t.Errorf("the task is not in the store: %v", err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--org", orgs[0], "--from", taskDays[0], "--to", taskDays[2], "--format", "pdf"}, "--format"},
		{[]string{"--org", orgs[0], "--from", taskDays[2], "--to", taskDays[0]}, "--to"},
		{[]string{"--from", taskDays[0], "--to", taskDays[2]}, "--org"},
		{[]string{"--org", orgs[0], "--from", taskDays[0], "--to", taskDays[2], "--format", "jsonl", "--custodian", "k-nope", "--chat", "c-nope"}, "c-nope"},
		{[]string{"--org", orgs[0], "--from", taskDays[0], "--to", taskDays[2], "--format", "jsonl", "--custodian", "k-nope"}, "custodianIds"},
	} {
		if code, _, errOut := chatvault(t, append(append([]string{"export-task"}, tt.args...), common...)...); code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("export-task %v: exit %d %q; want 2 naming %s", tt.args, code, errOut, tt.want)
		}
	}
	if code, _, errOut := chatvault(t, append([]string{"export-task", "--org", orgs[0], "--from", taskDays[0], "--to", taskDays[2], "-o", out}, common...)...); code != exitUsage || !strings.Contains(errOut, "exists") {
		t.Errorf("export-task onto an existing file: exit %d %q", code, errOut)
	}
}
