package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/eventlog"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/exporttest"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
	"github.com/klauspost/compress/gzip"
)

// TestLayout3SealOnS3 seals days in store layout 3 into a bucket with Object Lock: a day
// with records (export and manifest, each opened in the version its manifest names), an
// empty day (its manifest only, the empty gzip served), and a late revision (its copy
// under late/ and its day key, both locked as long as the day).
func TestLayout3SealOnS3(t *testing.T) {
	srv := miniotest.Start(t)
	store := newStore(t, srv, true, "archive")
	ctx := context.Background()
	logDir := exporttest.SampleLog(t, "2026-11-22", "2026-11-23")
	if err := os.MkdirAll(filepath.Join(logDir, "2026-11-24"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-24", "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	source, err := eventlog.NewDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadFile(filepath.Join(logDir, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	seal := func(day string) *archiver.DayResult {
		t.Helper()
		d, _ := archiver.ParseDay(day)
		night := d.End().Add(30 * time.Minute)
		s := &archiver.Sealer{Source: source, Store: store, Chain: ledger.Ledger{Store: store}, Options: archiver.Options{Layout: archiver.Layout3, TempDir: t.TempDir(),
			Now: func() time.Time { return night }, Generator: "chatvault test"}}
		res, err := s.Seal(ctx, d, dir, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Failed() {
			t.Fatalf("%s: %s: %v", day, o.Name, o.Err)
		}
		return res
	}
	for _, day := range []string{"2026-11-22", "2026-11-23", "2026-11-24"} {
		seal(day)
	}
	const acme = "0a1c2e3f-0000-4000-8000-00000000aaaa"
	l := ledger.Ledger{Store: store}
	d22, _ := archiver.ParseDay("2026-11-22")
	d24, _ := archiver.ParseDay("2026-11-24")
	m, rc, err := l.OpenExport(ctx, acme, d22)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	rc.Close()
	want, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "acme.jsonl"))
	if err != nil || !bytes.Equal(body, want) || m.Data.VersionID == "" || m.Version != archiver.ManifestVersion3 {
		t.Fatalf("export of a layout 3 day on S3: %d bytes (want the golden %d), version %q, %v", len(body), len(want), m.Data.VersionID, err)
	}
	m, rc, err = l.OpenExport(ctx, acme, d24)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !m.Data.Keyless() || !bytes.Equal(b, archiver.EmptyExport()) {
		t.Fatalf("empty day on S3: %+v", m.Data)
	}
	// A late revision of 2026-11-22.
	f, err := os.ReadFile(filepath.Join(logDir, "2026-11-22", "part-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(f, []byte("\n"))
	var ev map[string]any
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	ev["messageId"] = "m-late-s3"
	line, _ = json.Marshal(ev)
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0009.jsonl"), append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	seal("2026-11-22")
	head, err := ledger.Ledger{Store: store}.Head(ctx, acme)
	if err != nil || head == nil || !head.Late || head.Revision != 2 {
		t.Fatalf("head after the late revision: %+v, %v", head, err)
	}
	latest, err := l.Latest(ctx, acme, d22)
	if err != nil || latest.Revision != 2 || !bytes.Equal(latest.Bytes, head.Bytes) {
		t.Fatalf("latest of 2026-11-22: %+v, %v", latest, err)
	}
	for _, key := range []string{archiver.LateKey(acme, head.Seq), archiver.DayKey3(acme, d22, 2)} {
		lock, err := store.Lock(ctx, key)
		if err != nil || lock.Mode != "COMPLIANCE" || lock.RetainUntil.Before(d22.End().AddDate(0, 0, head.RetentionDays)) {
			t.Errorf("%s: lock %+v, %v; want COMPLIANCE until the day's end plus %d days", key, lock, err, head.RetentionDays)
		}
	}
	reliability.Record(t, "operations", "layout 3 on S3 with Object Lock", reliability.Kept,
		"a day with records is opened in the versions its manifest names, an empty day serves the empty gzip without an object, and a late revision's copy and day key are both locked as long as the day")
}
