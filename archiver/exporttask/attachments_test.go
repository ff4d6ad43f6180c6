package exporttask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/archiver/attach"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// TestJSONAttachmentIndex: a json task with attachmentIndex gives each day what the day's
// attachment index says of the selected records' links (and only theirs), naming the index
// revision read (in the status too, for json and jsonl); html and rsmf refuse the option.
func TestJSONAttachmentIndex(t *testing.T) {
	f := attachtest.New(t)
	e := &exporttask.Engine{
		Store:     f.Store,
		Directory: func(context.Context) (*model.Directory, error) { return f.Directory, nil },
		// html's encoder is a stand-in: the request is refused before any is made.
		Formats: map[string]exporttask.NewEncoder{"json": exporttask.NewJSON, "jsonl": exporttask.NewJSONL, "html": exporttask.NewJSONL},
		Links:   exporttask.Links{Key: []byte("0123456789abcdef0123456789abcdef")},
		TempDir: t.TempDir(),
	}
	ctx := context.Background()
	type doc struct {
		Days []struct {
			AttachmentIndex *struct {
				Key     string         `json:"key"`
				SHA256  string         `json:"sha256"`
				Entries []attach.Entry `json:"entries"`
			} `json:"attachmentIndex"`
		} `json:"days"`
	}
	get := func(req exporttask.Request) doc {
		t.Helper()
		id, err := e.Create(ctx, attachtest.Acme, "test", req)
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.Execute(ctx, attachtest.Acme, id)
		if err != nil || st.State != exporttask.StateCompleted {
			t.Fatalf("task: %v %+v", err, st)
		}
		_, rc, err := e.OpenResult(ctx, attachtest.Acme, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		var d doc
		if err := json.Unmarshal(gunzip(t, bytes.NewReader(b)), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Days) != 1 {
			t.Fatalf("%d days", len(d.Days))
		}
		return d
	}
	base := exporttask.Request{From: attachtest.Date, To: attachtest.Date, Format: "json"}
	if d := get(base); d.Days[0].AttachmentIndex != nil {
		t.Error("attachmentIndex present without the option")
	}
	for _, c := range []struct {
		messages []string
		want     []string // messageId:outcome per entry
	}{
		{nil, []string{"m-1:captured", "m-1:failed", "m-2:captured", "m-2:captured"}},
		{[]string{"m-2"}, []string{"m-2:captured", "m-2:captured"}},
	} {
		req := base
		req.AttachmentIndex, req.MessageIDs = true, c.messages
		ix := get(req).Days[0].AttachmentIndex
		if ix == nil || ix.Key == "" || len(ix.SHA256) != 64 {
			t.Fatalf("messages %v: attachmentIndex %+v", c.messages, ix)
		}
		var got []string
		for _, en := range ix.Entries {
			got = append(got, en.MessageID+":"+en.Outcome)
			if en.Outcome == attach.Captured && en.SHA256 == "" {
				t.Errorf("captured entry without its SHA-256: %+v", en)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("messages %v: entries %v, want %v", c.messages, got, c.want)
		}
	}
	// jsonl: the status names the index revision read.
	req := base
	req.Format, req.AttachmentIndex = "jsonl", true
	id, err := e.Create(ctx, attachtest.Acme, "test", req)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.Execute(ctx, attachtest.Acme, id)
	if err != nil || st.State != exporttask.StateCompleted {
		t.Fatalf("jsonl task: %v %+v", err, st)
	}
	if ref := st.SourceDays[0].AttachmentIndex; ref == nil || ref.Key == "" || len(ref.SHA256) != 64 || ref.Revision != 1 ||
		ref.Captured != 3 || ref.Failed != 1 {
		t.Errorf("jsonl status: source day's attachmentIndex %+v, want revision 1 with 3 captured and 1 failed", ref)
	}
	req.Format = "html"
	var fe *exporttask.FieldError
	if _, err := e.Create(ctx, attachtest.Acme, "test", req); !errors.As(err, &fe) || fe.Field != "attachmentIndex" {
		t.Fatalf("html with attachmentIndex: %v, want a field error", err)
	}
	reliability.Record(t, "input", "json export task with attachmentIndex, filtered to one message", reliability.Kept,
		"each day lists the attachment index entries of its selected records only, with the index revision's key and SHA-256; a jsonl task's status names the revision; html and rsmf refuse the option")
}
