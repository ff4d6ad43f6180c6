package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestLinkDiesWithItsToken: a task's download link works only while the API token whose
// status call issued it is valid: once the token is revoked (the tokens file reloaded),
// the link is 403 invalid_link, audited under the organization with the token's id, while
// a link another, live token got for the same task still works, until that token
// expires.
func TestLinkDiesWithItsToken(t *testing.T) {
	var engine *exporttask.Engine
	f := newFixture(t, func(s *httpapi.Server) {
		engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
			Links: exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")}, TempDir: t.TempDir()}
		s.Tasks = engine
	})
	ctx := context.Background()
	id, err := engine.Create(ctx, acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := engine.Execute(ctx, acme, id); err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("execute: %v %+v", err, st)
	}
	link := func(token string) string {
		t.Helper()
		resp, b := f.get(t, "/v1/exports/tasks/"+id, f.tokens[token])
		var st exporttask.Status
		if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || st.URL == "" {
			t.Fatalf("status with %s: %d %s", token, resp.StatusCode, b)
		}
		return st.URL
	}
	revoked, live := link("acme"), link("acme-expiring")
	for _, l := range []string{revoked, live} {
		if resp, body := f.get(t, l, ""); resp.StatusCode != 200 || sha(body) == "" {
			t.Fatalf("download before the revocation: %d %s", resp.StatusCode, body)
		}
	}
	tokenID := f.tokenID(t, "acme")
	if _, err := f.file.Revoke(tokenID); err != nil {
		t.Fatal(err)
	}
	if err := f.file.Write(f.path); err != nil {
		t.Fatal(err)
	}
	if err := f.set.Reload(); err != nil {
		t.Fatal(err)
	}
	resp, body := f.get(t, revoked, "")
	checkError(t, resp, body, 403, "invalid_link")
	if !strings.Contains(string(body), "revoked") {
		t.Errorf("the refusal does not say why: %s", body)
	}
	if resp, body := f.get(t, live, ""); resp.StatusCode != 200 {
		t.Fatalf("another token's link after the revocation: %d %s", resp.StatusCode, body)
	}
	flushAudit(t, f.audit)
	var refused []audit.Record
	day := mustDay(t, sample)
	if err := f.audit.List(ctx, acme, day, day.Next().Next(), func(r audit.Record) error {
		if r.Action == audit.ActionTaskDownload && r.Status == 403 {
			refused = append(refused, r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(refused) != 1 || refused[0].TokenID != tokenID || refused[0].Error != "invalid_link" {
		t.Errorf("refused downloads audited: %+v, want one under token %s", refused, tokenID)
	}
	// A token that expires takes its links with it, however long they were signed for.
	f.clock.Add(time.Hour)
	resp, body = f.get(t, live, "")
	checkError(t, resp, body, 403, "invalid_link")
	reliability.Record(t, "security", "an export task's download link is used after the API token that asked for it is revoked", reliability.Refused,
		"403 invalid_link, audited under the organization and the revoked token's id; a link a live token asked for still works until that token expires")
}

// tokenID is the id of the fixture's token called name.
func (f *fixture) tokenID(t *testing.T, name string) string {
	t.Helper()
	for _, tk := range f.file.Tokens {
		if tk.Name == name {
			return tk.ID
		}
	}
	t.Fatalf("no token %q", name)
	return ""
}
