package eventlog

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
)

// BenchmarkScan reports throughput in uncompressed bytes per second over a generated
// ~50 MB day, plain and gzipped, with a callback that only touches each line. Message
// text is drawn at random (fixed seed) so gzip sees a realistic ratio, not a repetition.
func BenchmarkScan(b *testing.B) {
	words := strings.Fields("the a meeting deploy tomorrow review please thanks ok " +
		"lunch build failed green merged ticket customer call notes draft agenda quick question")
	rng := rand.New(rand.NewPCG(1, 2))
	var content strings.Builder
	for i := 0; content.Len() < 50<<20; i++ {
		var text strings.Builder
		for range 3 + rng.IntN(40) {
			text.WriteString(words[rng.IntN(len(words))])
			text.WriteByte(' ')
		}
		user := rng.IntN(900)
		fmt.Fprintf(&content, `{"eventType":"sent","chatId":"%016x","timestamp":%d,"eventTimestamp":%[2]d,`+
			`"messageId":"%016x","sender":{"participantType":"email","id":"%06d","displayName":"User %[4]d",`+
			`"email":"user%[4]d@acme.example"},"contentType":"text","content":{"contentType":"text",`+
			`"text":"%[5]s","markdownText":"%[5]s","attachments":[]}}`+"\n",
			rng.Uint64()%5000, 1763769600000+int64(i)*7, rng.Uint64(), user, text.String())
	}
	data := content.String()
	cases := []struct {
		name, file string
		stored     []byte
	}{
		{"plain", "part-0001.jsonl", []byte(data)},
		{"gzip", "part-0001.jsonl.gz", gzipped(b, data)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := writeTree(b, filepath.Join(b.TempDir(), c.name), map[string][]byte{testDay + "/" + c.file: c.stored})
			dd := day(b, testDay)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var lines, size int64
			for b.Loop() {
				_, err := d.Scan(b.Context(), dd, func(l archiver.Line) error {
					lines++
					size += int64(len(l.Bytes))
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if lines == 0 || size == 0 {
				b.Fatal("nothing scanned")
			}
			// After the loop: b.Loop's first call resets reported metrics.
			b.ReportMetric(float64(len(data))/float64(len(c.stored)), "ratio")
		})
	}
}
