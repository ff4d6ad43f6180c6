package model

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestDecoderReusesItsBuffer counts the bytes decoding allocates per line: Decode takes a
// fresh buffer for the Event's strings every time (two thirds of what a seal allocated);
// a Decoder reuses one, so once it has seen a line it allocates only the participant and
// attachment slices.
func TestDecoderReusesItsBuffer(t *testing.T) {
	for _, bl := range benchLines {
		t.Run(bl.name, func(t *testing.T) {
			line := []byte(bl.line)
			fresh := allocBytes(func() { _, _ = Decode(line) })
			var dc Decoder
			reused := allocBytes(func() { _, _ = dc.Decode(line) })
			t.Logf("%d-byte line: Decode allocates %d bytes, Decoder.Decode %d", len(line), fresh, reused)
			if reused*2 > fresh {
				t.Errorf("Decoder.Decode allocates %d bytes a line, Decode %d: the string buffer is not reused", reused, fresh)
			}
		})
	}
	reliability.Record(t, "operations", "decoding a day's lines", reliability.Kept,
		"TestDecoderReusesItsBuffer: the pipeline's decoder reuses one buffer for every line's strings instead of allocating one per line, at least halving the bytes allocated per line")
}

// allocBytes returns the bytes fn allocates per call, averaged over many calls.
func allocBytes(fn func()) uint64 {
	const n = 1000
	fn() // warm up: a Decoder sizes its buffer on the first line
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / n
}

// TestDecoderMatchesDecode decodes a stream of different lines, valid and not, with one
// Decoder: each Event and error must equal what Decode returns for the line, and an
// Event's strings must stay intact until the next call.
func TestDecoderMatchesDecode(t *testing.T) {
	lines := []string{benchLines[1].line, benchLines[0].line,
		`{"eventType":"sent","chatId":"c\u00e9","timestamp":1,"eventTimestamp":2,"messageId":"m\"1","sender":{"participantType":"email","id":"u1","displayName":"A","email":"a@x"},"contentType":"wave","content":{}}`,
		`{"eventType":"sent"`, `not json`, benchLines[1].line}
	var dc Decoder
	for i, l := range lines {
		want, werr := Decode([]byte(l))
		got, gerr := dc.Decode([]byte(l))
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gerr, werr) {
			t.Errorf("line %d: Decoder.Decode = %+v, %v; Decode = %+v, %v", i, got, gerr, want, werr)
		}
	}
}
