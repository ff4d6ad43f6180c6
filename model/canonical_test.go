package model

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// checkDecodeCanonical is the contract of DecodeCanonical, for any line: the same Event
// and error as Decode, and "canonical" exactly when AppendJSON gives line back byte for
// byte. So a caller that keeps a canonical line as read stores what it would have stored
// by encoding the Event, and no canonical line is missed.
func checkDecodeCanonical(t *testing.T, dc *Decoder, line []byte) (canonical bool) {
	t.Helper()
	want, werr := Decode(line)
	got, canonical, gerr := dc.DecodeCanonical(line)
	if !reflect.DeepEqual(gerr, werr) {
		t.Fatalf("DecodeCanonical(%s) error = %v, Decode's %v", line, gerr, werr)
	}
	if werr != nil {
		if canonical {
			t.Fatalf("DecodeCanonical(%s) reports a line Decode refuses (%v) as canonical", line, werr)
		}
		return false
	}
	if !got.Equal(want) {
		t.Fatalf("DecodeCanonical(%s) =\n %+v\nDecode =\n %+v", line, got, want)
	}
	enc := AppendJSON(nil, &want)
	if isCanonical := bytes.Equal(enc, line); canonical != isCanonical {
		t.Fatalf("DecodeCanonical says canonical = %v for\n %s\nwhose canonical encoding is\n %s", canonical, line, enc)
	}
	return canonical
}

