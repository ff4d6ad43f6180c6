package model

import (
	"strings"
	"testing"
)

// benchLines are what the pipeline sees most: a typical text message (~400 bytes) and a
// larger one with attachments, as the platform writes them (no insignificant whitespace).
var benchLines = []struct {
	name string
	line string
}{
	{"text", `{"eventType":"sent","chatId":"0b9c6a52-7f3e-4d1a-9b8e-2c4f6a8d0e13","timestamp":1763769601456,"eventTimestamp":1763769601501,"messageId":"5d2e8f10-3c4b-4a6d-8e9f-0a1b2c3d4e5f","sender":{"participantType":"email","id":"8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d","displayName":"Ada Lovelace","email":"ada.lovelace@acme.example"},"contentType":"text","content":{"contentType":"text","text":"Can we move the quarterly review to Thursday afternoon?","markdownText":"Can we move the **quarterly review** to Thursday afternoon?","attachments":[]}}`},
	{"attachments", `{"eventType":"edited","chatId":"0b9c6a52-7f3e-4d1a-9b8e-2c4f6a8d0e13","threadTimestamp":1763769500000,"timestamp":1763769601456,"eventTimestamp":1763769701501,"messageId":"5d2e8f10-3c4b-4a6d-8e9f-0a1b2c3d4e5f","sender":{"participantType":"bot","id":"1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9","displayName":"Release Bot","roamId":"roam-bot-17","integrationId":"int-4411","botCode":"release"},"contentType":"text","content":{"contentType":"text","text":"Release 4.12.0 is out: see the notes and the build artifacts below. Rollout starts with the canary fleet at 14:00 UTC.","markdownText":"Release **4.12.0** is out: see the [notes](https://releases.example/4.12.0) and the build artifacts below.\nRollout starts with the canary fleet at 14:00 UTC.","attachments":[{"type":"file","name":"release-notes-4.12.0.pdf","url":"https://files.example/att/7f3e4d1a/release-notes-4.12.0.pdf","mimeType":"application/pdf","size":482133},{"type":"image","name":"rollout.png","url":"https://files.example/att/9b8e2c4f/rollout.png","mimeType":"image/png","size":91234,"width":1280,"height":720,"thumbnail":{"url":"https://files.example/att/9b8e2c4f/rollout-thumb.png","width":320,"height":180}},{"type":"link","url":"https://ci.example/pipelines/88123","title":"Pipeline #88123 passed","meta":{"durationSeconds":1843.5,"stages":["build","test","package","sign"]}}]}}`},
}

func BenchmarkDecode(b *testing.B) {
	for _, bl := range benchLines {
		line := []byte(bl.line)
		b.Run(bl.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeCanonical is the pipeline's path for a line already canonical: matched
// against the layout, not decoded in full, and then kept instead of encoded again (compare
// with Decode plus AppendJSON).
func BenchmarkDecodeCanonical(b *testing.B) {
	for _, bl := range benchLines {
		line := []byte(bl.line)
		var dc Decoder
		b.Run(bl.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if _, canonical, err := dc.DecodeCanonical(line); err != nil || !canonical {
					b.Fatal(err, canonical)
				}
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, bl := range benchLines {
		e, err := Decode([]byte(bl.line))
		if err != nil {
			b.Fatal(err)
		}
		var dst []byte
		b.Run(bl.name, func(b *testing.B) {
			b.SetBytes(int64(len(AppendJSON(nil, &e))))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendJSON(dst[:0], &e)
			}
		})
	}
}

// BenchmarkAppendString isolates string escaping, which is most of AppendJSON.
func BenchmarkAppendString(b *testing.B) {
	for _, s := range []struct{ name, s string }{
		{"ascii", "Can we move the **quarterly review** to Thursday afternoon? See https://releases.example/4.12.0"},
		{"unicode", strings.Repeat("Grüße aus Zürich – 你好，世界 🎉 ", 3)},
		{"escapes", "line one\nline two\t\"quoted\" \\ back\x01slash\n"},
	} {
		var dst []byte
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.s)))
			for b.Loop() {
				dst = appendString(dst[:0], s.s)
			}
		})
	}
}
