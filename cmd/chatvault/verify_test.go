package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/miniotest"
	"github.com/chatvault/chatvault/internal/reliability"
)

// TestReadOnlyCommandsOnMistypedStore runs every command that only reads the archive on a
// folder that does not exist: each must fail naming the path and leave nothing behind,
// never create an empty archive and report "0 problems" or "pending" on it.
func TestReadOnlyCommandsOnMistypedStore(t *testing.T) {
	cleanEnv(t)
	parent := t.TempDir()
	store := filepath.Join(parent, "archvie", "prod") // a typo of an existing archive's path
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	tests := []struct {
		name string
		args []string
	}{
		{"verify", []string{"verify"}},
		{"status", []string{"status", "--org", acme, "--date", "2026-11-22"}},
		{"export", []string{"export", "--org", acme, "--date", "2026-11-22"}},
		{"audit", []string{"audit", "--date", "2026-11-22"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := chatvault(t, append(tt.args, common...)...)
			if code != exitFailure {
				t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
			}
			if !strings.Contains(errOut, store) {
				t.Errorf("the error does not name the store %s:\n%s", store, errOut)
			}
			if _, err := os.Stat(filepath.Join(parent, "archvie")); !os.IsNotExist(err) {
				t.Errorf("%s created the mistyped folder (stat: %v)", tt.name, err)
			}
		})
	}
	reliability.Record(t, "fault", "verify, status, export, audit on a mistyped store folder", reliability.CleanFailure,
		"exit 1 naming the folder; nothing created")
}

// TestVerifyEmptyStore: an existing folder without a single manifest is not a verified
// archive; it is the wrong folder, or nothing was sealed.
func TestVerifyEmptyStore(t *testing.T) {
	cleanEnv(t)
	store := t.TempDir()
	code, out, errOut := chatvault(t, "verify", "--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json")
	if code != exitFailure || !strings.Contains(errOut, store) || !strings.Contains(errOut, "no manifest") {
		t.Fatalf("verify of an empty folder: exit %d, want %d naming it\n%s%s", code, exitFailure, out, errOut)
	}
	entries, err := os.ReadDir(store)
	if err != nil || len(entries) != 0 {
		t.Errorf("verify wrote into the empty store: %v %v", entries, err)
	}
	reliability.Record(t, "fault", "verify on an empty store folder", reliability.CleanFailure, "exit 1: the store holds no manifest")
}

// TestVerifyEmptyS3Prefix seals a day under one prefix of a bucket and verifies another
// prefix of the same bucket, as a typo in the store URL would: verify must fail.
func TestVerifyEmptyS3Prefix(t *testing.T) {
	srv := miniotest.Start(t) // before cleanEnv, which clears CHATVAULT_MINIO
	cleanEnv(t)
	s3Env(t, srv)
	bucket := srv.Bucket(t, false)
	right := []string{"--eventlog", "../../testdata/eventlog", "--store", "s3://" + bucket + "/chatvault", "--log-format", "json"}
	if code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, right...)...); code != exitQuarantined {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	wrongURL := "s3://" + bucket + "/chatvualt"
	wrong := []string{"--eventlog", "../../testdata/eventlog", "--store", wrongURL, "--log-format", "json"}
	code, out, errOut := chatvault(t, append([]string{"verify"}, wrong...)...)
	if code != exitFailure || !strings.Contains(errOut, wrongURL) {
		t.Fatalf("verify of an empty prefix: exit %d, want %d naming %s\n%s%s", code, exitFailure, wrongURL, out, errOut)
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, right...)...); code != exitOK {
		t.Fatalf("verify of the sealed prefix: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "fault", "verify on a mistyped S3 prefix (no manifest under it)", reliability.CleanFailure,
		"exit 1: the store holds no manifest")
}
