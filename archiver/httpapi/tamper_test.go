package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/exporttask"
	"github.com/chatvault/chatvault/archiver/httpapi"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// tamper rewrites the stored export of org's sample day in place, as someone with write
// access to the folder could: the read-only file made writable and given other bytes.
func tamper(t *testing.T, f *fixture, org string, change func([]byte) []byte) *archiver.StoredManifest {
	t.Helper()
	m, err := ledger.Ledger{Store: f.store}.Latest(context.Background(), org, mustDay(t, sample))
	if err != nil || m == nil {
		t.Fatalf("latest: %v %v", m, err)
	}
	path := filepath.Join(f.store.Dir(), filepath.FromSlash(m.Data.Key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

// flipByte changes one byte in the middle: same size, other bytes (and, inside, a deflate
// stream or CRC that no longer checks).
func flipByte(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)/2] ^= 0x55
	return b
}

// otherRecords stores a valid gzip of JSONL of the same length with one character
// changed: the strongest forgery of the identity coding, since every gzip check passes.
func otherRecords(b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		panic(err)
	}
	i := bytes.Index(plain, []byte(`"displayName":"`)) + len(`"displayName":"`)
	plain[i] ^= 0x01 // a letter stays a letter
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(plain)
	zw.Close()
	return out.Bytes()
}

