package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/prometheus/client_golang/prometheus"
)

// hungUp is a response writer whose client hangs up after keep bytes: every later Write
// fails as a write to a closed socket does.
type hungUp struct {
	header http.Header
	status int
	keep   int
}

func (h *hungUp) Header() http.Header { return h.header }
func (h *hungUp) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *hungUp) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	if len(p) <= h.keep {
		h.keep -= len(p)
		return len(p), nil
	}
	n := h.keep
	h.keep = 0
	return n, syscall.EPIPE
}

// serveHungUp runs one request through h into a client that hangs up after keep bytes. The
// handler cuts the connection (http.ErrAbortHandler) when a transfer is incomplete.
func serveHungUp(t *testing.T, h http.Handler, req *http.Request, keep int) *hungUp {
	t.Helper()
	w := &hungUp{header: http.Header{}, keep: keep}
	func() {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				t.Fatalf("handler panicked: %v", v)
			}
		}()
		h.ServeHTTP(w, req)
	}()
	return w
}

// TestClientHangUpIsNotAnIntegrityFailure: a client that goes away in the middle of a
// download (a closed laptop, a cancelled curl, a proxy's timeout) leaves an incomplete
// transfer in the audit, but says nothing about the stored object: it must not count in
// chatvault_http_integrity_failures_total, whose alert (ChatvaultStoredObjectMismatch,
// critical) tells the operator the store was tampered with. An alarm that fires on every
// hang-up is an alarm nobody reads, and then a real tampering passes unseen.
func TestClientHangUpIsNotAnIntegrityFailure(t *testing.T) {
	for _, mode := range []struct {
		name    string
		maxSize int64 // Server.VerifyFirstMaxSize
	}{{"verify first", 0}, {"streamed, last chunk held back", -1}} {
		for _, what := range []string{"export identity", "export gzip", "task download"} {
			t.Run(mode.name+"/"+what, func(t *testing.T) {
				audited := make(chan audit.Record, 8)
				var srv *httpapi.Server
				var engine *exporttask.Engine
				f := newFixture(t, func(s *httpapi.Server) {
					s.VerifyFirstMaxSize = mode.maxSize
					s.Audit = auditSignal{s.Audit, audited}
					engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
						Links: exporttask.Links{Key: []byte("test-key-test-key-test-key-test-")}, TempDir: t.TempDir()}
					s.Tasks = engine
					srv = s
				})
				// A handler of its own, with its own registry, that the test can hand a
				// writer whose client hangs up.
				reg := prometheus.NewRegistry()
				srv.Registerer, srv.Gatherer = reg, reg
				h := srv.Handler()

				var req *http.Request
				switch what {
				case "task download":
					id, err := engine.Create(context.Background(), acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
					if err != nil {
						t.Fatal(err)
					}
					if st, err := engine.Execute(context.Background(), acme, id); err != nil || st.State != exporttask.StateCompleted {
						t.Fatalf("execute: %v %+v", err, st)
					}
					st, err := engine.Status(context.Background(), acme, id)
					if err != nil {
						t.Fatal(err)
					}
					link, _ := engine.Link("", st, f.tokenID(t, "acme"))
					req = httptest.NewRequest("GET", link, nil)
				default:
					req = httptest.NewRequest("POST", "/messageevent.export", strings.NewReader(date(sample)))
					req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
					if what == "export gzip" {
						req.Header.Set("Accept-Encoding", "gzip")
					}
				}
				w := serveHungUp(t, h, req, 100)
				rec := <-audited
				if w.status != http.StatusOK || rec.Complete {
					t.Fatalf("status %d, audit complete=%v; want a 200 cut short, audited incomplete", w.status, rec.Complete)
				}
				fams, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				for _, fam := range fams {
					if fam.GetName() == "chatvault_http_integrity_failures_total" {
						if v := counterValue(fam.Metric[0]); v != 0 {
							t.Fatalf("a client that hung up counts as %v integrity failure(s): the stored object is intact", v)
						}
						return
					}
				}
				t.Fatal("chatvault_http_integrity_failures_total is not registered")
			})
		}
	}
	reliability.Record(t, "fault", "client hangs up in the middle of a download (export or task result)", reliability.CleanFailure,
		"audited as an incomplete transfer; not counted as an integrity failure, so the tampering alert fires only for stored bytes that differ")
}

