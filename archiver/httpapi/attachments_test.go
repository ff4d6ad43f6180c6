package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// attachFixture is a sealed day whose links point at a loopback file server, captured for
// acme and globex, served with Attachments set.
type attachFixture struct {
	*fixture
	files map[string][]byte // path on the file server → bytes
}

// attachLine is a text of sender in chat linking urls.
func attachLine(i int, chat, sender, name, email string, urls ...string) string {
	var links []string
	for _, u := range urls {
		links = append(links, attachtest.Link("f", u))
	}
	ts := time.Date(2026, 11, 22, 9, 0, i, 0, time.UTC).UnixMilli()
	return attachtest.Line(ts, chat, fmt.Sprintf("m-att-%d", i), sender, name, email, "see", links...)
}

func newAttachFixture(t *testing.T, tune func(*httpapi.Server)) *attachFixture {
	t.Helper()
	store := newFolderStore(t)
	f := newAttachFixtureOn(t, store, tune)
	f.store = store
	return f
}

// newAttachFixtureOn seals and captures the day into store.
func newAttachFixtureOn(t *testing.T, store archiver.Store, tune func(*httpapi.Server)) *attachFixture {
	t.Helper()
	files := map[string][]byte{
		"/a.pdf": []byte("%PDF-1.7 acme's contract"),
		"/g.txt": []byte("globex's secret plan"),
		// Larger than a streamed chunk (64 KiB), for a cut after some bytes.
		"/big.bin": bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16),
	}
	srv := attachtest.Serve(t, files, func(path string) string {
		if strings.HasSuffix(path, ".pdf") {
			return "application/pdf"
		}
		return "text/plain; charset=utf-8"
	})
	dirBytes, err := os.ReadFile("../../testdata/eventlog/directory.json")
	if err != nil {
		t.Fatal(err)
	}
	logDir := attachtest.Log(t, dirBytes, sample,
		// acme: one captured file and one failed link (404).
		attachLine(1, "chat-acme-team", "u-ada", "Ada Lovelace", "ada@acme.example", srv.URL+"/a.pdf", srv.URL+"/gone.bin", srv.URL+"/big.bin"),
		// globex only (initech does not archive): one captured file.
		attachLine(2, "chat-initech-globex", "u-hank", "Hank Scorpio", "hank@globex.example", srv.URL+"/g.txt"))
	// Indexes are signed, and served only when signed by the trusted key.
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureLog(t, store, logDir, []string{sample}, func(s *httpapi.Server) {
		s.Attachments = attach.Reader{Store: store, TrustedKeys: []ed25519.PublicKey{pub}}
		if tune != nil {
			tune(s)
		}
	})
	attachtest.Capture(t, store, srv.URL, key, f.clock.Now, mustDay(t, sample), acme, globex)
	return &attachFixture{fixture: f, files: files}
}

func attachmentURL(f *attachFixture, sum string) string {
	return f.url + "/v1/exports/attachments/" + sum
}

// TestAttachmentEndpoints serves a day's attachment index and its captured files: the
// index as stored, a file with its recorded type, size and digest; another organization's
// file, a failed link's and an unknown one are the same 404; a bad name is 400, a token
// without the scope 403; every request with a valid token is audited.
func TestAttachmentEndpoints(t *testing.T) {
	for _, tasks := range []bool{false, true} {
		name := "without tasks"
		if tasks {
			name = "with tasks" // the same routes beside /v1/exports/tasks/{id}
		}
		t.Run(name, func(t *testing.T) {
			var tune func(*httpapi.Server)
			if tasks {
				tune = func(s *httpapi.Server) {
					s.Tasks = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
						Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
				}
			}
			testAttachmentEndpoints(t, newAttachFixture(t, tune))
		})
	}
}

