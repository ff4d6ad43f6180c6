package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/klauspost/compress/gzip"
)

// memStore is the least Store verifyData needs: Open over a map.
type memStore map[string][]byte

func (m memStore) Create(context.Context, string, io.Reader, int64, [sha256.Size]byte, archiver.CreateOptions) error {
	panic("not used")
}

func (m memStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b, ok := m[key]
	if !ok {
		return nil, archiver.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m memStore) List(context.Context, string, func(string) error) error { return nil }

// TestVerifyDataChecksOrder: an export whose hashes match its manifest still fails
// verification when its records are not in export order, repeat, or are not records.
func TestVerifyDataChecksOrder(t *testing.T) {
	const a = `{"eventType":"sent","chatId":"c","timestamp":1,"eventTimestamp":1,"messageId":"m1","sender":{"participantType":"occupant","id":"o","displayName":"O"},"contentType":"item","content":{"contentType":"item","itemUrl":"u","itemType":"t"}}`
	b := strings.Replace(a, `"eventTimestamp":1,`, `"eventTimestamp":2,`, 1)
	edit := strings.Replace(b, `"eventType":"sent"`, `"eventType":"edited"`, 1)
	day := archiver.Window{Start: 0, End: 10, FirstEvent: 1, LastEvent: 2}
	short := archiver.Window{Start: 0, End: 2, FirstEvent: 1, LastEvent: 2} // the day ends before b and edit
	tests := []struct {
		name   string
		lines  []string
		window *archiver.Window // nil: day
		skew   *archiver.ClockSkew
		want   string
	}{
		{"in order", []string{a, b, edit}, nil, nil, ""},
		{"window misstated", []string{a, b}, &archiver.Window{Start: 0, End: 10, FirstEvent: 1, LastEvent: 1}, nil, "window says 1 to 1"},
		{"clock skew flagged", []string{a, b, edit}, &short, &archiver.ClockSkew{After: 2, Earliest: 2, Latest: 2}, ""},
		{"clock skew not flagged", []string{a, b, edit}, &short, nil, "clockSkew says"},
		{"clock skew miscounted", []string{a, b, edit}, &short, &archiver.ClockSkew{After: 1, Earliest: 2, Latest: 2}, "clockSkew says"},
		{"out of order", []string{b, a}, nil, nil, "out of export order"},
		{"edit before send", []string{edit, b}, nil, nil, "out of export order"},
		{"repeated", []string{a, a}, nil, nil, "repeats"},
		{"not a record", []string{a, `{"hello":"world"}`}, nil, nil, "record 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jsonl := []byte(strings.Join(tt.lines, "\n") + "\n")
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(jsonl)
			zw.Close()
			win := day
			if tt.window != nil {
				win = *tt.window
			}
			m := &archiver.StoredManifest{Manifest: &archiver.Manifest{Window: win, ClockSkew: tt.skew, Data: archiver.DataObject{
				Key: "k", Size: int64(gz.Len()), SHA256: archiver.HexSum(sha256.Sum256(gz.Bytes())),
				JSONLSize: int64(len(jsonl)), JSONLSHA256: archiver.HexSum(sha256.Sum256(jsonl)), Records: int64(len(tt.lines)),
			}, Counts: archiver.OrgCounts{Exported: int64(len(tt.lines))}}}
			_, err := Ledger{Store: memStore{"k": gz.Bytes()}}.verifyData(context.Background(), m, archiver.NewChatIndexBuilder())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("verifyData = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("verifyData = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
