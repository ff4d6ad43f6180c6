package model

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/decode")

// TestGolden decodes every line of testdata/decode/*.jsonl and compares the canonical
// encodings, one line each, with the matching .golden file. Run with -update to rewrite
// them after a deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/decode/*.jsonl")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".jsonl")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			for i, line := range splitLines(data) {
				e, err := Decode(line)
				if err != nil {
					t.Fatalf("%s:%d: %v", in, i+1, err)
				}
				start := len(got)
				got = AppendJSON(got, &e)
				checkCanonical(t, e)
				checkAgainstEncodingJSON(t, line, got[start:])
				got = append(got, '\n')
			}
			golden := strings.TrimSuffix(in, ".jsonl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				gl, wl := splitLines(got), splitLines(want)
				for i := 0; i < max(len(gl), len(wl)); i++ {
					var g, w []byte
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if !bytes.Equal(g, w) {
						t.Errorf("%s:%d:\n got %s\nwant %s", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

// splitLines splits data after each '\n', dropping the newlines and a last empty line.
func splitLines(data []byte) [][]byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte("\n"))
	}
	return lines
}

// checkCanonical checks what makes the encoding canonical: it is valid JSON on one line,
// it decodes back to the same event, and encoding that gives the same bytes.
func checkCanonical(t *testing.T, e Event) {
	t.Helper()
	enc := AppendJSON(nil, &e)
	if !json.Valid(enc) {
		t.Fatalf("AppendJSON is not valid JSON: %s", enc)
	}
	if bytes.ContainsAny(enc, "\n\r") {
		t.Fatalf("AppendJSON spans lines: %q", enc)
	}
	e2, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(AppendJSON(e)): %v\n%s", err, enc)
	}
	if !e2.Equal(e) {
		t.Fatalf("Decode(AppendJSON(e)) differs:\n got %+v\nwant %+v", e2, e)
	}
	if enc2 := AppendJSON(nil, &e2); !bytes.Equal(enc2, enc) {
		t.Fatalf("AppendJSON is not a fixed point:\n first %s\nsecond %s", enc, enc2)
	}
}

// checkAgainstEncodingJSON decodes input and canonical output with encoding/json and checks
// that the output holds exactly the input's fields that the format defines for its
// variants, with equal values: an oracle for field selection and unescaping that shares
// no code with the model.
func checkAgainstEncodingJSON(t *testing.T, input, canonical []byte) {
	t.Helper()
	var in, out map[string]any
	if err := unmarshalNumbers(input, &in); err != nil {
		t.Fatalf("encoding/json rejects the input: %v", err)
	}
	if err := unmarshalNumbers(canonical, &out); err != nil {
		t.Fatalf("encoding/json rejects the output: %v", err)
	}
	want := expectedRecord(in)
	if !reflect.DeepEqual(out, want) {
		t.Errorf("canonical output differs from what encoding/json reads in the input:\n got %v\nwant %v", out, want)
	}
}

func unmarshalNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// expectedRecord is the format's field selection, written against generic JSON values.
func expectedRecord(in map[string]any) map[string]any {
	out := pick(in, "eventType", "chatId", "timestamp", "eventTimestamp", "messageId", "contentType")
	if ts, ok := in["threadTimestamp"].(json.Number); ok && ts != "0" {
		out["threadTimestamp"] = ts
	}
	out["sender"] = expectedParticipant(in["sender"].(map[string]any))
	c, ok := in["content"].(map[string]any)
	if !ok {
		return out
	}
	var content map[string]any
	switch c["contentType"] {
	case ContentText:
		content = pick(c, "contentType", "text", "markdownText", "attachments")
	case ContentEmoji:
		content = pick(c, "contentType", "text", "colons")
		if u, ok := c["fileUrl"].(string); ok && u != "" {
			content["fileUrl"] = u
		}
	case ContentItem:
		content = pick(c, "contentType", "itemUrl", "itemType")
	case ContentTextSnippet:
		content = pick(c, "contentType", "text", "language")
	case ContentMembersChanged:
		content = pick(c, "contentType")
		for _, k := range []string{"added", "removed"} {
			ps := []any{}
			for _, p := range c[k].([]any) {
				ps = append(ps, expectedParticipant(p.(map[string]any)))
			}
			content[k] = ps
		}
	}
	out["content"] = content
	return out
}

func expectedParticipant(p map[string]any) map[string]any {
	switch p["participantType"] {
	case ParticipantEmail:
		return pick(p, "participantType", "id", "displayName", "email")
	case ParticipantBot:
		return pick(p, "participantType", "id", "displayName", "roamId", "integrationId", "botCode")
	}
	return pick(p, "participantType", "id", "displayName")
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// TestAppendJSONBuiltEvents covers events built in code rather than decoded: what the
// encoder does with values the decoder never produces.
func TestAppendJSONBuiltEvents(t *testing.T) {
	e := Event{
		EventType: EventSent, ChatID: "c1", Timestamp: 1, EventTimestamp: 2, MessageID: "m1",
		Sender:      Participant{Type: ParticipantOccupant, ID: "g1", DisplayName: "bad \xff utf-8", Email: "not encoded"},
		ContentType: ContentText, HasContent: true,
		Content: Content{Type: ContentText, Text: "\x00\x1f\x7f\u2028</script>", Colons: "not encoded"},
	}
	want := `{"eventType":"sent","chatId":"c1","timestamp":1,"eventTimestamp":2,"messageId":"m1",` +
		`"sender":{"participantType":"occupant","id":"g1","displayName":"bad \ufffd utf-8"},"contentType":"text",` +
		`"content":{"contentType":"text","text":"\u0000\u001f` + "\x7f\u2028</script>" + `","markdownText":"","attachments":[]}}`
	if got := AppendJSON(nil, &e); string(got) != want {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
	if got := string(AppendJSON([]byte("prefix "), &Event{EventType: EventDeleted})); !strings.HasPrefix(got, `prefix {"eventType":"deleted","chatId":""`) {
		t.Errorf("AppendJSON does not append: %s", got)
	}
}

// TestAppendStringWordBoundaries puts each kind of byte the encoder must look at at every
// position of strings up to three words long, since it reads 8 bytes at a time.
func TestAppendStringWordBoundaries(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, insert := range []string{"", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "😀", "\xff", "\xe2\x82", "\u2028"} {
				checkAppendString(t, strings.Repeat("a", pos)+insert+strings.Repeat("b", n-pos))
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{"\"\\/", `"\"\\/"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f\""},
		{"<>&\u2028\u2029", "\"<>&\u2028\u2029\""},
		{"é😀", `"é😀"`},
		{"a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
	} {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, tt.in), &back); err != nil || (utf8.ValidString(tt.in) && back != tt.in) {
			t.Errorf("AppendString(%q) does not read back: %q, %v", tt.in, back, err)
		}
	}
}
