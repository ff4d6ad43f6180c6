package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/chatvault/chatvault/model"
)

// forgedRecords is one record no seal ever wrote.
const forgedRecords = `{"eventType":"sent","chatId":"chat-acme-team","timestamp":1795338000000,"eventTimestamp":1795338000000,"messageId":"m-forged","sender":{"participantType":"email","id":"u-ada","displayName":"Ada Lovelace","email":"ada@acme.example"},"contentType":"text","content":{"contentType":"text","text":"forged","markdownText":"forged","attachments":[]}}` + "\n"

// writeRaw puts b at key in the folder store as someone with write access to the folder
// would (no create-once, no signing key).
func writeRaw(t *testing.T, s *fsstore.Store, key string, b []byte) {
	t.Helper()
	path := filepath.Join(s.Dir(), filepath.FromSlash(key))
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestForgedManifestNeverServed: whoever can write to the store but holds no signing key
// adds or rewrites a day's manifest (with, where needed, a data object of their own that
// matches it). The data object's hash check cannot see that: the bytes match the forged
// manifest. Serve must check the manifest itself: that it is the one its key names (the
// organization, day and revision of its path) and, when serve has the signing keys, that
// a trusted key signed it. Otherwise the API serves another organization's day, or
// records nobody sealed, as a complete 200.
func TestForgedManifestNeverServed(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	day := mustDay(t, sample)
	for _, tc := range []struct {
		name   string
		signed bool // the store is sealed with a key, and serve trusts its public half
		forge  func(t *testing.T, s *fsstore.Store, l ledger.Ledger)
	}{
		{"unsigned revision 2 naming forged records", true, func(t *testing.T, s *fsstore.Store, l ledger.Ledger) {
			m, _ := l.Latest(context.Background(), acme, day)
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			zw.Write([]byte(forgedRecords))
			zw.Close()
			gsum, jsum := sha256.Sum256(zb.Bytes()), sha256.Sum256([]byte(forgedRecords))
			key := strings.Replace(m.Data.Key, m.Data.SHA256, hex.EncodeToString(gsum[:]), 1)
			if err := s.Create(context.Background(), key, bytes.NewReader(zb.Bytes()), int64(zb.Len()), gsum, archiver.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			f := *m.Manifest
			f.Revision, f.Signature = 2, nil
			f.Data.Key, f.Data.Size, f.Data.SHA256 = key, int64(zb.Len()), hex.EncodeToString(gsum[:])
			f.Data.JSONLSize, f.Data.JSONLSHA256, f.Data.Records = int64(len(forgedRecords)), hex.EncodeToString(jsum[:]), 1
			b, _ := json.MarshalIndent(&f, "", "  ")
			writeRaw(t, s, strings.Replace(m.Key, "r0001.json", "r0002.json", 1), append(b, '\n'))
		}},
		{"signed manifest rewritten in place", true, func(t *testing.T, s *fsstore.Store, l ledger.Ledger) {
			m, _ := l.Latest(context.Background(), acme, day)
			b := bytes.Replace(m.Bytes, []byte(`"exported": 12`), []byte(`"exported": 11`), 1)
			if bytes.Equal(b, m.Bytes) {
				t.Fatal("the manifest has no exported count of 12 to change")
			}
			writeRaw(t, s, m.Key, b)
		}},
		{"another organization's manifest as revision 2", false, func(t *testing.T, s *fsstore.Store, l ledger.Ledger) {
			m, _ := l.Latest(context.Background(), acme, day)
			other, _ := l.Latest(context.Background(), globex, day)
			writeRaw(t, s, strings.Replace(m.Key, "r0001.json", "r0002.json", 1), other.Bytes)
		}},
		{"another organization's signed manifest as revision 2", true, func(t *testing.T, s *fsstore.Store, l ledger.Ledger) {
			m, _ := l.Latest(context.Background(), acme, day)
			other, _ := l.Latest(context.Background(), globex, day)
			writeRaw(t, s, strings.Replace(m.Key, "r0001.json", "r0002.json", 1), other.Bytes)
		}},
		{"revision 1 replayed as revision 2", true, func(t *testing.T, s *fsstore.Store, l ledger.Ledger) {
			m, _ := l.Latest(context.Background(), acme, day)
			writeRaw(t, s, strings.Replace(m.Key, "r0001.json", "r0002.json", 1), m.Bytes)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			var trusted []ed25519.PublicKey
			if tc.signed {
				trusted = []ed25519.PublicKey{pub}
				src, err := eventlog.NewDir("../../testdata/eventlog")
				if err != nil {
					t.Fatal(err)
				}
				dirBytes, err := os.ReadFile("../../testdata/eventlog/directory.json")
				if err != nil {
					t.Fatal(err)
				}
				sealer := &archiver.Sealer{Source: src, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{SigningKey: priv,
					TempDir: t.TempDir(), Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
					Logger: slog.New(slog.DiscardHandler)}}
				if _, err := sealer.Seal(context.Background(), day, dirBytes, ""); err != nil {
					t.Fatal(err)
				}
			}
			f := newFixtureOn(t, store, func(s *httpapi.Server) {
				s.Exports = ledger.Ledger{Store: store, TrustedKeys: trusted}
			})
			f.store = store
			tc.forge(t, store, ledger.Ledger{Store: store})

			resp, body := f.export(t, f.tokens["acme"], date(sample))
			if strings.Contains(string(body), "m-forged") || resp.Header.Get(httpapi.HeaderRevision) != "" {
				t.Errorf("the forged day was served: %d, revision header %q", resp.StatusCode, resp.Header.Get(httpapi.HeaderRevision))
			}
			checkError(t, resp, body, 500, "internal")
			if !strings.Contains(string(body), "manifest") {
				t.Errorf("the 500 does not say the manifest is at fault: %s", body)
			}
			resp, body = f.get(t, "/v1/exports/"+sample+"/manifest", f.tokens["acme"])
			checkError(t, resp, body, 500, "internal")
			fams, err := f.reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var failures float64
			for _, fam := range fams {
				if fam.GetName() == "chatvault_http_integrity_failures_total" {
					failures = counterValue(fam.Metric[0])
				}
			}
			if failures != 2 {
				t.Errorf("chatvault_http_integrity_failures_total = %v, want 2 (the export and the manifest)", failures)
			}

			// An export task over the day fails rather than export the forged records.
			engine := &exporttask.Engine{Store: store, TrustedKeys: trusted, Now: f.clock.Now, TempDir: t.TempDir(),
				Directory: func(context.Context) (*model.Directory, error) {
					b, err := os.ReadFile("../../testdata/eventlog/directory.json")
					if err != nil {
						return nil, err
					}
					return model.ParseDirectory(b)
				}, Links: exporttask.Links{Key: []byte("test-key-test-key-test-key-test-")}}
			id, err := engine.Create(context.Background(), acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
			if err == nil {
				st, err := engine.Execute(context.Background(), acme, id)
				if err == nil && st.State == exporttask.StateCompleted {
					t.Errorf("an export task over the forged day completed: %+v", st.Result)
				}
			} else if !errors.Is(err, ledger.ErrUntrustedManifest) {
				t.Errorf("task create: %v, want an error wrapping ledger.ErrUntrustedManifest", err)
			}
		})
	}
	reliability.Record(t, "security", "day's manifest forged in the store (a new revision, another organization's, a replay, or rewritten)", reliability.CleanFailure,
		"the manifest served must be the one its key names (organization, day, revision) and, with signing keys, signed by a trusted one: else 500 internal, nothing sent, counted as an integrity failure")
}