// TestHeadOfADownloadIsNotAuditedAsADownload: net/http answers HEAD with a GET route's
// handler and drops the body, so a HEAD of a task's download link ran the whole download
// and the audit recorded a complete transfer of every byte, none of which left. The audit
// must not say data left when none did: HEAD of a link is refused (405, Allow: GET).
func TestHeadOfADownloadIsNotAuditedAsADownload(t *testing.T) {
	f, engine, id, audited := auditedTask(t)
	st, err := engine.Status(context.Background(), acme, id)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := engine.Link(f.url, st, f.tokenID(t, "acme"))
	resp, err := client.Head(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case rec := <-audited:
		if rec.Complete || rec.Bytes > 0 {
			t.Fatalf("HEAD %d audited as a transfer of %d bytes, complete=%v", resp.StatusCode, rec.Bytes, rec.Complete)
		}
	default:
	}
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("HEAD of a download link: %d, Allow %q; want 405, Allow: GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// The link still works with GET, and that is audited as the download it is.
	resp, err = client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if rec := <-audited; resp.StatusCode != 200 || !rec.Complete || rec.Bytes != st.Result.Size {
		t.Fatalf("GET after HEAD: %d, audit %+v", resp.StatusCode, rec)
	}
	reliability.Record(t, "security", "HEAD of an export task's download link", reliability.Refused,
		"405 with Allow: GET; the audit never records a transfer that sent no byte")
}

// TestOneLinkNeverLocksOutAnothers: behind a proxy every client shares one address. A
// valid download link was limited per address (http.clientRate), so one organization
// fetching its own link in a loop used up the address's budget and every other
// organization's links got 429. A valid link, like a valid token, is limited by its own
// bucket (http.tokenRate per task) and nothing else.
func TestOneLinkNeverLocksOutAnothers(t *testing.T) {
	var engine *exporttask.Engine
	f := newFixture(t, func(s *httpapi.Server) {
		s.ClientRate, s.ClientBurst = 1, 2
		s.TokenRate, s.TokenBurst = 1, 2
		engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key-test-key-test-key-test-")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	link := func(org string) string {
		id, err := engine.Create(context.Background(), org, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := engine.Execute(context.Background(), org, id)
		if err != nil || st.State != exporttask.StateCompleted {
			t.Fatalf("execute: %v %+v", err, st)
		}
		name := map[string]string{acme: "acme", globex: "globex"}[org]
		l, _ := engine.Link(f.url, st, f.tokenID(t, name))
		return l
	}
	acmeLink, globexLink := link(acme), link(globex)
	get := func(l string) int {
		resp, err := client.Get(l)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	limited := false
	for range 10 { // the fake clock stands still: no bucket refills
		if get(acmeLink) == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("ten downloads of one link in the same instant were never limited")
	}
	if code := get(globexLink); code != http.StatusOK {
		t.Fatalf("another organization's link from the same address: %d after the first was limited, want 200", code)
	}
	reliability.Record(t, "security", "one organization hammers its own download link behind a shared proxy address", reliability.Refused,
		"that link gets 429 (its own bucket, http.tokenRate); other organizations' links from the same address are still served")
}

// auditedTask serves a fixture whose audit records are also sent to audited, with an
// export task engine, and returns them with a completed task of Acme's sample day.
func auditedTask(t *testing.T) (f *fixture, engine *exporttask.Engine, id string, audited chan audit.Record) {
	t.Helper()
	audited = make(chan audit.Record, 8)
	f = newFixture(t, func(s *httpapi.Server) {
		s.Audit = auditSignal{s.Audit, audited}
		engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("test-key-test-key-test-key-test-")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	id, err := engine.Create(context.Background(), acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := engine.Execute(context.Background(), acme, id); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("execute: %v %+v", err, st)
	}
	return f, engine, id, audited
}
