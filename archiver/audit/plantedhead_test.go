package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/audit"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestAuditPlantedHeadRefused: someone who can write to the store but holds no key copies
// an organization's first audit segment to a later day's folder
// (audit/orgs/<org>/2099-12-31/000000000001.jsonl), where the head is looked for. Before,
// the witness took it as the head: seq 1, with the hash of the genuine seq 1, so that the
// witness vouched for segment 1 only and every later one could be deleted unseen; and the
// next writer extended the copy, forking the chain. The head's header must name its key's
// organization, folder and seq: otherwise the witness fails, and the writer keeps its
// records in memory (they are retried, and serve reports them unwritten), naming the key.
func TestAuditPlantedHeadRefused(t *testing.T) {
	ctx := context.Background()
	store, _ := newAuditStore(t)
	clk := &fakeNow{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	write := func(log *audit.Log) error { return writeOneRecord(ctx, log, clk) }
	log := &audit.Log{Store: store, Now: clk.Now}
	for range 3 {
		if err := write(log); err != nil {
			t.Fatal(err)
		}
	}
	first := "audit/orgs/" + auditOrgA + "/2026-11-23/000000000001.jsonl"
	b, err := archiver.ReadAll(ctx, store, first)
	if err != nil {
		t.Fatal(err)
	}
	planted := "audit/orgs/" + auditOrgA + "/2099-12-31/000000000001.jsonl"
	if err := store.Create(ctx, planted, bytes.NewReader(b), int64(len(b)), sha256.Sum256(b), archiver.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	today, _ := archiver.ParseDay("2026-11-23")
	heads, err := audit.HeadsAt(ctx, store, today)
	if err == nil || !errors.Is(err, audit.ErrIntegrity) {
		t.Errorf("witness audit heads with %s planted: %+v, %v; want an error, not seq 1 as the head", planted, heads, err)
	}
	if err := write(&audit.Log{Store: store, Now: clk.Now}); err == nil {
		t.Errorf("a new writer extended the chain past %s: %v", planted, auditKeys(t, store))
	}
	for _, k := range auditKeys(t, store) {
		if k == "audit/orgs/"+auditOrgA+"/2099-12-31/000000000002.jsonl" {
			t.Errorf("the chain was forked on the copy: %s", k)
		}
	}
	if t.Failed() {
		return
	}
	reliability.Record(t, "security", "an old audit segment copied to a later day's folder, where the audit chain head is looked for", reliability.Refused,
		"the head's header must name its key's organization, folder and seq: chatvault witness fails instead of witnessing segment 1, and the writer does not fork the chain on it (its records wait in memory, retried)")
}

// writeOneRecord appends a record of auditOrgA at clk's time, moves clk a minute on and
// flushes: one segment of one record.
func writeOneRecord(ctx context.Context, log *audit.Log, clk *fakeNow) error {
	if err := log.Append(ctx, audit.Record{Time: clk.Now(), Org: auditOrgA, Status: 200}); err != nil {
		return err
	}
	clk.Add(time.Minute)
	return log.Flush(ctx)
}