func testAttachmentEndpoints(t *testing.T, f *attachFixture) {
	ctx := context.Background()
	day := mustDay(t, sample)

	// The day's index, verbatim.
	stored, err := attach.LatestIndex(ctx, f.archive, acme, day, nil)
	if err != nil || stored == nil {
		t.Fatalf("acme's index: %v %v", stored, err)
	}
	want, err := archiver.ReadAll(ctx, f.archive, stored.Key)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, f.url+"/v1/exports/"+sample+"/attachments", f.tokens["acme"])
	if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get(httpapi.HeaderSHA256) != sha(want) ||
		resp.Header.Get(httpapi.HeaderRevision) != "1" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("index: %d %v\n%s\nwant\n%s", resp.StatusCode, resp.Header, body, want)
	}
	if stored.Counts.Captured != 2 || stored.Counts.Failed != 1 {
		t.Fatalf("acme's index counts: %+v", stored.Counts)
	}

	pdf, plan := f.files["/a.pdf"], f.files["/g.txt"]
	resp, body = get(t, attachmentURL(f, sha(pdf)), f.tokens["acme"])
	if resp.StatusCode != 200 || !bytes.Equal(body, pdf) {
		t.Fatalf("acme's file: %d %q", resp.StatusCode, body)
	}
	for h, v := range map[string]string{
		"Content-Type": "application/pdf", "Content-Length": fmt.Sprint(len(pdf)), "ETag": `"` + sha(pdf) + `"`,
		httpapi.HeaderSHA256: sha(pdf), "X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s: %q, want %q", h, got, v)
		}
	}
	resp, body = get(t, attachmentURL(f, sha(plan)), f.tokens["globex"])
	if resp.StatusCode != 200 || !bytes.Equal(body, plan) || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("globex's file: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	// Refusals: another organization's file answers exactly as a file nobody has.
	unknown := sha([]byte("nobody has this"))
	_, nobody := get(t, attachmentURL(f, unknown), f.tokens["acme"])
	for _, tt := range []struct {
		name, url, token string
		status           int
		code             string
	}{
		{"another organization's file", attachmentURL(f, sha(plan)), "acme", 404, "attachment_not_found"},
		{"the other way", attachmentURL(f, sha(pdf)), "globex", 404, "attachment_not_found"},
		{"unknown file", attachmentURL(f, unknown), "acme", 404, "attachment_not_found"},
		{"upper-case name", attachmentURL(f, strings.ToUpper(sha(pdf))), "acme", 400, "invalid_request"},
		{"short name", attachmentURL(f, sha(pdf)[:60]), "acme", 400, "invalid_request"},
		{"wrong scope (file)", attachmentURL(f, sha(pdf)), "acme-audit", 403, "insufficient_scope"},
		{"wrong scope (index)", f.url + "/v1/exports/" + sample + "/attachments", "acme-audit", 403, "insufficient_scope"},
		{"no token", attachmentURL(f, sha(pdf)), "", 401, "invalid_token"},
		{"no token (index)", f.url + "/v1/exports/" + sample + "/attachments", "", 401, "invalid_token"},
		{"index of a day not sealed", f.url + "/v1/exports/2026-11-21/attachments", "acme", 409, "export_pending"},
		{"index before archival start", f.url + "/v1/exports/2026-05-01/attachments", "globex", 404, "export_not_found"},
		{"index of a bad date", f.url + "/v1/exports/2026-02-30/attachments", "acme", 400, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.url, f.tokens[tt.token])
			checkError(t, resp, body, tt.status, tt.code)
			if tt.code == "attachment_not_found" && strings.Contains(tt.url, "/attachments/") && !bytes.Equal(body, nobody) {
				t.Errorf("the 404 differs from an unknown file's: %s vs %s", body, nobody)
			}
		})
	}

	for _, u := range []string{attachmentURL(f, sha(pdf)), f.url + "/v1/exports/" + sample + "/attachments"} {
		req, _ := http.NewRequest("HEAD", u, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
			t.Errorf("HEAD %s: %d, Allow %q", u, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}

	// The audit: under the token's organization, with the file asked for and what was sent.
	flushAudit(t, f.audit)
	var recs []audit.Record
	if err := f.audit.List(ctx, acme, day, day.Next().Next(), func(r audit.Record) error {
		if r.Action == audit.ActionAttachment || r.Action == audit.ActionAttachmentIndex {
			recs = append(recs, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// index, file, unknown (nobody), 404 (globex's), 404 (unknown), 400, 400, 403, 403, 409 day, 400 date.
	if len(recs) != 11 {
		t.Fatalf("acme's attachment audit records (%d): %+v", len(recs), recs)
	}
	if r := recs[0]; r.Action != audit.ActionAttachmentIndex || r.Status != 200 || r.Date != sample || r.Revision != 1 ||
		!r.Complete || r.SHA256 != sha(want) || r.Bytes != int64(len(want)) {
		t.Errorf("index record: %+v", r)
	}
	if r := recs[1]; r.Action != audit.ActionAttachment || r.Status != 200 || r.Attachment != sha(pdf) || !r.Complete ||
		r.SHA256 != sha(pdf) || r.Bytes != int64(len(pdf)) {
		t.Errorf("file record: %+v", r)
	}
	if r := recs[3]; r.Status != 404 || r.Error != "attachment_not_found" || r.Attachment != sha(plan) || r.Bytes != 0 {
		t.Errorf("another organization's file's record: %+v", r)
	}
	reliability.Record(t, "security", "an organization asks for its captured attachments (GET /v1/exports/{date}/attachments, GET /v1/exports/attachments/{sha256})", reliability.Kept,
		"served the signed index as stored and files its indexes name, with their recorded type and digest, audited; another organization's file is the same 404 as an unknown one")
}

// TestAttachmentNamedOnlyByItsIndex: a file the organization's index records as failed is
// 404, even when the bytes and a named record are in the organization's store (a capture
// stopped before its index, or a planted object): what is served is what the signed index
// names, never what the store happens to hold.
func TestAttachmentNamedOnlyByItsIndex(t *testing.T) {
	f := newAttachFixture(t, nil)
	ctx := context.Background()
	// acme's /gone.bin failed; plant bytes for it in acme's files, and its named record.
	planted := []byte("bytes the index never names")
	sum := sha256.Sum256(planted)
	key := attach.FileKey(acme, sum)
	if err := f.store.Create(ctx, key, bytes.NewReader(planted), int64(len(planted)), sum, archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	named := attach.Prefix + acme + "/named/" + hex.EncodeToString(sum[:]) + "/" + sample
	if err := f.store.Create(ctx, named, bytes.NewReader(nil), 0, sha256.Sum256(nil), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, attachmentURL(f, hex.EncodeToString(sum[:])), f.tokens["acme"])
	checkError(t, resp, body, 404, "attachment_not_found")
	if bytes.Contains(body, planted) {
		t.Error("the planted bytes leaked")
	}
	reliability.Record(t, "security", "a file in the organization's store that its index records as failed or not at all is asked for", reliability.Kept,
		"404 attachment_not_found: only files a signed index names as captured are served")
}

// TestAttachmentStoreDamaged: an index changed in the store (its signature no longer
// checks) is served neither itself nor as the authority for a file, and a file its index
// names that is gone from the store is a 500, not a 404: both are reported to the
// operator (chatvault_http_integrity_failures_total), not hidden.
func TestAttachmentStoreDamaged(t *testing.T) {
	f := newAttachFixture(t, nil)
	ctx := context.Background()
	pdf, big := f.files["/a.pdf"], f.files["/big.bin"]
	if err := os.Remove(filepath.Join(f.store.Dir(), filepath.FromSlash(attach.FileKey(acme, sha256.Sum256(big))))); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, attachmentURL(f, sha(big)), f.tokens["acme"])
	checkError(t, resp, body, 500, "internal")

	ix, err := attach.LatestIndex(ctx, f.store, acme, mustDay(t, sample), nil)
	if err != nil || ix == nil {
		t.Fatalf("index: %v %v", ix, err)
	}
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(ix.Key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, bytes.Replace(b, []byte("/gone.bin"), []byte("/gone.txt"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	before := integrityFailures(t, f)
	resp, body = get(t, f.url+"/v1/exports/"+sample+"/attachments", f.tokens["acme"])
	checkError(t, resp, body, 500, "internal")
	if bytes.Contains(body, []byte("gone")) {
		t.Errorf("the altered index leaked: %s", body)
	}
	resp, body = get(t, attachmentURL(f, sha(pdf)), f.tokens["acme"])
	checkError(t, resp, body, 500, "internal")
	if bytes.Contains(body, pdf) {
		t.Error("a file was served on the word of an altered index")
	}
	if after := integrityFailures(t, f); after != before+2 {
		t.Errorf("integrity failures %v -> %v", before, after)
	}
	reliability.Record(t, "security", "an attachment index is altered in the store, or a file it names deleted, then asked for", reliability.Kept,
		"500 internal, counted in chatvault_http_integrity_failures_total: nothing is served on an index whose signature does not check")
}

// TestAttachmentTampered: a stored file whose bytes no longer hash to their name is never
// served whole: a small one is a clean 500 before its first byte, a large one is cut
// before its last chunk (sendVerified), and the integrity metric counts it.
func TestAttachmentTampered(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		tune       func(*httpapi.Server)
	}{
		// a.pdf fits http.verifyFirstMaxSize: hashed whole before its first byte.
		{"verified first", "/a.pdf", nil},
		// big.bin streams: everything but its last chunk goes out, then the hash fails.
		{"streamed", "/big.bin", func(s *httpapi.Server) { s.VerifyFirstMaxSize = -1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newAttachFixture(t, tt.tune)
			orig := f.files[tt.file]
			path := filepath.Join(f.store.Dir(), filepath.FromSlash(attach.FileKey(acme, sha256.Sum256(orig))))
			tampered := bytes.Clone(orig)
			tampered[len(tampered)-10] ^= 1 // same size, one byte near the end
			os.Chmod(path, 0o600)
			if err := os.WriteFile(path, tampered, 0o600); err != nil {
				t.Fatal(err)
			}
			before := integrityFailures(t, f)
			req, _ := http.NewRequest("GET", attachmentURL(f, sha(orig)), nil)
			req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, rerr := buf.ReadFrom(resp.Body)
			if tt.tune == nil {
				checkError(t, resp, buf.Bytes(), 500, "internal")
			} else if resp.StatusCode != 200 || rerr == nil || int64(buf.Len()) >= int64(len(orig)) || buf.Len() == 0 {
				t.Fatalf("streamed: %d, %d of %d bytes, read error %v; want a cut after some bytes", resp.StatusCode, buf.Len(), len(orig), rerr)
			}
			if bytes.Equal(buf.Bytes(), tampered) {
				t.Fatal("the tampered file was served whole")
			}
			if after := integrityFailures(t, f); after != before+1 {
				t.Errorf("integrity failures %v -> %v", before, after)
			}
		})
	}
	reliability.Record(t, "security", "a captured file is changed in the store after capture and then asked for", reliability.Kept,
		"hashed against its signed index while sent: a clean 500 before any byte, or a cut connection before the last chunk; never served whole, counted")
}

// integrityFailures reads chatvault_http_integrity_failures_total from the fixture's registry.
func integrityFailures(t *testing.T, f *attachFixture) float64 {
	const name = "chatvault_http_integrity_failures_total"
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			return mf.Metric[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestAttachmentsDocumented: the OpenAPI document describes both endpoints, every status
// they answer with, and the error code they add.
func TestAttachmentsDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/exports/{date}/attachments", "/v1/exports/attachments/{sha256}"} {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("GET %s is not documented", path)
			continue
		}
		for _, code := range []string{"200", "400", "401", "403", "404", "405", "429", "500"} {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("GET %s: response %s is not documented", path, code)
			}
		}
	}
	if !bytes.Contains(httpapi.OpenAPI(), []byte(`"`+httpapi.EAttachmentNotFound+`"`)) {
		t.Errorf("the error code %s is not documented", httpapi.EAttachmentNotFound)
	}
}

// TestS3AttachmentEndpoints: the same on MinIO with Object Lock; a new version put under a
// captured file's key (which the bucket's credentials allow, whatever the lock) is not
// served whole.
func TestS3AttachmentEndpoints(t *testing.T) {
	ctx := context.Background()
	store, c, bucket := lockedStore(t)
	f := newAttachFixtureOn(t, store, nil)
	testAttachmentEndpoints(t, f)

	pdf := f.files["/a.pdf"]
	tampered := bytes.Replace(pdf, []byte("acme"), []byte("ACME"), 1)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket),
		Key: aws.String(store.ObjectKey(attach.FileKey(acme, sha256.Sum256(pdf)))), Body: bytes.NewReader(tampered)}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", attachmentURL(f, sha(pdf)), nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	checkError(t, resp, buf.Bytes(), 500, "internal")
	reliability.Record(t, "security", "a new version is put under a captured file's key in the bucket, then the file is asked for", reliability.Kept,
		"500 internal before any byte: the bytes do not hash to the signed index's entry")
}
