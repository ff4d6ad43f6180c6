package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/storetest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAttachmentNamedRecordMissing: a file whose day's signed index names it as captured
// but whose named record is missing (an index written by a build before named records:
// verify warns of it) is 404 by its SHA-256 alone, which names no day, and served with
// ?date= naming the day whose index names it: one listing and one read of that day's
// index, counted, never the organization's history. The hint reads only the token's
// organization's index: another organization's file, a day whose index does not name
// it and a day without an index are the same 404 as an unknown file.
func TestAttachmentNamedRecordMissing(t *testing.T) {
	var counting *storetest.Counting
	f := newAttachFixture(t, func(s *httpapi.Server) {
		r := s.Attachments.(attach.Reader)
		counting = storetest.NewCounting(r.Store)
		r.Store = counting
		s.Attachments = r
	})
	pdf, plan := f.files["/a.pdf"], f.files["/g.txt"]
	sum := sha256.Sum256(pdf)
	named := attach.Prefix + acme + "/named/" + sha(pdf) + "/" + sample
	if err := os.Remove(filepath.Join(f.store.Dir(), filepath.FromSlash(named))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.store.Dir(), filepath.FromSlash(attach.FileKey(acme, sum)))); err != nil {
		t.Fatal(err)
	}
	_, nobody := get(t, attachmentURL(f, sha([]byte("nobody has this"))), f.tokens["acme"])

	resp, body := get(t, attachmentURL(f, sha(pdf)), f.tokens["acme"])
	checkError(t, resp, body, 404, "attachment_not_found")

	counting.Reset()
	resp, body = get(t, attachmentURL(f, sha(pdf))+"?date="+sample, f.tokens["acme"])
	if resp.StatusCode != 200 || !bytes.Equal(body, pdf) || resp.Header.Get(httpapi.HeaderAttachmentIndex) == "" {
		t.Fatalf("with the day named: %d %q", resp.StatusCode, body)
	}
	n := counting.Reset()
	// Its named records (none), the day's index revisions and the latest one, the file.
	if n.Requests() != 4 || n["List"]+n["ListAfter"] != 2 || n["Open"] != 2 {
		t.Errorf("with the day named: %v store requests, want 4: two listings, the index and the file", n)
	}

	for _, tt := range []struct {
		name, url, token string
		status           int
		code             string
	}{
		{"a day without an index", attachmentURL(f, sha(pdf)) + "?date=2026-11-21", "acme", 404, "attachment_not_found"},
		{"another organization's file, its day named", attachmentURL(f, sha(plan)) + "?date=" + sample, "acme", 404, "attachment_not_found"},
		{"a bad date", attachmentURL(f, sha(pdf)) + "?date=2026-02-30", "acme", 400, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.url, f.tokens[tt.token])
			checkError(t, resp, body, tt.status, tt.code)
			if tt.status == 404 && !bytes.Equal(body, nobody) {
				t.Errorf("the 404 differs from an unknown file's: %s vs %s", body, nobody)
			}
		})
	}
	// With its named record, the hint changes nothing.
	if err := f.store.Create(t.Context(), named, bytes.NewReader(nil), 0, sha256.Sum256(nil), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, attachmentURL(f, sha(pdf))+"?date=2026-11-21", f.tokens["acme"])
	if resp.StatusCode != 200 || !bytes.Equal(body, pdf) {
		t.Fatalf("named, with another day: %d %q", resp.StatusCode, body)
	}
	reliability.Record(t, "input", "a captured file whose day's index names it but whose named record is missing (an index written before named records) is asked for", reliability.Kept,
		"404 by its SHA-256 alone; served with ?date= naming its day: one listing and one read of that day's signed index, never the organization's history; another organization's file is the same 404 as an unknown one")
}
