package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/archiver/ledger"
	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// committed returns the chain entries and day indexes in a folder store: what a run that
// "commits nothing" must not have left.
func committed(t *testing.T, dir string) []string {
	t.Helper()
	ids, _, _ := (&fsTarget{dir: dir}).objects(t)
	var out []string
	for key := range ids {
		if strings.Contains(key, "/manifests/") || strings.Contains(key, "/r0") {
			out = append(out, key)
		}
	}
	return out
}

// TestFullDisk fills the spill folder (export.tempDir) or the folder store: from a given
// write on, every write fails with ENOSPC, as on a full disk (CHATVAULT_FULL_AT of the
// crashpoint binary; a real small file system would need root to mount). The run must fail
// with exit 1 and a message naming the cause, and commit nothing; once there is room again
// the next run seals the day as an uninterrupted run does.
func TestFullDisk(t *testing.T) {
	cleanEnv(t)
	pinLayout2(t)
	rig := newCrashDay(t, 4000, 6, 2, 3, 20, "--workers", "1")
	tests := []struct {
		name   string
		full   string // CHATVAULT_FULL_AT
		args   []string
		want   string // in stderr, besides ENOSPC's message
		detail string
	}{
		{"spill folder full while sorting", "temp.write:1", []string{"--sort-memory", "64KiB"}, "write sort run",
			"exit 1 naming the sort run and ENOSPC; nothing committed; the next run seals the day"},
		{"spill folder full while staging exports", "temp.write:1", nil, "chatvault-export-",
			"exit 1 naming the staged object and ENOSPC; nothing committed; the next run seals the day"},
		{"store folder full at its first object", "fsstore.write:1", nil, "store quarantine: fsstore: create quarantine/",
			"exit 1 naming the object and ENOSPC; nothing committed; the next run seals the day"},
		{"store folder full after its first object", "fsstore.write:2", nil, "store export: fsstore: create orgs/",
			"exit 1 naming the export and ENOSPC; nothing committed; the next run seals the day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each in its own store and spill folder, with the environment set above
			target := &fsTarget{dir: t.TempDir()}
			args := append(rig.runArgs(t.TempDir(), target), tt.args...)
			res := runBinary(t, []string{"CHATVAULT_FULL_AT=" + tt.full}, nil, args...)
			// Failures of single organizations are in the summary on stdout too.
			if out := res.stdout + res.stderr; res.code != exitFailure || !strings.Contains(out, "no space left on device") || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d with ENOSPC and %q in stderr:\n%s%s", res.code, exitFailure, tt.want, res.stdout, res.stderr)
			}
			if keys := committed(t, target.dir); len(keys) > 0 {
				t.Fatalf("the failed run committed %v", keys)
			}
			// Room again: the day seals as if nothing had happened.
			var stats crashStats
			rig.crashAndRecover(t, target, nil, nil, &stats)
			reliability.Record(t, "fault", tt.name+" (ENOSPC)", reliability.CleanFailure, tt.detail)
		})
	}
}

// copyLog copies an event log folder, so that a test may change it.
func copyLog(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	return to
}