// TestDecodeCanonicalGolden holds DecodeCanonical to its contract on the golden records:
// every line of the .golden files (canonical encodings) is recognized as canonical, so it
// is kept byte for byte as AppendJSON writes it, and each input line of the .jsonl files
// is canonical exactly when its golden line is the same bytes.
func TestDecodeCanonicalGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/decode/*.jsonl")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	var dc Decoder
	var golden, asRead int
	for _, in := range inputs {
		for _, name := range []string{in, strings.TrimSuffix(in, ".jsonl") + ".golden"} {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range splitLines(data) {
				canonical := checkDecodeCanonical(t, &dc, line)
				switch {
				case strings.HasSuffix(name, ".golden") && !canonical:
					t.Errorf("%s: a canonical encoding not recognized as canonical: %s", name, line)
				case strings.HasSuffix(name, ".golden"):
					golden++
				case canonical:
					asRead++
				}
			}
		}
	}
	t.Logf("%d golden lines recognized as canonical; %d input lines canonical as read", golden, asRead)
	reliability.Record(t, "operations", "a line already canonical (golden and fuzzed lines)", reliability.Kept,
		"TestDecodeCanonicalGolden, FuzzDecodeCanonical: a line recognized as canonical decodes to the same record as the full decoder and is the byte-for-byte encoding of it; every golden canonical line is recognized")
}

// Kinds of lines in canonicalCases.
const (
	isCanonical = iota
	notCanonical
	refused // by Decode
)

// canonicalCases are canonical lines of each variant, lines that decode but depart from
// the canonical layout in one place each, and lines Decode refuses: DecodeCanonical must
// tell them apart exactly as AppendJSON and Decode do.
func canonicalCases() []struct {
	line string
	want int
} {
	type c = struct {
		line string
		want int
	}
	deep := func(n int) string {
		return edit(`"attachments":[]`, `"attachments":[`+strings.Repeat(`{"a":`, n)+`1`+strings.Repeat(`}`, n)+`]`)
	}
	return []c{
		{base, isCanonical},
		{withContent(members), isCanonical},
		{edit(baseSender, botSender), isCanonical},
		{edit(baseSender, guestSender), isCanonical},
		{withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","colons":":+1:","fileUrl":"https://e.example/1.gif"}`), isCanonical},
		{withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","colons":":+1:"}`), isCanonical},
		{withContent(`"contentType":"item","content":{"contentType":"item","itemUrl":"https://d.example/1","itemType":"doc"}`), isCanonical},
		{withContent(`"contentType":"textSnippet","content":{"contentType":"textSnippet","text":"x := 1","language":"go"}`), isCanonical},
		{edit(`"eventType":"sent"`, `"eventType":"deleted"`, `,"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, ``), isCanonical},
		{edit(`"eventType":"sent"`, `"eventType":"deleted"`), isCanonical},
		{edit(`"chatId":"c1"`, `"chatId":"c1","threadTimestamp":17`), isCanonical},
		{edit(`"timestamp":1763769601456`, `"timestamp":0`), isCanonical},
		{edit(`"timestamp":1763769601456`, `"timestamp":9223372036854775807`), isCanonical},
		{edit(`"attachments":[]`, `"attachments":[{"b":[1,-0.5E+3,{"c":null}],"a":"x\"y \\u00e9"},{}]`), isCanonical},
		{edit(`"text":"hi"`, `"text":"a\"b\\c\nd\re\tf\bg\fh\u0000i\u001fj`+"\x7fk/l\u2028é😀"+`"`), isCanonical},
		{deep(61), isCanonical}, // the deepest attachment Decode reads: 64 levels with the record's

		{edit(`"chatId":"c1"`, `"chatId":"c1","threadTimestamp":0`), notCanonical},
		{edit(`"chatId":"c1"`, `"chatId":"c1","threadTimestamp":null`), notCanonical},
		{edit(`"text":"hi"`, `"text":"h\u0069"`), notCanonical},
		{edit(`"text":"hi"`, `"text":"h\/i"`), notCanonical},
		{edit(`"text":"hi"`, `"text":"\u000a"`), notCanonical},
		{edit(`"text":"hi"`, `"text":"\u001F"`), notCanonical},
		{edit(`"text":"hi"`, `"text":"\u007f"`), notCanonical},
		{edit(`"text":"hi"`, `"text":"\ud83d\ude00"`), notCanonical},
		{edit(`"chatId":"c1"`, `"chatId" :"c1"`), notCanonical},
		{base + " ", notCanonical},
		{" " + base, notCanonical},
		{edit(`"attachments":[]`, `"attachments":[ ]`), notCanonical},
		{edit(`"attachments":[]`, `"attachments":[{"a": 1}]`), notCanonical},
		{edit(`"attachments":[]`, `"attachments":[{"a":"x y"},{"b":1} ]`), notCanonical},
		{edit(`"eventType":"sent","chatId":"c1",`, `"chatId":"c1","eventType":"sent",`), notCanonical},
		{edit(`"messageId":"m1",`, `"messageId":"m1","extra":1,`), notCanonical},
		{edit(`"email":"ada@acme.example"`, `"email":"ada@acme.example","roamId":"r"`), notCanonical},
		{edit(baseSender, strings.Replace(guestSender, `"Guest"`, `"Guest","email":"g@x"`, 1)), notCanonical},
		{withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","colons":":+1:","fileUrl":""}`), notCanonical},
		{withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","colons":":+1:","fileUrl":null}`), notCanonical},
		{edit(`"attachments":[]}`, `"attachments":[],"language":"go"}`), notCanonical},
		{edit(`"eventType":"sent"`, `"eventType":"deleted"`, `"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, `"content":null`), notCanonical},

		{edit(`"content":{"contentType":"text",`, `"content":{`), refused},
		{edit(`"timestamp":1763769601456`, `"timestamp":1.763769601456e12`), refused},
		{edit(`"timestamp":1763769601456`, `"timestamp":9223372036854775808`), refused},
		{edit(`"timestamp":1763769601456`, `"timestamp":01`), refused},
		{edit(`"timestamp":1763769601456`, `"timestamp":-1`), refused},
		{edit(`"chatId":"c1"`, `"chatId":""`), refused},
		{edit(`"messageId":"m1"`, `"messageId":""`), refused},
		{edit(`"id":"u1"`, `"id":""`), refused},
		{edit(`"eventType":"sent"`, `"eventType":"posted"`), refused},
		{edit(`"participantType":"email"`, `"participantType":"robot"`), refused},
		{edit(`"content":{"contentType":"text"`, `"content":{"contentType":"emoji"`), refused},
		{edit(`,"content":{"contentType":"text","text":"hi","markdownText":"hi","attachments":[]}`, ``), refused},
		{withContent(`"contentType":"wave","content":{"contentType":"wave","to":"u2"}`), refused},
		{edit(`"text":"hi"`, "\"text\":\"h\xffi\""), refused},
		{edit(`"text":"hi"`, "\"text\":\"h\x01i\""), refused},
		{edit(`"attachments":[]`, `"attachments":[1]`), refused},
		{edit(`"attachments":[]`, `"attachments":[{"a":}]`), refused},
		{edit(`"attachments":[]`, `"attachments":[{"a":"\ud800"}]`), refused},
		{deep(62), refused},
		{base[:len(base)-1], refused},
		{base + "}", refused},
	}
}

// TestDecodeCanonicalCases: each line above, decoded one after another with one Decoder
// (reusing its buffers must not change a result), meets the contract and is of the kind
// the table says, so each departure from the layout is caught where it is.
func TestDecodeCanonicalCases(t *testing.T) {
	var dc Decoder
	for i, tc := range canonicalCases() {
		got := notCanonical
		if checkDecodeCanonical(t, &dc, []byte(tc.line)) {
			got = isCanonical
		} else if _, err := Decode([]byte(tc.line)); err != nil {
			got = refused
		}
		if got != tc.want {
			t.Errorf("case %d is of kind %d, want %d: %s", i, got, tc.want, tc.line)
		}
	}
}

// FuzzDecodeCanonical checks DecodeCanonical's contract (checkDecodeCanonical) on
// arbitrary input, with one Decoder throughout. Run it longer with
// go test -run='^$' -fuzz=FuzzDecodeCanonical ./model/
func FuzzDecodeCanonical(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/decode/*")
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range splitLines(data) {
			f.Add(line)
		}
	}
	for _, tc := range canonicalCases() {
		f.Add([]byte(tc.line))
	}
	for _, l := range fuzzSeeds() {
		f.Add([]byte(l))
	}
	for _, bl := range benchLines {
		f.Add([]byte(bl.line))
	}
	var dc Decoder
	f.Fuzz(func(t *testing.T, line []byte) {
		checkDecodeCanonical(t, &dc, line)
	})
}

// TestDecodeCanonicalAllocatesNothing counts the allocations of decoding the typical lines
// with DecodeCanonical: none, once the Decoder has seen a line (Decoder.Decode allocates
// the attachments' and members' slices for every line).
func TestDecodeCanonicalAllocatesNothing(t *testing.T) {
	lines := []string{benchLines[0].line, benchLines[1].line, withContent(members),
		edit(`"text":"hi"`, `"text":"a\"b\nc"`)}
	for _, l := range lines {
		line := []byte(l)
		var dc Decoder
		if _, canonical, err := dc.DecodeCanonical(line); err != nil || !canonical {
			t.Fatalf("not a canonical line (%v): %s", err, line)
		}
		allocs := testing.AllocsPerRun(100, func() { _, _, _ = dc.DecodeCanonical(line) })
		if allocs != 0 {
			t.Errorf("DecodeCanonical allocates %.0f times a line for %s", allocs, line)
		}
	}
	reliability.Record(t, "operations", "decoding a canonical line", reliability.Kept,
		"TestDecodeCanonicalAllocatesNothing: decoding a canonical line (typical text, attachments, membership changes, escapes) allocates nothing once the decoder has seen a line")
}