// fetch posts an export request and reads the whole body, returning the request's or the
// read's error instead of failing: a cut response is what some cases want. resp is nil
// when the response was cut before its header.
func fetch(t *testing.T, c *http.Client, f *fixture, header ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest("POST", f.url+"/messageevent.export", strings.NewReader(date(sample)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tokens["acme"])
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// decoding is a client that asks for gzip and decompresses transparently, as Go's default
// transport does.
var decoding = &http.Client{Transport: &http.Transport{}}

// TestTamperedExportNeverServedWhole: an export object rewritten in the store never
// reaches a client as a complete, successful response. Up to http.verifyFirstMaxSize the
// server hashes it before sending anything and answers 500; larger ones stream with their
// last chunk held back until the hash checks, and the connection is cut when it does not.
func TestTamperedExportNeverServedWhole(t *testing.T) {
	golden, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name     string
		maxSize  int64 // Server.VerifyFirstMaxSize
		memory   int64 // Server.VerifyFirstMemory
		streamed bool
	}{
		{"verify first", 0, 0, false}, // the defaults, 8 MiB and 64 MiB, hold the sample day
		{"streamed, last chunk held back", -1, 0, true},
		{"streamed, one byte over the limit", 1, 0, true},
		{"streamed, memory budget taken", 0, 100, true},
	} {
		for _, tc := range []struct {
			name   string
			change func([]byte) []byte
		}{
			{"same size, one byte changed", flipByte},
			{"valid gzip of other records", otherRecords},
			{"untampered", nil},
		} {
			for _, coding := range []string{"identity", "gzip"} {
				t.Run(mode.name+"/"+tc.name+"/"+coding, func(t *testing.T) {
					audited := make(chan audit.Record, 4)
					f := newFixture(t, func(s *httpapi.Server) {
						s.VerifyFirstMaxSize, s.VerifyFirstMemory = mode.maxSize, mode.memory
						s.Audit = auditSignal{s.Audit, audited}
					})
					m, _ := ledger.Ledger{Store: f.store}.Latest(context.Background(), acme, mustDay(t, sample))
					if tc.change != nil {
						m = tamper(t, f, acme, tc.change)
					}
					c, header := client, []string{"Accept-Encoding", coding}
					if coding == "identity" {
						header = nil
					}
					resp, body, err := fetch(t, c, f, header...)
					rec := <-audited
					if resp == nil && !mode.streamed {
						t.Fatalf("no response: %v", err)
					}
					if tc.change == nil {
						if err != nil {
							t.Fatalf("untampered: %v", err)
						}
						want := body
						if coding == "gzip" {
							want = mustGunzip(t, body)
						}
						if resp.StatusCode != 200 || !bytes.Equal(want, golden) || !rec.Complete {
							t.Fatalf("untampered: %d, body matches %v, audit complete %v",
								resp.StatusCode, bytes.Equal(want, golden), rec.Complete)
						}
						return
					}
					if rec.Complete {
						t.Errorf("the audit records a complete transfer of a tampered export: %+v", rec)
					}
					if !mode.streamed {
						if err != nil {
							t.Fatalf("read: %v", err)
						}
						checkError(t, resp, body, 500, "internal")
						for _, h := range []string{httpapi.HeaderSHA256, "Content-Encoding", "Repr-Digest"} {
							if v := resp.Header.Get(h); v != "" {
								t.Errorf("the 500 carries %s: %s", h, v)
							}
						}
						if !strings.Contains(string(body), "does not match its manifest") {
							t.Errorf("the 500 does not say why: %s", body)
						}
						return
					}
					// A small body may be cut with its header still buffered: no response at
					// all is as much a failure as a short one.
					if resp != nil && resp.StatusCode != 200 {
						t.Fatalf("status %d, want 200 and a cut body: %s", resp.StatusCode, body)
					}
					if err == nil {
						t.Fatalf("the client read %d bytes to a clean end (Content-Length %s); the manifest's is %d",
							len(body), resp.Header.Get("Content-Length"), m.Data.Size)
					}
					if coding == "gzip" {
						// Go's transport, which decompresses by itself, sees the cut too.
						_, plain, err := fetch(t, decoding, f)
						<-audited
						if err == nil {
							t.Fatalf("a decompressing client read %d bytes to a clean end", len(plain))
						}
					}
				})
			}
		}
	}
	reliability.Record(t, "security", "export object rewritten in the store, same size (served up to http.verifyFirstMaxSize)", reliability.CleanFailure,
		"hashed before the first byte: 500 internal, no byte of it sent; audit complete=false")
	reliability.Record(t, "security", "export object rewritten in the store, larger than http.verifyFirstMaxSize", reliability.CleanFailure,
		"streamed with the last chunk held back until the hash checks; the connection is cut, the client gets a read error, never a clean end")
}

func mustGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestTamperedTaskResultNeverServedWhole: a task's stored result rewritten in place is
// never downloaded whole either: a 500 when it is checked first, a cut body when streamed.
func TestTamperedTaskResultNeverServedWhole(t *testing.T) {
	for _, mode := range []struct {
		name    string
		maxSize int64
	}{{"verify first", 0}, {"streamed", -1}} {
		t.Run(mode.name, func(t *testing.T) {
			var engine *exporttask.Engine
			f := newFixture(t, func(s *httpapi.Server) {
				s.VerifyFirstMaxSize = mode.maxSize
				engine = &exporttask.Engine{Store: s.Exports.(ledger.Ledger).Store, Directory: s.Directory, Now: s.Now,
					Links: exporttask.Links{Key: []byte("test-key")}, TempDir: t.TempDir()}
				s.Tasks = engine
			})
			id, err := engine.Create(context.Background(), acme, "test", exporttask.Request{From: sample, To: sample, Format: "jsonl"})
			if err != nil {
				t.Fatal(err)
			}
			if st, err := engine.Execute(context.Background(), acme, id); err != nil || st.State != exporttask.StateCompleted {
				t.Fatalf("execute: %v %+v", err, st)
			}
			resp, b := f.get(t, "/v1/exports/tasks/"+id, f.tokens["acme"])
			var st exporttask.Status
			if resp.StatusCode != 200 || json.Unmarshal(b, &st) != nil || st.URL == "" {
				t.Fatalf("status: %d %s", resp.StatusCode, b)
			}
			var result string
			f.store.List(context.Background(), "tasks/", func(key string) error {
				if strings.Contains(key, "/result-") {
					result = key
				}
				return nil
			})
			path := filepath.Join(f.store.Dir(), filepath.FromSlash(result))
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, 0o600)
			if err := os.WriteFile(path, flipByte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			resp, err = client.Get(f.url + st.URL) // links are relative without BaseURL
			if err != nil {
				if mode.maxSize < 0 {
					return // cut before the header: a failure the client sees
				}
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if mode.maxSize >= 0 {
				if err != nil {
					t.Fatal(err)
				}
				checkError(t, resp, body, 500, "internal")
				if resp.Header.Get("Content-Disposition") != "" || resp.Header.Get(httpapi.HeaderSHA256) != "" {
					t.Errorf("the 500 carries the result's headers: %v", resp.Header)
				}
				return
			}
			if err == nil {
				t.Fatalf("the client read %d bytes of a tampered result to a clean end", len(body))
			}
		})
	}
	reliability.Record(t, "security", "export task result rewritten in the store", reliability.CleanFailure,
		"checked before sending (500 internal) or streamed with the last chunk held back and the connection cut")
}