// TestEventLogChangesMidRun changes the event log while a run reads it (the run pauses
// after 100 lines; CHATVAULT_PAUSE_AT). A partition that changes fails the run cleanly:
// what was read may be a view of the day that never existed, half of a file or two
// versions mixed. The directory, in contrast, is read once, before the partition: a run
// routes with that one snapshot whatever happens to the file, and its manifests record
// the snapshot's SHA-256.
func TestEventLogChangesMidRun(t *testing.T) {
	cleanEnv(t)
	rig := newCrashDay(t, 4000, 6, 2, 3, 20, "--workers", "1")
	part := func(log string) string { return filepath.Join(log, crashDay) }
	tests := []struct {
		name   string
		change func(t *testing.T, log string)
		undo   func(t *testing.T, log string) // before the rerun, when the change broke the log
		want   string
		detail string
	}{
		{"partition folder removed mid-run", func(t *testing.T, log string) {
			if err := os.Rename(part(log), part(log)+".gone"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, log string) {
			if err := os.Rename(part(log)+".gone", part(log)); err != nil {
				t.Fatal(err)
			}
		}, "is gone", "exit 1 naming the vanished file; nothing committed; the next run seals the day"},
		{"partition file appended to mid-run", func(t *testing.T, log string) {
			appendTo(t, filepath.Join(part(log), "part-0001.jsonl"), "{}\n")
		}, nil, "part-0001.jsonl went from", "exit 1: the size changed while reading; nothing committed; the next run seals the day as it then is"},
		{"partition file replaced mid-run", func(t *testing.T, log string) {
			name := filepath.Join(part(log), "part-0003.jsonl")
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name+".new", b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(name+".new", name); err != nil {
				t.Fatal(err)
			}
		}, nil, "part-0003.jsonl was replaced", "exit 1: another file under the same name; nothing committed; the next run seals the day"},
		{"partition file added mid-run", func(t *testing.T, log string) {
			appendTo(t, filepath.Join(part(log), "part-0004.jsonl"), "{}\n")
		}, nil, "part-0004.jsonl", "exit 1: the partition's file list changed; nothing committed; the next run seals the day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := copyLog(t, rig.log)
			target := &fsTarget{dir: t.TempDir()}
			args := []string{"run", "--date", crashDay, "--eventlog", log, "--store", target.dir, "--temp-dir", t.TempDir(), "--workers", "1", "--log-format", "json"}
			res := runPaused(t, []string{"CHATVAULT_PAUSE_AT=read.line:100"}, func() { tt.change(t, log) }, args...)
			if res.code != exitFailure || !strings.Contains(res.stderr, "partition changed while it was read") || !strings.Contains(res.stderr, tt.want) {
				t.Fatalf("exit %d, want %d naming the change (%q):\n%s%s", res.code, exitFailure, tt.want, res.stdout, res.stderr)
			}
			if keys := committed(t, target.dir); len(keys) > 0 {
				t.Fatalf("the failed run committed %v", keys)
			}
			if tt.undo != nil {
				tt.undo(t, log)
			}
			rerun := runBinary(t, nil, nil, args...)
			if rerun.code != exitOK && rerun.code != exitQuarantined {
				t.Fatalf("rerun: exit %d\n%s%s", rerun.code, rerun.stdout, rerun.stderr)
			}
			reliability.Record(t, "fault", tt.name, reliability.CleanFailure, tt.detail)
		})
	}

	t.Run("directory.json changed mid-run", func(t *testing.T) {
		log := copyLog(t, rig.log)
		target := &fsTarget{dir: t.TempDir()}
		args := append(rig.runArgs(t.TempDir(), target), "--eventlog", log)
		// Every organization stops archiving: had the run read the file again, it would
		// seal nothing.
		var dir map[string]any
		if err := json.Unmarshal(rig.dirJSON, &dir); err != nil {
			t.Fatal(err)
		}
		for _, o := range dir["organizations"].([]any) {
			o.(map[string]any)["archival"] = false
		}
		changed, _ := json.Marshal(dir)
		res := runPaused(t, []string{"CHATVAULT_PAUSE_AT=read.line:100"}, func() {
			if err := os.WriteFile(filepath.Join(log, "directory.json"), changed, 0o644); err != nil {
				t.Fatal(err)
			}
		}, args...)
		if res.code != rig.refCode {
			t.Fatalf("exit %d, want %d\n%s%s", res.code, rig.refCode, res.stdout, res.stderr)
		}
		st := target.store(t)
		snapshot := sha256.Sum256(rig.dirJSON)
		for org, want := range rig.ref {
			m, err := ledger.Ledger{Store: st}.Latest(context.Background(), org, mustParseDay(t, crashDay))
			if err != nil || m == nil {
				t.Fatalf("org %s: no manifest (%v)", org, err)
			}
			if m.DirectorySHA256 != hex.EncodeToString(snapshot[:]) {
				t.Errorf("org %s: manifest names directory %s, want the snapshot read at the start, %x", org, m.DirectorySHA256, snapshot)
			}
			if got := exportOf(t, st, org); string(got) != string(want) {
				t.Errorf("org %s: the export differs from a run with the original directory", org)
			}
		}
		reliability.Record(t, "fault", "directory.json changed mid-run", reliability.Kept,
			"the run routes with the snapshot it read at the start; manifests record that snapshot's SHA-256")
	})

	t.Run("event log folder missing", func(t *testing.T) {
		code, out, errOut := chatvault(t, "run", "--date", crashDay, "--eventlog", filepath.Join(t.TempDir(), "gone"), "--store", t.TempDir())
		if code != exitFailure || !strings.Contains(errOut, ": no such folder") {
			t.Fatalf("exit %d, want %d naming the event log:\n%s%s", code, exitFailure, out, errOut)
		}
		reliability.Record(t, "fault", "event log folder missing", reliability.CleanFailure, "exit 1 naming the event log folder; nothing committed")
	})

	t.Run("directory snapshot missing", func(t *testing.T) {
		store := t.TempDir()
		code, out, errOut := chatvault(t, "run", "--date", crashDay, "--eventlog", rig.log, "--directory", filepath.Join(t.TempDir(), "directory.json"), "--store", store)
		if code != exitFailure || !strings.Contains(errOut, "read directory") {
			t.Fatalf("exit %d, want %d naming the directory:\n%s%s", code, exitFailure, out, errOut)
		}
		if keys := committed(t, store); len(keys) > 0 {
			t.Fatalf("the failed run committed %v", keys)
		}
		reliability.Record(t, "fault", "directory snapshot missing", reliability.CleanFailure, "exit 1 naming the directory file; nothing committed")
	})
}

