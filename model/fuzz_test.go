package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks the decoder against its contract on arbitrary input:
//   - it never panics, and every error is a *DecodeError of one of the kinds;
//   - it accepts only valid JSON, refuses invalid JSON always as ErrSyntax, and refuses
//     valid JSON as ErrSyntax only for what encoding/json lets through (invalid UTF-8,
//     lone surrogate escapes);
//   - what it accepts encodes to valid JSON that decodes to an equal event and
//     re-encodes to the same bytes.
//
// The seed corpus is the golden inputs and the error table; run it longer with
// go test -run='^$' -fuzz=FuzzDecode ./model/
func FuzzDecode(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/decode/*.jsonl")
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range splitLines(data) {
			f.Add(line)
		}
	}
	for _, line := range fuzzSeeds() {
		f.Add([]byte(line))
	}
	// One Decoder for every input: reusing its buffer must not change what it decodes.
	var reused Decoder
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.Count(line, []byte("["))+bytes.Count(line, []byte("{")) <= 10000 { // encoding/json's limit
			verr := validate(line)
			if verr == nil && !json.Valid(line) {
				t.Fatalf("validate accepts invalid JSON %q", line)
			}
			if verr != nil && json.Valid(line) && utf8.Valid(line) && !strings.Contains(verr.Error(), "surrogate") {
				t.Fatalf("validate refuses valid JSON: %v", verr)
			}
		}
		e, err := Decode(line)
		if re, rerr := reused.Decode(line); !reflect.DeepEqual(re, e) || !reflect.DeepEqual(rerr, err) {
			t.Fatalf("Decoder.Decode = %+v, %v; Decode = %+v, %v", re, rerr, e, err)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			checkErrorShape(t, de)
			valid := json.Valid(line)
			switch {
			case de.Kind == ErrSyntax && valid && utf8.Valid(line) && !strings.Contains(de.Detail, "surrogate"):
				t.Fatalf("valid JSON refused as %v", err)
			case de.Kind != ErrSyntax && !valid && bytes.Count(line, []byte("["))+bytes.Count(line, []byte("{")) <= 10000:
				// (encoding/json refuses more than 10000 levels of nesting, valid or not.)
				t.Fatalf("invalid JSON refused as %v, want ErrSyntax", err)
			}
			return
		}
		if !json.Valid(line) {
			t.Fatalf("Decode accepted invalid JSON %q", line)
		}
		checkCanonical(t, e)
	})
}

// fuzzSeeds returns the inputs of the decode tables, so the fuzzer starts from every
// error path as well as from the golden records.
func fuzzSeeds() []string {
	var seeds []string
	for _, tt := range decodeErrorTests() {
		if len(tt.line) <= 4096 { // the hostile-nesting case would only slow the fuzzer down
			seeds = append(seeds, tt.line)
		}
	}
	return append(seeds, withContent(members), edit(baseSender, botSender), edit(baseSender, guestSender),
		withContent(`"contentType":"emoji","content":{"contentType":"emoji","text":"👍","colons":":+1:","fileUrl":"https://e.example/1.gif"}`),
		withContent(`"contentType":"wave","content":{"contentType":"wave","to":"u2"}`),
		edit(`"attachments":[]`, `"attachments":[{"b":[1,-0.5E+3,{"c":null}],"a":"x\"y"},{}]`),
	)
}

// FuzzAppendString checks the word-at-a-time string encoder against the plain rune by
// rune one that it falls back to for invalid UTF-8.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/\b\f\n\r\t\x00\x1f\x7f", "é😀\u2028", "a\xffb", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAppendString(t, s)
	})
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	got := AppendString([]byte("x"), s)
	want := appendInvalidUTF8([]byte(`x"`), s)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want[1:])
	}
	if !json.Valid(got[1:]) {
		t.Fatalf("AppendString(%q) = %s is not valid JSON", s, got[1:])
	}
}
