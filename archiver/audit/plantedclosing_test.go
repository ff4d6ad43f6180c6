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
	"strings"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditPlantedClosingSegment: someone who can write to the store but holds no key
// plants, as the next segment of an organization's audit chain, a closing segment (no
// records) that leads the chain to a far-future day's folder. Before, the writer took
// it as the head and put every later segment (signed, genuine) in that folder, where
// neither GET /v1/audit nor chatvault audit looks for the day's records: they vanished
// from the read path while verify reported the chain. The writer must not extend a head
// leading past tomorrow: its records wait in memory, retried, naming the key. The read path must not return fewer records silently: a
// closing segment of its window that does not check fails the listing, naming it.
func TestAuditPlantedClosingSegment(t *testing.T) {
	ctx := context.Background()
	store, _ := newAuditStore(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	clk := &fakeNow{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	newLog := func() *audit.Log {
		return &audit.Log{Store: store, SigningKey: key, TrustedKeys: trusted, Now: clk.Now}
	}
	write := func(log *audit.Log) error { return writeOneRecord(ctx, log, clk) }
	log := newLog()
	for range 2 {
		if err := write(log); err != nil {
			t.Fatal(err)
		}
	}
	prefix := "audit/orgs/" + auditOrgA + "/2026-11-23/"
	b, err := archiver.ReadAll(ctx, store, prefix+"000000000002.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	prev := sha256.Sum256(b)
	empty := sha256.Sum256(nil)
	hdr, err := json.Marshal(audit.Segment{Version: audit.SegmentVersion, Org: auditOrgA, Date: "2026-11-23", Seq: 3,
		Previous: hex.EncodeToString(prev[:]), RecordsSHA256: hex.EncodeToString(empty[:]),
		WrittenAt: clk.Now().UTC().Format(time.RFC3339Nano), Writer: "planted", Next: "2099-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	planted := prefix + "000000000003.jsonl"
	obj := append(hdr, '\n')
	if err := store.Create(ctx, planted, bytes.NewReader(obj), int64(len(obj)), sha256.Sum256(obj), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A new process (serve restarted) writes the next record.
	werr := write(newLog())
	for _, k := range auditKeys(t, store) {
		if strings.Contains(k, "/2099-12-31/") {
			t.Errorf("the writer followed the planted closing segment: %s", k)
		}
	}
	if werr == nil || !errors.Is(werr, audit.ErrIntegrity) || !strings.Contains(werr.Error(), planted) {
		t.Errorf("writer after %s was planted: %v; want an integrity error naming it", planted, werr)
	}
	day, _ := archiver.ParseDay("2026-11-23")
	n := 0
	lerr := (&audit.Log{Store: store, TrustedKeys: trusted}).List(ctx, auditOrgA, day, day, func(audit.Record) error {
		n++
		return nil
	})
	if lerr == nil || !errors.Is(lerr, audit.ErrIntegrity) || !strings.Contains(lerr.Error(), planted) {
		t.Errorf("List of the day with %s planted: %d records, %v; want an integrity error naming it, never fewer records silently", planted, n, lerr)
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "security", "unsigned audit closing segment planted as a chain's head, leading to a far-future folder", reliability.Refused,
		"the writer does not follow a closing head leading past tomorrow (records wait in memory, retried, naming the key), and GET /v1/audit and chatvault audit fail naming a closing segment no trusted key signed instead of returning fewer records")
}
