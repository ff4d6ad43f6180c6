package rsmf

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/internal/attachtest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// encoder is the rsmf format as an export task makes it.
func encoder(w io.Writer, o exporttask.FormatOptions) (exporttask.Encoder, error) {
	return NewWriter(w, Options(o))
}

// TestCapturedAttachmentsInRSMF: the files attach captured for the organization go into
// the .rsmf's rsmf.zip once each, referenced by every event whose link captured them; the
// manifest stays valid against the schema, the 404 is named as not captured, the load
// file lists the files, and Globex's file is in no Acme export.
func TestCapturedAttachmentsInRSMF(t *testing.T) {
	f := attachtest.New(t)
	b := f.Export(t, attachtest.Acme, "rsmf", encoder)
	p := parseProduction(t, b)
	checkProduction(t, p)
	if len(p.files) != 1 {
		t.Fatalf("%d .rsmf files, want 1 (one chat)", len(p.files))
	}
	rf := p.files[0]
	plan := attachtest.SHA256("/plan.png") + ".png"
	notes := attachtest.SHA256("/notes.txt") + ".txt"
	if want := []string{ManifestName, plan, notes}; !slices.Equal(rf.names, want) {
		t.Errorf("rsmf.zip holds %v, want %v (each captured file once)", rf.names, want)
	}
	for name, path := range map[string]string{plan: "/plan.png", notes: "/notes.txt"} {
		if !bytes.Equal(rf.inner[name], attachtest.Files[path]) {
			t.Errorf("%s: %q, want the served bytes of %s", name, rf.inner[name], path)
		}
	}
	if got := rf.header.Get("X-RSMF-AttachmentCount"); got != "2" {
		t.Errorf("X-RSMF-AttachmentCount %s, want 2", got)
	}
	var m manifest
	if err := json.Unmarshal(rf.manifest, &m); err != nil {
		t.Fatal(err)
	}
	refs := map[string][]string{} // event id → attachment ids
	var notCaptured []string
	for _, ev := range m.Events {
		for _, a := range ev.Attachments {
			refs[ev.ID] = append(refs[ev.ID], a.ID+"|"+a.Display+"|"+strconv.FormatInt(a.Size, 10))
		}
		for _, c := range ev.Custom {
			if c.Name == "Attachment not captured" {
				notCaptured = append(notCaptured, ev.ID+": "+c.Value)
			}
		}
	}
	size := func(p string) string { return strconv.Itoa(len(attachtest.Files[p])) }
	want := map[string][]string{
		"m-1": {plan + "|plan.png|" + size("/plan.png")},
		"m-2": {plan + "|plan again.png|" + size("/plan.png"), notes + "|notes.txt|" + size("/notes.txt")},
	}
	for id, w := range want {
		if !slices.Equal(refs[id], w) {
			t.Errorf("event %s references %v, want %v", id, refs[id], w)
		}
	}
	if len(notCaptured) != 1 || !strings.HasPrefix(notCaptured[0], "m-1: "+f.URL+"/missing.pdf (http_status") {
		t.Errorf("not captured: %q, want m-1's missing.pdf with its reason", notCaptured)
	}
	row := p.load[1]
	if row[11] != "2" || row[12] != plan+"; "+notes {
		t.Errorf("load file lists attachments %q, %q", row[11], row[12])
	}
	if bytes.Contains(b, []byte(attachtest.SHA256("/globex.bin"))) {
		t.Error("Globex's file is named in Acme's export")
	}
	reliability.Record(t, "security", "rsmf export of an organization whose records link captured files",
		reliability.Kept, "each captured file of the organization once in the .rsmf's rsmf.zip, referenced by every event linking it, listed in loadfile.csv; a failed capture named with its reason; another organization's files never included")
}

