package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/archiver/verify"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditPlantedSegmentNotFollowed: someone who can write to the store plants, as the
// next segment of an organization's audit chain, a segment of records (no next field): one
// no trusted key signed (also in a far-future folder), or one whose records are not the
// ones its header hashes. Before, the next writer took whatever was the chain's last key
// as its head and extended it (seq+1, previous naming the planted segment's hash),
// adopting the planted records into the chain for good on a locking store, or moving
// every later record to a folder no read of its day lists. The writer must follow only a
// well-formed head that its keys accept (with trusted keys, signed by one; a signing
// writer, never an unsigned head after a signed segment): otherwise its records wait in
// memory, retried, with an integrity error naming the key, and verify and the read path
// report the planted segment. A chain begun unsigned still goes on when signing is turned
// on.
func TestAuditPlantedSegmentNotFollowed(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, thief, _ := ed25519.GenerateKey(rand.Reader)
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	const today = "2026-11-23"
	for _, tt := range []struct {
		name string
		// signedChain: the chain's genuine segments are signed by key.
		signedChain bool
		// writer is the log that writes after the planting.
		writer func(*audit.Log)
		// plant returns the planted segment's folder and header, given the genuine
		// head's hash; nil plants nothing (the control).
		plant func(prev string, h *audit.Segment) (sign ed25519.PrivateKey, badRecords bool)
		// verifyWant is what verify's problem about the planted key says ("": not checked).
		verifyWant string
	}{
		{"an unsigned segment on a signed chain, writer with trusted keys", true,
			func(l *audit.Log) { l.SigningKey, l.TrustedKeys = key, trusted },
			func(string, *audit.Segment) (ed25519.PrivateKey, bool) { return nil, false }, "not signed"},
		{"an unsigned segment on a signed chain, signing writer without trusted keys", true,
			func(l *audit.Log) { l.SigningKey = key },
			func(string, *audit.Segment) (ed25519.PrivateKey, bool) { return nil, false }, "not signed"},
		{"a segment signed by another key, writer with trusted keys", true,
			func(l *audit.Log) { l.SigningKey, l.TrustedKeys = key, trusted },
			func(string, *audit.Segment) (ed25519.PrivateKey, bool) { return thief, false }, "untrusted key"},
		{"a segment whose records are not the ones its header hashes, on an unsigned chain", false,
			func(*audit.Log) {},
			func(string, *audit.Segment) (ed25519.PrivateKey, bool) { return nil, true }, "records hashing"},
		{"an unsigned segment in a far-future folder, on a signed chain", true,
			func(l *audit.Log) { l.SigningKey, l.TrustedKeys = key, trusted },
			func(_ string, h *audit.Segment) (ed25519.PrivateKey, bool) {
				h.Date = "2099-12-31"
				return nil, false
			}, "not signed"},
		{"nothing planted: an unsigned chain goes on once signing is turned on", false,
			func(l *audit.Log) { l.SigningKey, l.TrustedKeys = key, trusted },
			nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store, _ := newAuditStore(t)
			clk := &fakeNow{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
			newLog := func() *audit.Log {
				l := &audit.Log{Store: store, Now: clk.Now}
				if tt.signedChain {
					l.SigningKey, l.TrustedKeys = key, trusted
				}
				return l
			}
			write := func(log *audit.Log) error { return writeOneRecord(ctx, log, clk) }
			log := newLog()
			for range 2 {
				if err := write(log); err != nil {
					t.Fatal(err)
				}
			}
			b, err := archiver.ReadAll(ctx, store, "audit/orgs/"+auditOrgA+"/"+today+"/000000000002.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			prev := sha256.Sum256(b)
			planted := ""
			if tt.plant != nil {
				rec, _ := json.Marshal(audit.Record{Time: clk.Now(), Org: auditOrgA, TokenName: "nobody", Status: 200, Complete: true})
				rec = append(rec, '\n')
				recSum := sha256.Sum256(rec)
				h := audit.Segment{Version: audit.SegmentVersion, Org: auditOrgA, Date: today, Seq: 3,
					Previous: hex.EncodeToString(prev[:]), Records: 1, RecordsSHA256: hex.EncodeToString(recSum[:]),
					First: clk.Now(), Last: clk.Now(), WrittenAt: clk.Now().Format(time.RFC3339Nano), Writer: "planted"}
				sign, badRecords := tt.plant(hex.EncodeToString(prev[:]), &h)
				if badRecords {
					rec = bytes.Replace(rec, []byte(`"status":200`), []byte(`"status":404`), 1)
				}
				hdr, err := json.Marshal(h)
				if err != nil {
					t.Fatal(err)
				}
				if sign != nil {
					h.Signature = archiver.SignBody(sign, hdr)
					if hdr, err = json.Marshal(h); err != nil {
						t.Fatal(err)
					}
				}
				obj := append(append(hdr, '\n'), rec...)
				planted = "audit/orgs/" + auditOrgA + "/" + h.Date + "/000000000003.jsonl"
				if err := store.Create(ctx, planted, bytes.NewReader(obj), int64(len(obj)), sha256.Sum256(obj), archiver.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			// A new process (serve restarted) writes the next record.
			w := &audit.Log{Store: store, Now: clk.Now}
			tt.writer(w)
			werr := write(w)
			keys := auditKeys(t, store)
			if planted == "" {
				if werr != nil || len(keys) != 3 {
					t.Fatalf("a signing writer after an unsigned chain: %v, segments %v; want seq 3 written", werr, keys)
				}
				rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, verify.Options{Audit: audit.Verifier{}})
				if err != nil || !rep.OK() {
					t.Fatalf("verify: %v %q", err, rep.Problems)
				}
				return
			}
			if slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/000000000004.jsonl") }) {
				t.Errorf("the writer extended the planted %s: %v", planted, keys)
			}
			if werr == nil || !errors.Is(werr, audit.ErrIntegrity) || !strings.Contains(werr.Error(), planted) {
				t.Errorf("writer after %s was planted: %v; want an integrity error naming it", planted, werr)
			}
			if tt.verifyWant != "" {
				opt := verify.Options{Audit: audit.Verifier{}}
				if tt.signedChain {
					opt.TrustedKey = trusted[0]
				}
				rep, err := verify.Run(ctx, ledger.Ledger{Store: store}, opt)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(rep.Problems, func(p string) bool {
					return strings.Contains(p, planted) && strings.Contains(p, tt.verifyWant)
				}) {
					t.Errorf("verify problems %q, want one naming %s: %q", rep.Problems, planted, tt.verifyWant)
				}
				day, _ := archiver.ParseDay(today)
				reader := &audit.Log{Store: store}
				if tt.signedChain {
					reader.TrustedKeys = trusted
				}
				// The listing of a day reads that day's folder (and the next's).
				err = reader.List(ctx, auditOrgA, day, day, func(audit.Record) error { return nil })
				if strings.Contains(planted, "/"+today+"/") && (err == nil || !errors.Is(err, audit.ErrIntegrity)) {
					t.Errorf("List of the day with %s planted: %v; want an integrity error", planted, err)
				}
			}
			if t.Failed() {
				return
			}
			reliability.Record(t, "security", "audit segment planted as a chain's head: "+tt.name, reliability.Refused,
				"the writer follows only a well-formed head its keys accept: its records wait in memory, retried, with an integrity error naming the key; verify reports the planted segment (and the audit listing, when it is in the window)")
		})
	}
}
