package archiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// memStore is the least Store verifyData needs: Open over a map.
type memStore map[string][]byte

func (m memStore) Create(context.Context, string, io.Reader, int64, [sha256.Size]byte, CreateOptions) error {
	panic("not used")
}

func (m memStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b, ok := m[key]
	if !ok {
		return nil, ErrNotFound
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
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"in order", []string{a, b, edit}, ""},
		{"out of order", []string{b, a}, "out of export order"},
		{"edit before send", []string{edit, b}, "out of export order"},
		{"repeated", []string{a, a}, "repeats"},
		{"not a record", []string{a, `{"hello":"world"}`}, "record 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jsonl := []byte(strings.Join(tt.lines, "\n") + "\n")
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(jsonl)
			zw.Close()
			m := &StoredManifest{Manifest: &Manifest{Data: DataObject{
				Key: "k", Size: int64(gz.Len()), SHA256: hexSum(sha256.Sum256(gz.Bytes())),
				JSONLSize: int64(len(jsonl)), JSONLSHA256: hexSum(sha256.Sum256(jsonl)), Records: int64(len(tt.lines)),
			}, Counts: OrgCounts{Exported: int64(len(tt.lines))}}}
			_, err := Ledger{Store: memStore{"k": gz.Bytes()}}.verifyData(context.Background(), m, &VerifyReport{})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("verifyData = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("verifyData = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
