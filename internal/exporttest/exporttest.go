package exporttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/synth"
	"github.com/chatvault/chatvault/model"
)

// Org and OrgName are the fixture's organization.
const (
	Org     = "org-acme"
	OrgName = "Acme"
)

// Day is one sealed day: its manifest and its records in export order.
type Day struct {
	Manifest *archiver.StoredManifest
	Events   []model.Event
}

// Next returns an iterator over the day's records in the shape WriteDay takes.
func (d Day) Next() func() (model.Event, error) { return Slice(d.Events) }

// Slice yields events, then io.EOF.
func Slice(events []model.Event) func() (model.Event, error) {
	i := 0
	return func() (model.Event, error) {
		if i == len(events) {
			return model.Event{}, io.EOF
		}
		i++
		return events[i-1], nil
	}
}

// Manifest is a stand-in for a sealed day's manifest; its hash is derived from the date,
// and it was sealed half an hour (and a fraction of a second) after the day ended.
func Manifest(date string) *archiver.StoredManifest {
	sealed := ""
	if d, err := archiver.ParseDay(date); err == nil {
		sealed = d.End().Add(30*time.Minute + 15*time.Second + 250*time.Millisecond).UTC().Format(time.RFC3339Nano)
	}
	return &archiver.StoredManifest{
		Manifest: &archiver.Manifest{Org: Org, OrgName: OrgName, Date: date, Revision: 1, SealedAt: sealed},
		Key:      "orgs/" + Org + "/manifests/" + date,
		SHA256:   sha256.Sum256([]byte("manifest of " + date)),
	}
}

// root is the module's root folder.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Fixture returns the hand-made days of testdata/formats: every participant and content
// variant, threads, edits and deletions within and across days, hostile text.
func Fixture(tb testing.TB) []Day {
	tb.Helper()
	var days []Day
	for _, date := range []string{"2026-11-21", "2026-11-22"} {
		b, err := os.ReadFile(filepath.Join(root(), "testdata", "formats", date+".jsonl"))
		if err != nil {
			tb.Fatal(err)
		}
		d := Day{Manifest: Manifest(date)}
		for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			e, err := model.Decode(line)
			if err != nil {
				tb.Fatalf("%s: %v", date, err)
			}
			d.Events = append(d.Events, e)
		}
		d.Manifest.Data.Records = int64(len(d.Events)) // as a seal counts them
		days = append(days, d)
	}
	return days
}

// Synth writes a synthetic day of n lines (archiver/synth) into a temporary folder and
// returns its partition files.
func Synth(tb testing.TB, date string, n int) []string {
	tb.Helper()
	day, err := archiver.ParseDay(date)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	st, err := synth.Generate(context.Background(), dir, synth.Options{Day: day, Events: n, Orgs: 10, Seed: 1, Compression: synth.Plain})
	if err != nil {
		tb.Fatal(err)
	}
	files := make([]string, len(st.Files))
	for i, f := range st.Files {
		files[i] = filepath.Join(dir, f)
	}
	return files
}

// Stream yields the message events of files one at a time (lines that do not decode or
// are not messages are skipped), so a benchmark's input costs no memory. The order is
// the files', not the export's, which the formats do not rely on.
func Stream(tb testing.TB, files []string) func() (model.Event, error) {
	i := 0
	var f *os.File
	var sc *bufio.Scanner
	return func() (model.Event, error) {
		for {
			if sc == nil {
				if i == len(files) {
					return model.Event{}, io.EOF
				}
				var err error
				if f, err = os.Open(files[i]); err != nil {
					return model.Event{}, err
				}
				i++
				sc = bufio.NewScanner(f)
				sc.Buffer(make([]byte, 1<<20), 8<<20)
			}
			if !sc.Scan() {
				err := sc.Err()
				f.Close()
				sc = nil
				if err != nil {
					return model.Event{}, err
				}
				continue
			}
			e, err := model.Decode(sc.Bytes())
			if err != nil || !model.IsMessageContentType(e.ContentType) {
				continue
			}
			return e, nil
		}
	}
}

// Oversized yields n identical text messages of 64 KiB each: enough of them pass a
// format's sort budget, so the day must spill.
func Oversized(n int) func() (model.Event, error) {
	big := model.Event{EventType: "sent", ChatID: "c", Timestamp: 1, EventTimestamp: 1, MessageID: "m",
		Sender: model.Participant{Type: "occupant", ID: "o"}, ContentType: "text", HasContent: true,
		Content: model.Content{Type: "text", Text: strings.Repeat("x", 1<<16)}}
	i := 0
	return func() (model.Event, error) {
		if i++; i > n {
			return model.Event{}, io.EOF
		}
		return big, nil
	}
}
