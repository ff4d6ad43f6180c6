package archiver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/klauspost/compress/gzip"
)

// hostileEvent is a valid text message from Ada, in Acme's chat, within the sample day.
// Its spelling is canonical, so when it is archived the export holds it byte for byte.
const hostileEvent = `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795338000000,"eventTimestamp":1795338000000,` +
	`"messageId":"ID","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},` +
	`"contentType":"text","content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}}`

// event returns hostileEvent with messageId id and the old→new replacements applied, each
// of which must match exactly once, so that a case cannot silently stop testing what it says.
func event(id string, pairs ...string) string {
	s := strings.Replace(hostileEvent, `"ID"`, `"`+id+`"`, 1)
	for i := 0; i < len(pairs); i += 2 {
		if n := strings.Count(s, pairs[i]); n != 1 {
			panic(fmt.Sprintf("event: %q occurs %d times", pairs[i], n))
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// gzipBytes compresses b; writing to memory cannot fail.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// hostileCase is one row of the hostile-input table: a partition holding a good file
// (part-0000.jsonl, one record) and whatever the case adds, sealed end to end.
type hostileCase struct {
	name string // the reliability row's case
	// files are added to the partition, by base name; setup does what files cannot.
	files map[string][]byte
	setup func(t *testing.T, logDir, partition string)
	// outcome is Quarantined, Kept or CleanFailure.
	outcome reliability.Outcome
	// read is how many records the run must read (Quarantined, Kept).
	read int64
	// reason is the quarantine reason of the one bad record (Quarantined), at file:line.
	reason string
	at     string
	// exported are message ids Acme's export must hold besides the good file's (Kept,
	// Quarantined).
	exported []string
	// alsoQuarantined counts bad records a Kept case holds to show where they are reported.
	alsoQuarantined int64
	// failNames are what a CleanFailure's error must name (the file, the cause).
	failNames []string
	// detail is the reliability row's detail for Kept rows; the others record what
	// they observed (the quarantine reason and error, the run's error) unless it is set.
	detail string
	// check asserts what else the case is about.
	check func(t *testing.T, f *fixture, res *archiver.DayResult, quarantine []map[string]any)
}

const (
	partName = "2026-11-22/part-0001.jsonl"
	partGz   = "2026-11-22/part-0001.jsonl.gz"
)

func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

// hostileCases are the hostile inputs of issue 5, one row each. Bad records sit between
// good ones, so each case also shows that reading resumes after them.
func hostileCases() []hostileCase {
	big := strings.Repeat("Lorem ipsum dolor sit amet, ", (1<<20)/28+1000) // over 1 MiB
	deep := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	quarantined := func(name, bad, reason string) hostileCase {
		return hostileCase{name: name, files: map[string][]byte{"part-0001.jsonl": lines(event("a"), bad, event("b"))},
			outcome: reliability.Quarantined, read: 4, reason: reason, at: partName + ":2", exported: []string{"a", "b"}}
	}
	return []hostileCase{
		{name: "line over 1 MiB (a valid 1 MiB message)", outcome: reliability.Kept, read: 2,
			files:    map[string][]byte{"part-0001.jsonl": lines(event("big", `"text":"hi","markdownText":"hi"`, `"text":"`+big+`","markdownText":"`+big+`"`))},
			exported: []string{"big"}, detail: "exported whole: lines up to 64 MiB are records like any other",
			check: func(t *testing.T, f *fixture, res *archiver.DayResult, _ []map[string]any) {
				data, _ := f.export(t, acme, sampleDay)
				if !bytes.Contains(data, []byte(`"text":"`+big+`"`)) {
					t.Errorf("the 1 MiB text is not in the export whole")
				}
			}},
		{name: "line over 64 MiB", outcome: reliability.Quarantined, read: 4, reason: "line_too_long", at: partName + ":2",
			exported: []string{"a", "b"}, setup: writeHugeLine,
			check: func(t *testing.T, f *fixture, res *archiver.DayResult, q []map[string]any) {
				size, sum := hugeLine()
				r := q[0]
				if r["truncated"] != true || r["size"] != float64(size) || r["sha256"] != sum {
					t.Errorf("quarantine record: truncated %v size %v sha256 %v; want true, %d, %s", r["truncated"], r["size"], r["sha256"], size, sum)
				}
				if raw, _ := r["raw"].(string); len(raw) != eventlog.TooLongHeadBytes || !strings.HasPrefix(raw, `{"eventType":"sent","x":"xxx`) {
					t.Errorf("quarantine keeps %d bytes of the line's head, want %d", len(raw), eventlog.TooLongHeadBytes)
				}
			}},
		quarantined("invalid UTF-8", event("bad", `"text":"hi"`, "\"text\":\"h\xffi\""), "invalid_json"),
		{name: "byte-order mark at the start of a file", outcome: reliability.Kept, read: 3,
			files:    map[string][]byte{"part-0001.jsonl": append([]byte("\xEF\xBB\xBF"), lines(event("a"), event("b"))...)},
			exported: []string{"a", "b"}, detail: "the BOM marks the encoding, not a record: dropped, records exported byte for byte"},
		{name: "byte-order mark at the start of a gzipped file", outcome: reliability.Kept, read: 2,
			files:    map[string][]byte{"part-0001.jsonl.gz": gzipBytes(append([]byte("\xEF\xBB\xBF"), lines(event("a"))...))},
			exported: []string{"a"}, detail: "dropped after gunzip; the record exported"},
		quarantined("byte-order mark inside a file", "\xEF\xBB\xBF"+event("bad"), "invalid_json"),
		{name: "CRLF line endings", outcome: reliability.Kept, read: 3,
			files:    map[string][]byte{"part-0001.jsonl": []byte(event("a") + "\r\n" + event("b") + "\r\n")},
			exported: []string{"a", "b"}, detail: "the CR is part of the line ending, not of the record: stripped; records exported as from LF"},
		quarantined("carriage return inside a string", event("bad", `"text":"hi"`, "\"text\":\"h\ri\""), "invalid_json"),
		{name: "final line without a newline", outcome: reliability.Kept, read: 3,
			files:    map[string][]byte{"part-0001.jsonl": []byte(event("a") + "\n" + event("b"))},
			exported: []string{"a", "b"}, detail: "still a line: exported"},
		{name: "empty and blank lines", outcome: reliability.Kept, read: 4,
			files:    map[string][]byte{"part-0001.jsonl": []byte("\n" + event("a") + "\n\n \t\n\r\n" + event("b") + "\n\n" + event("bad", `"sent"`, `"reacted"`) + "\n\n")},
			exported: []string{"a", "b"}, alsoQuarantined: 1, detail: "not records: not counted as read; line numbers still count them",
			check: func(t *testing.T, f *fixture, res *archiver.DayResult, q []map[string]any) {
				// The one bad record is reported at its line in the file, blank lines included.
				if len(q) != 1 || q[0]["line"] != float64(8) {
					t.Errorf("quarantine %v, want the bad record at line 8", q)
				}
			}},
		quarantined("NUL byte inside a record", event("bad", `"text":"hi"`, "\"text\":\"h\x00i\""), "invalid_json"),
		quarantined("line of NUL bytes (zero-filled tail of a crashed write)", strings.Repeat("\x00", 512), "invalid_json"),
		{name: `escaped NUL (\u0000) in a text`, outcome: reliability.Kept, read: 2,
			files:    map[string][]byte{"part-0001.jsonl": lines(event("nul", `"text":"hi"`, `"text":"h\u0000i"`))},
			exported: []string{"nul"}, detail: `a valid JSON character: archived, spelled \u0000`},
		quarantined("JSON nested 10,000 deep in an unknown field", event("bad", `"chatId"`, `"x":`+deep+`,"chatId"`), "invalid_value"),
		quarantined("JSON nested 10,000 deep in an attachment", event("bad", `"attachments":[]`, `"attachments":[`+deep+`]`), "invalid_value"),
		quarantined("duplicate keys", event("bad", `"chatId":"chat-acme-team"`, `"chatId":"chat-acme-team","chatId":"chat-other"`), "duplicate_field"),
		quarantined("number as a string", event("bad", `"timestamp":1795338000000`, `"timestamp":"1795338000000"`), "wrong_type"),
		quarantined("float timestamp", event("bad", `"eventTimestamp":1795338000000`, `"eventTimestamp":1795338000000.5`), "not_integer"),
		quarantined("timestamp with an exponent", event("bad", `"timestamp":1795338000000`, `"timestamp":1.795338e12`), "not_integer"),
		quarantined("timestamp beyond int64", event("bad", `"timestamp":1795338000000`, `"timestamp":9223372036854775808`), "not_integer"),
		quarantined("null where an object belongs (sender)", event("bad", `"sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"}`, `"sender":null`), "wrong_type"),
		quarantined("null content on a sent event", event("bad", `"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":null`), "missing_field"),
		{name: "unknown extra fields", outcome: reliability.Kept, read: 2,
			files:    map[string][]byte{"part-0001.jsonl": lines(event("extra", `"chatId"`, `"reactions":{"👍":3},"platformVersion":7,"chatId"`))},
			exported: []string{"extra"}, detail: "not part of the format: dropped; the record exported in its canonical form",
			check: func(t *testing.T, f *fixture, res *archiver.DayResult, _ []map[string]any) {
				data, _ := f.export(t, acme, sampleDay)
				if bytes.Contains(data, []byte("reactions")) || !bytes.Contains(data, []byte(event("extra")+"\n")) {
					t.Errorf("export should hold the canonical record without the extra fields:\n%s", data)
				}
			}},
		{name: "truncated gzip", outcome: reliability.CleanFailure, failNames: []string{partGz, "unexpected EOF"},
			setup: func(t *testing.T, _, partition string) {
				gz := gzipBytes(bytes.Repeat(lines(event("a")), 2000))
				writeFileAt(t, filepath.Join(partition, "part-0001.jsonl.gz"), gz[:len(gz)/2])
			}},
		{name: "gzip ending inside a second member's header", outcome: reliability.CleanFailure, failNames: []string{partGz, "unexpected EOF"},
			setup: func(t *testing.T, _, partition string) {
				// A whole member, then the header of another whose comment never ends: found
				// by FuzzScan, read as a clean end after the first member before the fix.
				gz := append(gzipBytes(lines(event("a"))), 0x1f, 0x8b, 8, 0x10, 0, 0, 0, 0, 0, 0xff, 'n', 'o', 't', 'e')
				writeFileAt(t, filepath.Join(partition, "part-0001.jsonl.gz"), gz)
			}},
		{name: "corrupt gzip (bytes flipped)", outcome: reliability.CleanFailure, failNames: []string{partGz},
			setup: func(t *testing.T, _, partition string) {
				gz := gzipBytes(bytes.Repeat(lines(event("a")), 2000))
				for i := len(gz) / 2; i < len(gz)/2+64; i++ {
					gz[i] ^= 0x55
				}
				writeFileAt(t, filepath.Join(partition, "part-0001.jsonl.gz"), gz)
			}},
		{name: "gzip with a bad checksum", outcome: reliability.CleanFailure, failNames: []string{partGz, "invalid checksum"},
			setup: func(t *testing.T, _, partition string) {
				gz := gzipBytes(lines(event("a")))
				gz[len(gz)-8] ^= 0xFF
				writeFileAt(t, filepath.Join(partition, "part-0001.jsonl.gz"), gz)
			}},
		{name: "empty .jsonl file", outcome: reliability.Kept, read: 1,
			files:  map[string][]byte{"part-0001.jsonl": nil},
			detail: "a valid file without records: the day seals with the other files' records"},
		{name: "empty .jsonl.gz file", outcome: reliability.CleanFailure, failNames: []string{partGz, "unexpected EOF"},
			files: map[string][]byte{"part-0001.jsonl.gz": nil}},
		{name: "unreadable file", outcome: reliability.CleanFailure, failNames: []string{partName}, setup: unreadableFile,
			// The cause differs with the user running the tests; the row must not.
			detail: "run fails naming the file (permission denied; as root, a symlink loop); nothing committed"},
		{name: "symlink that points outside the event log", outcome: reliability.CleanFailure, failNames: []string{partName},
			setup: func(t *testing.T, logDir, partition string) {
				outside := filepath.Join(t.TempDir(), "secret.jsonl")
				writeFileAt(t, outside, lines(event("secret")))
				if err := os.Symlink(outside, filepath.Join(partition, "part-0001.jsonl")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "partition that is a file, not a folder", outcome: reliability.CleanFailure, failNames: []string{"2026-11-22", "not a folder"},
			setup: func(t *testing.T, logDir, partition string) {
				if err := os.RemoveAll(partition); err != nil {
					t.Fatal(err)
				}
				writeFileAt(t, partition, lines(event("a")))
			}},
	}
}

func writeFileAt(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hugeLine is the over-64-MiB line's size and SHA-256: a record whose unknown field "x"
// holds 64 MiB of "x".
func hugeLine() (int64, string) {
	h := sha256.New()
	n := writeHuge(h)
	return n, hex.EncodeToString(h.Sum(nil))
}

func writeHuge(w interface{ Write([]byte) (int, error) }) int64 {
	var n int64
	put := func(s string) {
		w.Write([]byte(s))
		n += int64(len(s))
	}
	put(`{"eventType":"sent","x":"`)
	chunk := strings.Repeat("x", 1<<20)
	for range 64 {
		put(chunk)
	}
	put(`"}`)
	return n
}

// writeHugeLine streams a record of just over 64 MiB between two good ones, so the test
// never holds it either.
func writeHugeLine(t *testing.T, _, partition string) {
	f, err := os.Create(filepath.Join(partition, "part-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(event("a") + "\n")
	writeHuge(w)
	w.WriteString("\n" + event("b") + "\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// unreadableFile makes part-0001.jsonl impossible to open: without read permission, or,
// for root (whom permissions do not stop, as in many CI containers), as a symlink that
// points at itself. Either way the scan cannot read the file and must say which.
func unreadableFile(t *testing.T, _, partition string) {
	path := filepath.Join(partition, "part-0001.jsonl")
	if os.Geteuid() != 0 {
		writeFileAt(t, path, lines(event("a")))
		if err := os.Chmod(path, 0); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.Symlink("part-0001.jsonl", path); err != nil {
		t.Fatal(err)
	}
}

// TestHostileInput seals a partition per hostile input of issue 5 through the whole
// pipeline and asserts the outcome: the bad record quarantined with its reason at its
// file and line, the good ones around it exported; or the record kept; or the run failed
// with an error naming the file, having committed nothing. Every sealed run must balance
// (read = exported + excluded + duplicates + quarantined) and pass verify.
func TestHostileInput(t *testing.T) {
	directory, err := os.ReadFile(filepath.Join(sampleLog, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			logDir := t.TempDir()
			partition := filepath.Join(logDir, sampleDay.String())
			writeFileAt(t, filepath.Join(logDir, "directory.json"), directory)
			writeFileAt(t, filepath.Join(partition, "_CLOSED"), nil)
			writeFileAt(t, filepath.Join(partition, "part-0000.jsonl"), lines(event("good")))
			for name, b := range tc.files {
				writeFileAt(t, filepath.Join(partition, name), b)
			}
			if tc.setup != nil {
				tc.setup(t, logDir, partition)
			}
			f := newFixture(t, logDir)
			s := &archiver.Sealer{Source: f.src, Store: f.store, Chain: ledger.Ledger{Store: f.store}, Options: archiver.Options{Now: fixedClock, TempDir: t.TempDir()}}
			res, err := s.Seal(context.Background(), sampleDay, f.directory, "")

			if tc.outcome == reliability.CleanFailure {
				if err == nil {
					t.Fatalf("Seal succeeded, want a failure naming %q", tc.failNames)
				}
				for _, want := range tc.failNames {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				if files := storeFiles(t, f.storeDir); len(files) != 0 {
					t.Errorf("the failed run committed %d objects", len(files))
				}
				detail := tc.detail
				if detail == "" {
					detail = "run fails: " + strings.ReplaceAll(err.Error(), logDir, "<eventlog>") + "; nothing committed"
				}
				reliability.Record(t, "input", tc.name, tc.outcome, detail)
				return
			}

			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			in := res.Input
			if !in.Balanced() || in.Read != tc.read {
				t.Fatalf("input counts %+v: want %d read, balanced", in, tc.read)
			}
			data, m := f.export(t, acme, sampleDay)
			for _, id := range append([]string{"good"}, tc.exported...) {
				if !bytes.Contains(data, []byte(`"messageId":"`+id+`"`)) {
					t.Errorf("message %s is not in Acme's export", id)
				}
			}
			if in.Exported != 1+int64(len(tc.exported)) || m.Counts.Exported != in.Exported {
				t.Errorf("exported %d (manifest %d), want %d", in.Exported, m.Counts.Exported, 1+len(tc.exported))
			}
			var quarantine []map[string]any
			if res.Quarantine != nil {
				rc, err := f.store.Open(context.Background(), res.Quarantine.Key)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range bytes.Split(bytes.TrimSuffix(gunzip(t, rc), []byte("\n")), []byte("\n")) {
					var r map[string]any
					if err := json.Unmarshal(l, &r); err != nil {
						t.Fatalf("quarantine record %q: %v", l, err)
					}
					quarantine = append(quarantine, r)
				}
				rc.Close()
			}
			if int64(len(quarantine)) != in.Quarantined {
				t.Errorf("quarantine object holds %d records, counts say %d", len(quarantine), in.Quarantined)
			}
			rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{})
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %v", err, rep.Problems)
			}
			if tc.check != nil {
				tc.check(t, f, res, quarantine)
			}

			switch tc.outcome {
			case reliability.Quarantined:
				if in.Quarantined != 1 || res.QuarantineByWhy[tc.reason] != 1 {
					t.Fatalf("quarantined %v, want one %s", res.QuarantineByWhy, tc.reason)
				}
				q := quarantine[0]
				if at := fmt.Sprintf("%v:%v", q["file"], q["line"]); q["reason"] != tc.reason || at != tc.at {
					t.Fatalf("quarantine record %v at %s, want %s at %s", q["reason"], at, tc.reason, tc.at)
				}
				if q["raw"] == nil && q["rawBase64"] == nil {
					t.Fatalf("quarantine record keeps no raw bytes")
				}
				if !t.Failed() {
					reliability.Record(t, "input", tc.name, tc.outcome, fmt.Sprintf("%s: %s", q["reason"], q["error"]))
				}
			case reliability.Kept:
				if in.Quarantined != tc.alsoQuarantined {
					t.Fatalf("quarantined %v, want %d", res.QuarantineByWhy, tc.alsoQuarantined)
				}
				if !t.Failed() {
					reliability.Record(t, "input", tc.name, tc.outcome, tc.detail)
				}
			default:
				t.Fatalf("outcome %q not handled", tc.outcome)
			}
		})
	}
}

// TestClockSkew seals a partition holding events committed, by their eventTimestamp, the
// day before and the day after: they are archived with the others, counted, flagged in
// the manifests and checked by verify.
func TestClockSkew(t *testing.T) {
	directory, err := os.ReadFile(filepath.Join(sampleLog, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	start, end := sampleDay.Start().UnixMilli(), sampleDay.End().UnixMilli()
	ts := func(ms int64) string { return fmt.Sprint(ms) }
	logDir := t.TempDir()
	partition := filepath.Join(logDir, sampleDay.String())
	writeFileAt(t, filepath.Join(logDir, "directory.json"), directory)
	writeFileAt(t, filepath.Join(partition, "_CLOSED"), nil)
	writeFileAt(t, filepath.Join(partition, "part-0000.jsonl"), lines(
		event("in", `"eventTimestamp":1795338000000`, `"eventTimestamp":`+ts(start)),
		event("before", `"eventTimestamp":1795338000000`, `"eventTimestamp":`+ts(start-90_000)),
		event("before2", `"eventTimestamp":1795338000000`, `"eventTimestamp":`+ts(start-1)),
		event("before2", `"eventTimestamp":1795338000000`, `"eventTimestamp":`+ts(start-1)), // a duplicate counts once
		event("after", `"eventTimestamp":1795338000000`, `"eventTimestamp":`+ts(end)),
		event("last", `"eventTimestamp":1795338000000`, `"eventTimestamp":`+ts(end-1)),
	))
	f := newFixture(t, logDir)
	res := f.seal(t, sampleDay, archiver.Options{})
	want := archiver.ClockSkew{Before: 2, After: 1, Earliest: start - 90_000, Latest: end}
	if res.ClockSkew != want || !res.Input.Balanced() || res.Input.Exported != 5 {
		t.Fatalf("day: clock skew %+v, input %+v; want %+v and 5 exported", res.ClockSkew, res.Input, want)
	}
	data, m := f.export(t, acme, sampleDay)
	for _, id := range []string{"in", "before", "before2", "after", "last"} {
		if !bytes.Contains(data, []byte(`"messageId":"`+id+`"`)) {
			t.Errorf("%s is not in the export", id)
		}
	}
	if m.ClockSkew == nil || *m.ClockSkew != want || m.Window.FirstEvent != start-90_000 || m.Window.LastEvent != end {
		t.Fatalf("manifest clockSkew %+v window %+v, want %+v", m.ClockSkew, m.Window, want)
	}
	if !bytes.Contains(m.Bytes, []byte(`"clockSkew": {`)) {
		t.Errorf("stored manifest does not show clockSkew:\n%s", m.Bytes)
	}
	// Globex's export of the day is empty: no skew, no clockSkew object.
	if _, gm := f.export(t, globex, sampleDay); gm.ClockSkew != nil || bytes.Contains(gm.Bytes, []byte("clockSkew")) {
		t.Errorf("Globex's manifest flags clock skew it does not have")
	}
	rep, err := verify.Run(context.Background(), ledger.Ledger{Store: f.store}, verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	reliability.Record(t, "input", "eventTimestamp outside the partition's day (clock skew)", reliability.Kept,
		"archived with its partition's day; counted before/after with earliest/latest in the manifest's clockSkew; verify recounts it")
}

// TestHostileLinesInGeneratedDay mixes every hostile line of the table into a generated
// day, plain and gzipped: they are all quarantined, the accounting still balances, and
// not one byte of any organization's export changes.
func TestHostileLinesInGeneratedDay(t *testing.T) {
	logDir := generated(t, 5_000, 20)
	clean := newFixture(t, logDir)
	want := clean.exports(t, clean.seal(t, sampleDay, archiver.Options{}))

	var bad []string
	for _, tc := range hostileCases() {
		if tc.outcome == reliability.Quarantined && tc.setup == nil {
			bad = append(bad, strings.Split(strings.TrimSuffix(string(tc.files["part-0001.jsonl"]), "\n"), "\n")[1])
		}
	}
	hostile := lines(bad...)
	writeFileAt(t, filepath.Join(logDir, sampleDay.String(), "part-0000-hostile.jsonl"), hostile)
	writeFileAt(t, filepath.Join(logDir, sampleDay.String(), "part-9999-hostile.jsonl.gz"), gzipBytes(hostile))

	f := newFixture(t, logDir)
	res := f.seal(t, sampleDay, archiver.Options{SortMemory: 256 << 10})
	in := res.Input
	if !in.Balanced() || in.Read != 5_000+2*int64(len(bad)) || in.Quarantined != 20+2*int64(len(bad)) {
		t.Fatalf("input %+v: want %d read, %d quarantined, balanced", in, 5_000+2*len(bad), 20+2*len(bad))
	}
	got := f.exports(t, res)
	if len(got) != len(want) {
		t.Fatalf("%d organizations exported, want %d", len(got), len(want))
	}
	for org, data := range want {
		if !bytes.Equal(got[org], data) {
			t.Errorf("%s: export changed when hostile lines were added", org)
		}
	}
}

// TestTooLongLineHead: the quarantine keeps a too long line's head as readable text,
// cut back to a whole character, with the size and hash of the whole line.
func TestTooLongLineHead(t *testing.T) {
	directory, err := os.ReadFile(filepath.Join(sampleLog, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	partition := filepath.Join(logDir, sampleDay.String())
	writeFileAt(t, filepath.Join(logDir, "directory.json"), directory)
	writeFileAt(t, filepath.Join(partition, "_CLOSED"), nil)
	// 25 bytes of ASCII, then two-byte characters: byte 1000 falls inside one.
	line := `{"eventType":"sent","x":"` + strings.Repeat("é", 1000) + `"}`
	writeFileAt(t, filepath.Join(partition, "part-0000.jsonl"), lines(event("good"), line))
	f := newFixture(t, logDir)
	f.src.MaxLineBytes = 1000
	res := f.seal(t, sampleDay, archiver.Options{})
	if !res.Input.Balanced() || res.QuarantineByWhy["line_too_long"] != 1 || res.Input.Exported != 1 {
		t.Fatalf("input %+v, quarantined %v; want one line_too_long and the good record exported", res.Input, res.QuarantineByWhy)
	}
	rc, err := f.store.Open(context.Background(), res.Quarantine.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var q struct {
		Raw       *string
		Truncated bool
		Size      int
		SHA256    string
		Error     string
	}
	if err := json.Unmarshal(gunzip(t, rc), &q); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(line))
	if q.Raw == nil || *q.Raw != line[:999] || !q.Truncated || q.Size != len(line) || q.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("quarantine record %+v; want raw = the first 999 bytes, size %d", q, len(line))
	}
	if want := "line of 2027 bytes exceeds the 1000 B limit"; q.Error != want {
		t.Errorf("error %q, want %q", q.Error, want)
	}
}