// TestCorruptAttachmentFailsRSMF: a captured file whose stored bytes no longer hash to
// its index's SHA-256 fails the task, naming the file, instead of exporting wrong bytes.
func TestCorruptAttachmentFailsRSMF(t *testing.T) {
	attachtest.CheckCorrupt(t, "rsmf", encoder, "/notes.txt")
	reliability.Record(t, "fault", "rsmf export: a captured file's stored bytes damaged",
		reliability.CleanFailure, "the task fails naming the file and the SHA-256 its index gives; no export with other bytes is produced")
}

// TestAttachmentsStreamed: a captured file is streamed into the production, never held:
// the bytes allocated to write the fixture with a 48 MiB attachment exceed those with a
// 1 KiB one by less than 4 MiB (counted with runtime.MemStats.TotalAlloc).
func TestAttachmentsStreamed(t *testing.T) {
	attachtest.CheckStreamed(t, 48<<20, encoder)
	reliability.Record(t, "operations", "rsmf export packing a 48 MiB captured file", reliability.Kept,
		"streamed into the .rsmf: bytes allocated do not grow with the file's size (less than a quarter of the file's size more than for 1 KiB)")
}

// TestServedAsInRSMF: a file its host served gzip-encoded although asked for identity is
// packed as stored (the bytes its index hashes) with .gz after the link's extension, in
// its id and its display (a viewer must not show it inline as what it is not yet), and
// the event names the encoding; a file reached through a redirect gets the URL that
// served it. The schema's attachment object has only id, display and size: both go into
// the event's custom properties, beside the one naming the link.
func TestServedAsInRSMF(t *testing.T) {
	f := attachtest.NewServed(t)
	b := f.Export(t, attachtest.Acme, "rsmf", encoder)
	p := parseProduction(t, b)
	checkProduction(t, p)
	if len(p.files) != 1 {
		t.Fatalf("%d .rsmf files, want 1 (one chat)", len(p.files))
	}
	rf := p.files[0]
	enc := f.SHA256(attachtest.Encoded) + ".txt.gz"
	moved := f.SHA256(attachtest.Target) + ".png"
	if want := []string{ManifestName, enc, moved}; !slices.Equal(rf.names, want) {
		t.Errorf("rsmf.zip holds %v, want %v", rf.names, want)
	}
	if !bytes.Equal(rf.inner[enc], f.Files[attachtest.Encoded]) {
		t.Errorf("%s: %q, want the bytes as served (gzip)", enc, rf.inner[enc])
	}
	var m manifest
	if err := json.Unmarshal(rf.manifest, &m); err != nil {
		t.Fatal(err)
	}
	var refs []string
	custom := map[string]string{}
	for _, ev := range m.Events {
		for _, a := range ev.Attachments {
			refs = append(refs, a.ID+"|"+a.Display)
		}
		for _, c := range ev.Custom {
			custom[c.Name] = c.Value
		}
	}
	if want := []string{enc + "|minutes.txt.gz", moved + "|plan.png"}; !slices.Equal(refs, want) {
		t.Errorf("attachments %v, want %v", refs, want)
	}
	for name, v := range map[string]string{
		"Attachment " + enc:                       f.URL + attachtest.Encoded,
		"Attachment " + enc + " content encoding": "gzip (kept as the host served it, encoded; its SHA-256 is of these bytes; content type text/plain)",
		"Attachment " + moved:                     f.URL + attachtest.Moved,
		"Attachment " + moved + " served from":    f.URL + attachtest.Target,
	} {
		if custom[name] != v {
			t.Errorf("custom %q: %q, want %q", name, custom[name], v)
		}
	}
	if row := p.load[1]; row[12] != enc+"; "+moved {
		t.Errorf("load file lists %q", row[12])
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "input", "rsmf export of a file its host served gzip-encoded although asked for identity, and of one reached by a redirect", reliability.Kept,
		"packed as stored with .gz after the link's extension in its id and display, the encoding and recorded type in an event custom property; a redirected file's servedFrom in one too (the schema's attachment object has no place for either)")
}
