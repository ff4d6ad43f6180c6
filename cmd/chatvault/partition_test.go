package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/chatvault/chatvault/archiver"
	"github.com/chatvault/chatvault/archiver/fsstore"
	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/reliability"
)

// samplePartition copies the sample event log (day 2026-11-22, closed) to a new folder.
func samplePartition(t *testing.T) string {
	t.Helper()
	logDir := t.TempDir()
	if err := os.CopyFS(logDir, os.DirFS("../../testdata/eventlog")); err != nil {
		t.Fatal(err)
	}
	return logDir
}

// checkOnlyFailureRecords checks that a run whose seal of the sample day failed as a
// whole committed nothing: the store holds only the record of the failed attempt of each
// organization it would have committed, which status shows.
func checkOnlyFailureRecords(t *testing.T, store string) {
	t.Helper()
	var failed []string
	for _, f := range storeFiles(t, store) {
		if !strings.Contains(f, "failed-") {
			t.Errorf("the refused run left %s in the store", f)
			continue
		}
		failed = append(failed, f)
	}
	if len(failed) != 2 {
		t.Errorf("the refused run recorded failed attempts %v, want one for each of the two organizations", failed)
	}
}

// storeFiles lists every file of a folder store, so a test can show that a refused run
// left nothing behind.
func storeFiles(t *testing.T, store string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(store, p)
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRunRefusesUnreadFile puts a copy of the sample's events under an upper-case name
// (part-0002.JSONL) beside them. The reader does not read such a name, so sealing the day
// would lose its lines without a word: the run must fail with exit 1 naming it, and commit
// nothing.
func TestRunRefusesUnreadFile(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	logDir := samplePartition(t)
	events, err := os.ReadFile(filepath.Join(logDir, "2026-11-22", "part-0001.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "part-0002.JSONL"), events, 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store, "--log-format", "text") // the row quotes it: no time stamps
	if code != exitFailure {
		t.Fatalf("run exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(errOut, "2026-11-22/part-0002.JSONL") {
		t.Errorf("stderr does not name the file:\n%s", errOut)
	}
	checkOnlyFailureRecords(t, store)
	reliability.Record(t, "input", "event file the reader does not read (part-0002.JSONL) in a closed partition", reliability.CleanFailure,
		"`run` exits 1 naming it; nothing is committed for any organization: "+strings.ReplaceAll(strings.TrimSpace(errOut), logDir, "<eventlog>"))
}

// TestRunRecordsIgnoredFiles seals the sample day with a _SUCCESS marker and a README in
// its partition, both listed in export.ignoreFiles: the day seals as without them, and
// every manifest of the day names them with their size and SHA-256.
func TestRunRecordsIgnoredFiles(t *testing.T) {
	cleanEnv(t)
	logDir := samplePartition(t)
	side := map[string]string{"_SUCCESS": "", "README.txt": "written by the export job\n"}
	for name, data := range side {
		if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := t.TempDir()
	t.Setenv("CHATVAULT_EXPORT_IGNOREFILES", "_SUCCESS, *.txt")
	code, out, errOut := chatvault(t, "run", "--date", "2026-11-22", "--eventlog", logDir, "--store", store, "--log-format", "json")
	if code != exitQuarantined || !strings.Contains(out, "29 events read, 13 exported, 5 excluded, 2 duplicates, 9 quarantined") {
		t.Fatalf("run exit %d, want %d and the sample's counts\n%s%s", code, exitQuarantined, out, errOut)
	}
	for name := range side {
		if !strings.Contains(out, "ignored 2026-11-22/"+name) {
			t.Errorf("summary does not say 2026-11-22/%s was ignored:\n%s", name, out)
		}
	}
	st, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day, _ := archiver.ParseDay("2026-11-22")
	for _, org := range []string{acme, "0b1c2e3f-0000-4000-8000-00000000bbbb"} {
		m, err := ledger.Ledger{Store: st}.Latest(context.Background(), org, day)
		if err != nil || m == nil {
			t.Fatalf("manifest of %s: %v, %v", org, m, err)
		}
		var doc struct {
			Ignored []struct {
				Name   string `json:"name"`
				Size   int64  `json:"size"`
				SHA256 string `json:"sha256"`
			} `json:"ignored"`
		}
		if err := json.Unmarshal(m.Bytes, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Ignored) != len(side) {
			t.Fatalf("manifest of %s lists ignored %+v, want %d files", org, doc.Ignored, len(side))
		}
		for _, ig := range doc.Ignored {
			data, ok := side[strings.TrimPrefix(ig.Name, "2026-11-22/")]
			sum := sha256.Sum256([]byte(data))
			if !ok || ig.Size != int64(len(data)) || ig.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("manifest of %s lists %+v, want one of %v with its size and SHA-256", org, ig, side)
			}
		}
	}
	// The record of ignored files is part of the manifest that verify checks.
	if code, out, errOut := chatvault(t, "verify", "--eventlog", logDir, "--store", store); code != exitOK {
		t.Fatalf("verify exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "input", "side files listed in export.ignoreFiles (_SUCCESS, *.txt)", reliability.Kept,
		"not read as events; every manifest of the day lists each by name, size and SHA-256, and the summary says so")
}

// TestRunRefusesDayNotEnded asks to seal tomorrow, whose partition already has _CLOSED.
// A day that has not ended cannot be complete, whatever the marker says: the run must
// refuse it (exit 2) and commit nothing.
func TestRunRefusesDayNotEnded(t *testing.T) {
	cleanEnv(t)
	logDir := samplePartition(t)
	tomorrow := archiver.DayOf(time.Now()).Next().String()
	if err := os.CopyFS(filepath.Join(logDir, tomorrow), os.DirFS(filepath.Join(logDir, "2026-11-22"))); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	code, out, errOut := chatvault(t, "run", "--date", tomorrow, "--eventlog", logDir, "--store", store, "--log-format", "json")
	if code != exitUsage {
		t.Fatalf("run exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
	}
	if !strings.Contains(errOut, tomorrow) || !strings.Contains(errOut, "has not ended") {
		t.Errorf("stderr does not say the day has not ended:\n%s", errOut)
	}
	if files := storeFiles(t, store); len(files) != 0 {
		t.Errorf("the refused run left %v in the store", files)
	}
	// A range reaching into the future is refused whole, before its past days are sealed.
	code, out, errOut = chatvault(t, "run", "--from", "2026-11-22", "--to", tomorrow, "--eventlog", logDir, "--store", store, "--log-format", "json")
	if code != exitUsage || !strings.Contains(errOut, "has not ended") {
		t.Fatalf("run --to %s: exit %d, want %d saying the day has not ended\n%s%s", tomorrow, code, exitUsage, out, errOut)
	}
	if files := storeFiles(t, store); len(files) != 0 {
		t.Errorf("the refused range left %v in the store", files)
	}
	reliability.Record(t, "input", "`run --date` on a day that has not ended, its partition marked _CLOSED", reliability.Refused,
		"exit 2: the day has not ended; nothing is committed (a range reaching it is refused whole; the scheduler keeps such a day pending)")
}

// TestRunS3PartitionEntries is TestRunRefusesUnreadFile and TestRunRecordsIgnoredFiles
// with the event log in S3: an object the reader does not read (and a "subfolder") fails
// the run naming both, with nothing committed; once the subfolder is gone and the other
// object is listed in export.ignoreFiles, the day seals and its manifests record it.
func TestRunS3PartitionEntries(t *testing.T) {
	srv := startMinIO(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	pinLayout2(t)
	s3Env(t, srv)
	logDir := samplePartition(t)
	const side = "written by the export job\n"
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "_SUCCESS"), []byte(side), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(logDir, "2026-11-22", "late"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "2026-11-22", "late", "part-0003.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "prod/events", logDir)
	store := t.TempDir()
	args := []string{"run", "--date", "2026-11-22", "--eventlog", "s3://" + events + "/prod/events", "--store", store, "--log-format", "json"}

	code, out, errOut := chatvault(t, args...)
	if code != exitFailure {
		t.Fatalf("run exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	failed := findRecord(logRecords(t, errOut), "seal failed", "day", "2026-11-22")
	if failed == nil {
		t.Fatalf("no seal failed record:\n%s", errOut)
	}
	for _, want := range []string{`"2026-11-22/_SUCCESS"`, `"2026-11-22/late/"`} {
		if !strings.Contains(jsonString(failed["err"]), want) {
			t.Errorf("the error does not name %s:\n%s", want, errOut)
		}
	}
	checkOnlyFailureRecords(t, store)
	reliability.Record(t, "input", "S3 event log: object that is not read (_SUCCESS) and a subfolder in a closed partition", reliability.CleanFailure,
		"`run` exits 1 naming both; nothing is committed for any organization")

	if _, err := srv.Client().DeleteObject(t.Context(), &awss3.DeleteObjectInput{
		Bucket: aws.String(events), Key: aws.String("prod/events/2026-11-22/late/part-0003.jsonl"),
	}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHATVAULT_EXPORT_IGNOREFILES", "_SUCCESS")
	code, out, errOut = chatvault(t, args...)
	if code != exitQuarantined {
		t.Fatalf("run exit %d, want %d\n%s%s", code, exitQuarantined, out, errOut)
	}
	st, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day, _ := archiver.ParseDay("2026-11-22")
	m, err := ledger.Ledger{Store: st}.Latest(context.Background(), acme, day)
	if err != nil || m == nil {
		t.Fatalf("manifest: %v, %v", m, err)
	}
	sum := sha256.Sum256([]byte(side))
	want := []archiver.IgnoredFile{{Name: "2026-11-22/_SUCCESS", Size: int64(len(side)), SHA256: hex.EncodeToString(sum[:])}}
	if !reflect.DeepEqual(m.Manifest.Ignored, want) {
		t.Errorf("manifest lists ignored %+v, want %+v", m.Manifest.Ignored, want)
	}
	reliability.Record(t, "input", "S3 event log: side object listed in export.ignoreFiles", reliability.Kept,
		"not read as events; every manifest of the day lists it by name, size and SHA-256")
}
