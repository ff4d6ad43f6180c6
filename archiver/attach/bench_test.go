package attach

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
)

// splitStore keeps the sealed day in one store and the attachments in another, so that
// each benchmark iteration captures into an empty one without sealing again.
type splitStore struct{ sealed, att archiver.Store }

func (s splitStore) pick(key string) archiver.Store {
	if strings.HasPrefix(key, Prefix) {
		return s.att
	}
	return s.sealed
}

func (s splitStore) Create(ctx context.Context, key string, body io.Reader, size int64, sum [sha256.Size]byte, opt archiver.CreateOptions) error {
	return s.pick(key).Create(ctx, key, body, size, sum, opt)
}

func (s splitStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.pick(key).Open(ctx, key)
}

func (s splitStore) List(ctx context.Context, prefix string, fn func(string) error) error {
	return s.pick(prefix).List(ctx, prefix, fn)
}

// BenchmarkCapture captures a day's links from a local server into a folder store: many
// small files (files/s) and a few large ones (MB/s), attachments.concurrency 4. Figures
// depend on the machine; the README gives them as measured.
func BenchmarkCapture(b *testing.B) {
	for _, bc := range []struct {
		name  string
		files int
		size  int
	}{{"500x64KiB", 500, 64 << 10}, {"4x32MiB", 4, 32 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			chunk := []byte(strings.Repeat("0123456789abcdef", 4096))
			srv := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(bc.size))
				w.Write([]byte(r.URL.Path[:min(len(r.URL.Path), bc.size)])) // distinct bytes per file
				for n := min(len(r.URL.Path), bc.size); n < bc.size; {
					k := min(len(chunk), bc.size-n)
					if _, err := w.Write(chunk[:k]); err != nil {
						return
					}
					n += k
				}
			}), false)
			var msgs []msg
			for i := 0; i < bc.files; i += 10 {
				var urls []string
				for j := i; j < min(i+10, bc.files); j++ {
					urls = append(urls, fmt.Sprintf("%s/f/%06d", srv.URL, j))
				}
				msgs = append(msgs, msg{fmt.Sprintf("m-%d", i), "u-ada", urls})
			}
			sealed := sealDay(b, msgs)
			opt := testOptions(srv.host())
			opt.MaxSize, opt.Timeout, opt.HeaderTimeout = 64<<20, time.Minute, 10*time.Second
			f := newTestFetcher(b, opt)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				att, err := fsstore.New(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				c := &Capturer{Ledger: ledger.Ledger{Store: splitStore{sealed, att}}, Fetcher: f, RetryFor: time.Hour,
					Now: func() time.Time { return testDay.End() }, Log: slog.New(slog.DiscardHandler)}
				b.StartTimer()
				res, err := c.CaptureDay(context.Background(), acme, testDay)
				if err != nil || res.Captured != bc.files {
					b.Fatalf("capture: %+v, %v", res, err)
				}
				b.StopTimer()
				att.Close()
				b.StartTimer()
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(bc.files*b.N)/secs, "files/s")
			b.ReportMetric(float64(bc.files*bc.size*b.N)/secs/1e6, "MB/s")
		})
	}
}