func appendTo(t *testing.T, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestS3EventLogUnreachable reads the event log from MinIO through a fault proxy. When
// every request for it is answered 503, the run fails with exit 1 and S3's error once the
// SDK's retries are spent, and commits nothing; the next run seals the day. When every
// download of an event file is cut halfway, the reader resumes where it stopped (a ranged
// GET of the same ETag) and the day seals with the bytes a local read gives.
func TestS3EventLogUnreachable(t *testing.T) {
	srv := startMinIO(t)
	cleanEnv(t)
	s3Env(t, srv)
	proxy := srv.NewFaultProxy(t)
	t.Setenv("CHATVAULT_S3_ENDPOINT", proxy.URL)
	log := t.TempDir()
	if code, out, errOut := chatvault(t, "gen", "--date", crashDay, "--events", "3000", "--orgs", "6", "--files", "2", "--gzip", "plain", "--out", log); code != exitOK {
		t.Fatalf("gen: exit %d\n%s%s", code, out, errOut)
	}
	events := srv.Bucket(t, false)
	srv.Upload(t, events, "log", log)
	local := t.TempDir()
	if code, out, errOut := chatvault(t, "run", "--date", crashDay, "--eventlog", log, "--store", local); code != exitOK {
		t.Fatalf("run on the local copy: exit %d\n%s%s", code, out, errOut)
	}
	s3Run := func(store string) []string {
		return []string{"run", "--date", crashDay, "--eventlog", "s3://" + events + "/log", "--directory", filepath.Join(log, "directory.json"),
			"--store", store, "--log-format", "json"}
	}

	t.Run("every request 503", func(t *testing.T) {
		store := t.TempDir()
		proxy.SetFaults(func(*http.Request) miniotest.Fault { return miniotest.Unavailable })
		code, out, errOut := chatvault(t, s3Run(store)...)
		proxy.SetFaults(nil)
		if code != exitFailure || !strings.Contains(errOut, "StatusCode: 503") {
			t.Fatalf("exit %d, want %d with S3's 503:\n%s%s", code, exitFailure, out, errOut)
		}
		if keys := committed(t, store); len(keys) > 0 {
			t.Fatalf("the failed run committed %v", keys)
		}
		// The directory snapshot from the same unreachable bucket.
		proxy.SetFaults(func(*http.Request) miniotest.Fault { return miniotest.Unavailable })
		code, out, errOut = chatvault(t, append(s3Run(store), "--directory", "s3://"+events+"/log/directory.json")...)
		proxy.SetFaults(nil)
		if code != exitFailure || !strings.Contains(errOut, "read directory") || !strings.Contains(errOut, "StatusCode: 503") {
			t.Fatalf("directory on S3: exit %d, want %d naming the directory and S3's 503:\n%s%s", code, exitFailure, out, errOut)
		}
		if keys := committed(t, store); len(keys) > 0 {
			t.Fatalf("the failed run committed %v", keys)
		}
		if code, out, errOut := chatvault(t, s3Run(store)...); code != exitOK {
			t.Fatalf("rerun without faults: exit %d\n%s%s", code, out, errOut)
		}
		reliability.Record(t, "fault", "S3 event log and directory unavailable (every request 503)", reliability.CleanFailure,
			"exit 1 with S3's 503 after the SDK's retries; nothing committed; the next run seals the day")
	})

	t.Run("downloads cut mid-body", func(t *testing.T) {
		store := t.TempDir()
		proxy.SetFaults(func(r *http.Request) miniotest.Fault {
			if r.Method == http.MethodGet && r.Header.Get("Range") == "" && strings.HasSuffix(r.URL.Path, ".jsonl") {
				return miniotest.Cut
			}
			return miniotest.Pass
		})
		code, out, errOut := chatvault(t, s3Run(store)...)
		proxy.SetFaults(nil)
		if code != exitOK {
			t.Fatalf("exit %d, want %d:\n%s%s", code, exitOK, out, errOut)
		}
		if proxy.Count(miniotest.Cut) < 2 {
			t.Fatalf("%d downloads cut; the test wants every event file's", proxy.Count(miniotest.Cut))
		}
		var dir struct {
			Organizations []struct{ ID string } `json:"organizations"`
		}
		readJSON(t, filepath.Join(log, "directory.json"), &dir)
		compared := 0
		for _, o := range dir.Organizations {
			code, want, _ := chatvault(t, "export", "--org", o.ID, "--date", crashDay, "--store", local)
			if code != exitOK {
				continue // not archiving that day
			}
			compared++
			if code, got, errOut := chatvault(t, "export", "--org", o.ID, "--date", crashDay, "--store", store); code != exitOK || got != want {
				t.Errorf("org %s: exit %d, %d bytes sealed from the cut downloads, %d from the local copy %s", o.ID, code, len(got), len(want), errOut)
			}
		}
		if compared == 0 {
			t.Fatal("no organization's export to compare")
		}
		reliability.Record(t, "fault", "S3 event log downloads cut mid-body", reliability.Recovered,
			"the reader resumes at the byte it stopped (ranged GET of the same ETag); the day seals byte-identical to a local read")
	})
}
