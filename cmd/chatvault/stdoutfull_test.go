package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chatvault/chatvault/archiver/tokenfile"
	"github.com/chatvault/chatvault/internal/reliability"
)

// fullStdout is a stdout that takes nothing, as /dev/full: every write fails with ENOSPC.
type fullStdout struct{}

func (fullStdout) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestStdoutFull runs every command that prints its result on a stdout that takes
// nothing. Each must exit 1 naming the write's error: status, verify, audit, hold --list,
// gen, version, help and completion printed into nothing and exited 0 (completion and
// --version 2, bad usage), as if a script had got its report.
func TestStdoutFull(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "archive")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", filepath.Join(dir, "tokens.json"))
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	key := filepath.Join(dir, "signing.pem")
	if code, _, errOut := chatvault(t, "keys", "generate", "-o", key); code != exitOK {
		t.Fatalf("keys generate exit %d: %s", code, errOut)
	}
	if code, _, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read"); code != exitOK {
		t.Fatalf("token create exit %d: %s", code, errOut)
	}
	// before: what the command did with a stdout that takes nothing, before Main checked.
	const exited0, usage2, failed1 = "exited 0", "exited 2, as bad usage", "exited 1 already"
	for _, tc := range []struct {
		name   string
		args   []string
		before string
	}{
		{"status", append([]string{"status", "--org", acme, "--from", "2026-11-21", "--to", "2026-11-22"}, common...), exited0},
		{"verify", append([]string{"verify"}, common...), exited0},
		{"audit", append([]string{"audit"}, common...), exited0},
		{"audit --json", append([]string{"audit", "--json"}, common...), exited0},
		{"hold --list", append([]string{"hold", "--list"}, common...), exited0},
		{"export", append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...), failed1},
		{"witness", append([]string{"witness"}, common...), failed1},
		{"export-task", append([]string{"export-task", "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22"}, common...), "exited 1 naming only the write"},
		{"gen", []string{"gen", "--date", "2026-11-20", "--events", "100", "--orgs", "1", "--out", filepath.Join(dir, "log")}, exited0},
		{"keys public", []string{"keys", "public", "--key", key}, failed1},
		{"token list", []string{"token", "list"}, exited0},
		{"version", []string{"version"}, exited0},
		{"--version", []string{"--version"}, usage2},
		{"help", []string{"help"}, exited0},
		{"help export", []string{"help", "export"}, exited0},
		{"completion bash", []string{"completion", "bash"}, usage2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(context.Background(), tc.args, fullStdout{}, &stderr)
			if code != exitFailure {
				t.Fatalf("exit %d on a full stdout, want %d\n%s", code, exitFailure, stderr.String())
			}
			if !strings.Contains(stderr.String(), "no space left on device") {
				t.Fatalf("stderr does not name the failed write:\n%s", stderr.String())
			}
			if strings.Contains(stderr.String(), "usage error") {
				t.Fatalf("a failed write reported as bad usage:\n%s", stderr.String())
			}
			reliability.Record(t, "operations", "stdout takes nothing (/dev/full, a full disk): chatvault "+tc.name, reliability.CleanFailure,
				"exit 1, the write's error on stderr (no space left on device); before, it "+tc.before)
		})
	}
}

// TestTokenCreateStdoutFull: `token create` whose stdout takes nothing saved the token and
// exited 0, the secret printed nowhere: a credential no one holds. It now saves nothing
// and exits 1.
func TestTokenCreateStdoutFull(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("CHATVAULT_AUTH_TOKENSFILE", path)
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "lost"}, fullStdout{}, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "not saved") {
		t.Fatalf("exit %d, want %d naming the token not saved:\n%s", code, exitFailure, stderr.String())
	}
	f, err := tokenfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tokens) != 0 {
		t.Fatalf("the tokens file holds %d tokens whose secret was never printed", len(f.Tokens))
	}
	// The same command on a stdout that takes the secret saves one token.
	code, out, errOut := chatvault(t, "token", "create", "--org", acme, "--scope", "admin:compliance:read", "--name", "kept")
	if f, err = tokenfile.Read(path); err != nil || code != exitOK || !strings.HasPrefix(out, "cvt_") || len(f.Tokens) != 1 {
		t.Fatalf("create exit %d (%v), %d tokens: %s", code, err, len(f.Tokens), errOut)
	}
	reliability.Record(t, "operations", "token create with stdout that takes nothing (/dev/full)", reliability.CleanFailure,
		"exit 1, print the new token: ... it was not saved; the tokens file unchanged. Before: token saved, exit 0, its secret printed nowhere")
}

// binaryExport seals a generated day big enough that its export is many pipe buffers
// (about 1.5 MB), with the race-free binary, and returns the common flags and the org.
func binaryExport(t *testing.T) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	if code, _, errOut := reference(t, "gen", "--date", "2026-11-20", "--events", "8000", "--orgs", "1", "--seed", "7", "--out", log); code != exitOK {
		t.Fatalf("gen exit %d: %s", code, errOut)
	}
	common := []string{"--eventlog", log, "--store", filepath.Join(dir, "archive"), "--log-format", "json"}
	if code, _, errOut := reference(t, append([]string{"run", "--date", "2026-11-20"}, common...)...); code != exitOK {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(log, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), `"id":"`)
	org, _, _ := strings.Cut(rest, `"`)
	return common, org
}

// storeDigest is every file of the folder store with its SHA-256, to show a command
// changed nothing.
func storeDigest(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		files[p] = hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameDigest(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestExportReaderClosesEarly: `chatvault export | head -c 100`. The process ends as cat
// does, by SIGPIPE (141 in a shell), with no panic or goroutine dump and no "exported"
// log line, and the store is as it was.
func TestExportReaderClosesEarly(t *testing.T) {
	cleanEnv(t)
	common, org := binaryExport(t)
	store := common[3]
	before := storeDigest(t, store)
	cmd := exec.Command(crashpointBinary(t), append([]string{"export", "--org", org, "--date", "2026-11-20"}, common...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(stdout, head); err != nil {
		t.Fatal(err)
	}
	stdout.Close() // head exits
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
		t.Fatalf("export whose reader left: %v, want killed by SIGPIPE\n%s", err, stderr.String())
	}
	for _, bad := range []string{"goroutine ", "panic", `"msg":"exported"`} {
		if strings.Contains(stderr.String(), bad) {
			t.Fatalf("stderr holds %q:\n%s", bad, stderr.String())
		}
	}
	if !bytes.HasPrefix(head, []byte(`{"`)) {
		t.Fatalf("export began %q", head)
	}
	if !sameDigest(before, storeDigest(t, store)) {
		t.Fatal("the store changed")
	}
	reliability.Record(t, "operations", "export | head -c 100: stdout's reader leaves early", reliability.CleanFailure,
		"ended by SIGPIPE as cat is (exit 141 in a shell): no panic or stack, no exported log line; the store unchanged")
}

// TestExportOutputKilledMidWrite: `export -o FILE` killed half-way (SIGKILL, a closed
// terminal's SIGHUP, a power cut) left the first part of the day under FILE, which looked
// like the whole export. The file is written under a hidden .FILE.partial-* name and
// given its name only once whole and synced.
func TestExportOutputKilledMidWrite(t *testing.T) {
	cleanEnv(t)
	common, org := binaryExport(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "day.jsonl")
	args := append([]string{"export", "--org", org, "--date", "2026-11-20", "-o", file}, common...)
	res := runBinary(t, []string{"CHATVAULT_CRASH_AT=output.write:3"}, nil, args...)
	if !res.killed {
		t.Fatalf("export not killed at output.write:3: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a killed export left %s (%v)", file, err)
	}
	partial, _ := filepath.Glob(filepath.Join(dir, ".day.jsonl.partial-*"))
	if len(partial) != 1 {
		t.Fatalf("want one .day.jsonl.partial-* left by the kill, got %v", partial)
	}
	// A rerun writes the whole day, the same bytes as on stdout.
	if res := runBinary(t, nil, nil, args...); res.code != exitOK {
		t.Fatalf("rerun exit %d: %s", res.code, res.stderr)
	}
	res = runBinary(t, nil, nil, append([]string{"export", "--org", org, "--date", "2026-11-20"}, common...)...)
	got, err := os.ReadFile(file)
	if err != nil || res.code != exitOK || string(got) != res.stdout || len(got) < 1<<20 {
		t.Fatalf("rerun's file (%d bytes, %v) differs from the export on stdout (%d bytes, exit %d)", len(got), err, len(res.stdout), res.code)
	}
	reliability.Record(t, "operations", "export -o FILE killed half-way through the file (SIGKILL, SIGHUP)", reliability.Recovered,
		"FILE is not there: only a hidden .FILE.partial-* with the part written; a rerun writes FILE whole. Before, FILE held the first part under its final name")
}

// TestExportOutputDiskFull: a disk that fills during `export -o FILE` leaves neither FILE
// nor its temporary file, and exits 1 naming FILE.
func TestExportOutputDiskFull(t *testing.T) {
	cleanEnv(t)
	common, org := binaryExport(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "day.jsonl")
	res := runBinary(t, []string{"CHATVAULT_FULL_AT=output.write:2"}, nil, append([]string{"export", "--org", org, "--date", "2026-11-20", "-o", file}, common...)...)
	if res.code != exitFailure || !strings.Contains(res.stderr, "write "+file+": no space left on device") {
		t.Fatalf("exit %d, want %d naming %s:\n%s", res.code, exitFailure, file, res.stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a failed export left %v", left)
	}
	reliability.Record(t, "operations", "export -o FILE on a disk that fills", reliability.CleanFailure,
		"exit 1, write FILE: no space left on device; neither FILE nor its temporary file is left")
}

// TestExportInterrupted: Ctrl-C (SIGINT) or SIGTERM during a long export was caught by
// main and ignored: the export ran on to its end and exited 0. The copy now stops.
func TestExportInterrupted(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", filepath.Join(dir, "archive"), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	// The signal arrives once the export has begun: at its first write to stdout.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var stderr bytes.Buffer
	out := &cancelAtWrite{cancel: func() { cancel(errors.New("interrupt signal received")) }}
	code := Main(ctx, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...), out, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "interrupted (interrupt signal received)") {
		t.Fatalf("interrupted export: exit %d, want %d naming the interruption:\n%s", code, exitFailure, stderr.String())
	}
	if strings.Contains(stderr.String(), `"msg":"exported"`) {
		t.Fatalf("an interrupted export logged exported:\n%s", stderr.String())
	}
	reliability.Record(t, "operations", "export interrupted (Ctrl-C, SIGTERM) while it writes", reliability.CleanFailure,
		"exit 1, interrupted (interrupt signal received); an -o file is removed. Before, the signal was caught and ignored: the export ran on and exited 0")
}

// cancelAtWrite is a stdout that takes its writes and calls cancel at the first.
type cancelAtWrite struct {
	cancel func()
	n      int
}

func (c *cancelAtWrite) Write(p []byte) (int, error) {
	if c.n == 0 {
		c.cancel()
	}
	c.n += len(p)
	return len(p), nil
}

// TestStdoutClosed: a command run with stdout closed (`>&-`) must not have a file of the
// store opened on descriptor 1 and written with its report: Go opens /dev/null there
// before main runs. run seals, its report goes nowhere, and verify passes.
func TestStdoutClosed(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "archive")
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", store, "--log-format", "json"}
	cmd := exec.Command("sh", append([]string{"-c", `exec "$0" "$@" >&-`, crashpointBinary(t), "run", "--date", "2026-11-22"}, common...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitQuarantined {
		t.Fatalf("run with stdout closed: exit %d, want %d\n%s", code, exitQuarantined, stderr.String())
	}
	if code, out, errOut := chatvault(t, append([]string{"verify"}, common...)...); code != exitOK || !strings.Contains(out, "0 problems") {
		t.Fatalf("verify after a run with stdout closed: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...); code != exitOK || strings.Contains(out, "events read") {
		t.Fatalf("export after a run with stdout closed: exit %d, holds the run's report:\n%s", code, out)
	}
	reliability.Record(t, "operations", "run with stdout closed (>&-)", reliability.Kept,
		"the day is sealed (exit 3, the sample's quarantine); the report goes to /dev/null, which Go opens on descriptor 1, so no store file takes it; verify passes")
}

// TestRunStdoutReaderGone: `run --from --to | head -1`, or a log pipe that broke. The run
// was ended by SIGPIPE at its second day's summary, the days after it left unsealed; it
// now seals every day of the range and exits 1 naming the broken pipe.
func TestRunStdoutReaderGone(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	days := []string{"2026-11-17", "2026-11-18", "2026-11-19"}
	for _, d := range days {
		if code, _, errOut := chatvault(t, "gen", "--date", d, "--events", "300", "--orgs", "1", "--seed", "3", "--out", log); code != exitOK {
			t.Fatalf("gen %s exit %d: %s", d, code, errOut)
		}
	}
	b, err := os.ReadFile(filepath.Join(log, "directory.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), `"id":"`)
	org, _, _ := strings.Cut(rest, `"`)
	// run | head -1 (stderr kept), then run 2>&1 | head -1: the lost output is reported on
	// the same broken pipe, which must not end the process either.
	for _, stderrToo := range []bool{false, true} {
		common := []string{"--eventlog", log, "--store", filepath.Join(t.TempDir(), "archive"), "--log-format", "json"}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first summary
		cmd := exec.Command(os.Args[0], append([]string{"run", "--from", days[0], "--to", days[2]}, common...)...)
		cmd.Env = append(os.Environ(), reexecEnv+"=1")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = w, &stderr
		if stderrToo {
			cmd.Stderr = w
		}
		err = cmd.Run()
		w.Close()
		if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() || cmd.ProcessState.ExitCode() != exitFailure {
			t.Fatalf("run whose stdout reader left (stderr too: %v): %v, want exit %d\n%s", stderrToo, err, exitFailure, stderr.String())
		}
		if !stderrToo && !strings.Contains(stderr.String(), "broken pipe") {
			t.Fatalf("stderr does not name the broken pipe:\n%s", stderr.String())
		}
		code, out, errOut := chatvault(t, append([]string{"status", "--org", org, "--from", days[0], "--to", days[2]}, common...)...)
		if code != exitOK || strings.Count(out, "  sealed  ") != len(days) {
			t.Fatalf("status exit %d, want every day sealed (stderr too: %v):\n%s%s", code, stderrToo, out, errOut)
		}
	}
	reliability.Record(t, "operations", "run --from --to | head -1 (or 2>&1 | head -1): the summary's reader leaves", reliability.Kept,
		"every day of the range is sealed; exit 1, standard output did not take the command's output: broken pipe. Before, SIGPIPE ended the run at the next day's summary, the days after it unsealed")
}

// TestRunCPUProfileFull: run --cpuprofile onto a file that takes nothing (a full disk,
// here /dev/full) left an empty profile and exited 0; pprof drops its writer's errors.
func TestRunCPUProfileFull(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	// The rerun changes nothing (exit 0 without a profile); its profile is lost.
	code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22", "--cpuprofile", "/dev/full"}, common...)...)
	if code != exitFailure || !strings.Contains(errOut, "--cpuprofile: write /dev/full: no space left on device") {
		t.Fatalf("run --cpuprofile /dev/full: exit %d, want %d naming the profile:\n%s", code, exitFailure, errOut)
	}
	reliability.Record(t, "operations", "run --cpuprofile FILE on a full disk", reliability.CleanFailure,
		"exit 1, --cpuprofile: write FILE: no space left on device (a run that sealed keeps its exit code 3); before, an empty profile and exit 0")
}

// TestExportOutputWithoutHardLinks: on a file system without hard links (FAT on a USB
// stick, some network shares) the whole -o file is renamed into place instead.
func TestExportOutputWithoutHardLinks(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	linkFile = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EPERM} }
	defer func() { linkFile = os.Link }()
	dir := t.TempDir()
	file := filepath.Join(dir, "acme.jsonl")
	if code, _, errOut := chatvault(t, append([]string{"export", "--org", acme, "--date", "2026-11-22", "-o", file}, common...)...); code != exitOK {
		t.Fatalf("export -o without hard links: exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("export -o wrote other bytes (%v)", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("left beside the export: %v", left)
	}
}

// TestExportTaskOutputKilledMidWrite: export-task -o FILE killed while it copies the
// result leaves only a hidden .FILE.partial-*; a second task writes FILE whole.
func TestExportTaskOutputKilledMidWrite(t *testing.T) {
	cleanEnv(t)
	common, org := binaryExport(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "day.jsonl.gz")
	args := append([]string{"export-task", "--org", org, "--from", "2026-11-20", "--to", "2026-11-20", "-o", file}, common...)
	res := runBinary(t, []string{"CHATVAULT_CRASH_AT=output.write:2"}, nil, args...)
	if !res.killed {
		t.Fatalf("export-task not killed at output.write:2: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a killed export-task left %s (%v)", file, err)
	}
	if partial, _ := filepath.Glob(filepath.Join(dir, ".day.jsonl.gz.partial-*")); len(partial) != 1 {
		t.Fatalf("want one .day.jsonl.gz.partial-* left by the kill, got %v", partial)
	}
	res = runBinary(t, nil, nil, args...)
	if res.code != exitOK {
		t.Fatalf("second task exit %d: %s", res.code, res.stderr)
	}
	got, err := os.ReadFile(file)
	sum := sha256.Sum256(got)
	if err != nil || !strings.Contains(res.stdout, hex.EncodeToString(sum[:])) {
		t.Fatalf("%s (%d bytes, %v) is not the result the status names:\n%s", file, len(got), err, res.stdout)
	}
	reliability.Record(t, "operations", "export-task -o FILE killed while it writes FILE", reliability.Recovered,
		"FILE is not there: only a hidden .FILE.partial-*; the task is stored, and a new one writes FILE whole (its SHA-256 the status's)")
}

// TestTokenCreateStdoutNull: `token create > /dev/null`, or with stdout closed (Go opens
// /dev/null on it), printed the secret into nothing and saved the token, exit 0. It is
// refused before anything is saved.
func TestTokenCreateStdoutNull(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	for _, redirect := range []string{">/dev/null", ">&-"} {
		cmd := exec.Command("sh", "-c", `exec "$0" "$@" `+redirect, os.Args[0], "token", "create", "--org", acme, "--scope", "admin:compliance:read")
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "CHATVAULT_AUTH_TOKENSFILE="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(stderr.String(), "stdout is /dev/null (or closed)") {
			t.Fatalf("token create %s: exit %d, want %d naming /dev/null:\n%s", redirect, code, exitUsage, stderr.String())
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("token create %s wrote the tokens file (%v)", redirect, err)
		}
	}
	reliability.Record(t, "input", "token create > /dev/null, or with stdout closed (>&-)", reliability.Refused,
		"exit 2, stdout is /dev/null (or closed): the token's secret, printed once, would be lost; nothing saved. Before: saved, exit 0, the secret printed into nothing")
}

// TestGenKilledLeavesNoPartition: gen killed after writing part of a day (SIGKILL, a
// closed terminal's SIGHUP) left those files in the day's folder without _CLOSED, which run
// seals once the grace is over: a partial day. The day is written into a hidden folder and
// renamed into place once whole, so a killed gen leaves no partition, and a rerun writes it.
func TestGenKilledLeavesNoPartition(t *testing.T) {
	cleanEnv(t)
	log := filepath.Join(t.TempDir(), "log")
	args := []string{"gen", "--date", "2026-11-20", "--events", "2000", "--orgs", "1", "--files", "2", "--seed", "5", "--out", log}
	res := runBinary(t, []string{"CHATVAULT_CRASH_AT=synth.files:1"}, nil, args...)
	if !res.killed {
		t.Fatalf("gen not killed at synth.files:1: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(log, "2026-11-20")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a killed gen left the day's partition (%v)", err)
	}
	common := []string{"--eventlog", log, "--store", filepath.Join(t.TempDir(), "archive"), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-20"}, common...)...); code != exitFailure || !strings.Contains(errOut, "2026-11-20") {
		t.Fatalf("run of the day a killed gen left: exit %d, want %d (no partition)\n%s", code, exitFailure, errOut)
	}
	if res := runBinary(t, nil, nil, args...); res.code != exitOK {
		t.Fatalf("gen rerun exit %d: %s", res.code, res.stderr)
	}
	code, out, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-20"}, common...)...)
	if code != exitOK || !strings.Contains(out, "2000 events read") {
		t.Fatalf("run after the rerun: exit %d\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "gen killed after writing part of the day (SIGKILL, SIGHUP)", reliability.Recovered,
		"no partition: the day was written in a hidden folder, renamed into place once whole; run finds no partition; a rerun of gen writes the day. Before, part files without _CLOSED, sealed as a partial day once the grace was over")
}

// TestServeStdoutFull: serve's "listening on" line that stdout did not take is no failure:
// its clean stop still exits 0 (Main's check of stdout would make it 1, and systemd would
// report the unit failed at every stop).
func TestServeStdoutFull(t *testing.T) {
	cleanEnv(t)
	common, _ := sealedSample(t)
	addr := make(chan string, 1)
	serveHooks.listening = func(a string) { addr <- a }
	t.Cleanup(func() { serveHooks.listening = nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { done <- Main(ctx, append([]string{"serve"}, common...), fullStdout{}, logs) }()
	select {
	case <-addr:
	case code := <-done:
		t.Fatalf("serve exited with %d before listening:\n%s", code, logs)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve stopped with exit %d, want %d:\n%s", code, exitOK, logs)
	}
	reliability.Record(t, "operations", "serve with stdout on a full disk (/dev/full)", reliability.Kept,
		"serves; its listening line is lost, the address is in the log, and a clean stop exits 0")
}

// TestRunQuarantinedStdoutFull: a run that sealed and quarantined keeps exit 3 when stdout
// did not take its summary, and says the summary is lost.
func TestRunQuarantinedStdoutFull(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	var stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"run", "--date", "2026-11-22"}, common...), fullStdout{}, &stderr)
	if code != exitQuarantined || !strings.Contains(stderr.String(), "standard output did not take the run's summary") {
		t.Fatalf("run exit %d, want %d saying the summary is lost:\n%s", code, exitQuarantined, stderr.String())
	}
	if code, out, errOut := chatvault(t, append([]string{"status", "--org", acme, "--date", "2026-11-22"}, common...)...); code != exitOK || !strings.Contains(out, "2026-11-22  sealed") {
		t.Fatalf("status exit %d:\n%s%s", code, out, errOut)
	}
	reliability.Record(t, "operations", "run that quarantines, its stdout on a full disk (/dev/full)", reliability.Kept,
		"the day is sealed, exit 3 as it says; a warning says the summary is lost; before, nothing said so")
}

// TestStderrFull: a stderr that takes nothing (a full disk, /dev/full; closed, Go opens
// /dev/null on it) loses the log but changes no exit code and no output: run seals (3),
// export writes the day (0), a missing day still fails (1), bad usage is still 2.
func TestStderrFull(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	cv := func(args ...string) (int, string) {
		var stdout bytes.Buffer
		code := Main(context.Background(), args, &stdout, fullStdout{})
		return code, stdout.String()
	}
	if code, _ := cv(append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d, want %d", code, exitQuarantined)
	}
	want, err := os.ReadFile("../../testdata/golden/acme.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := cv(append([]string{"export", "--org", acme, "--date", "2026-11-22"}, common...)...); code != exitOK || out != string(want) {
		t.Fatalf("export exit %d, %d bytes, want 0 and the golden day", code, len(out))
	}
	if code, _ := cv(append([]string{"export", "--org", acme, "--date", "2026-11-21"}, common...)...); code != exitFailure {
		t.Fatalf("export of a day not sealed: exit %d, want %d", code, exitFailure)
	}
	if code, _ := cv(append([]string{"export", "--org", acme}, common...)...); code != exitUsage {
		t.Fatalf("export without --date: exit %d, want %d", code, exitUsage)
	}
	reliability.Record(t, "operations", "stderr that takes nothing (/dev/full, 2>&-)", reliability.Kept,
		"the log is lost, nothing else: run seals (exit 3), export writes the day (0), a day not sealed fails (1), bad usage is 2")
}

// TestKeysGenerateKilledMidWrite: keys generate -o KEY created KEY under its name before
// writing it, so a kill in between left a key file cut short that a rerun refused to
// replace. Now a kill leaves only a hidden .KEY.partial-*, and a rerun makes the key.
func TestKeysGenerateKilledMidWrite(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.pem")
	res := runBinary(t, []string{"CHATVAULT_CRASH_AT=output.write:1"}, nil, "keys", "generate", "-o", key)
	if !res.killed {
		t.Fatalf("keys generate not killed at output.write:1: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a killed keys generate left %s (%v)", key, err)
	}
	res = runBinary(t, nil, nil, "keys", "generate", "-o", key)
	if res.code != exitOK {
		t.Fatalf("rerun exit %d: %s", res.code, res.stderr)
	}
	if code, out, errOut := chatvault(t, "keys", "public", "--key", key); code != exitOK || out != res.stdout {
		t.Fatalf("keys public of the rerun's key: exit %d, %q, want %q\n%s", code, out, res.stdout, errOut)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v (%v), want 0600", fi.Mode(), err)
	}
	reliability.Record(t, "operations", "keys generate -o KEY killed while it writes the key", reliability.Recovered,
		"KEY is not there (only a hidden .KEY.partial-*); a rerun makes the key, mode 0600. Before, KEY was created under its name before its bytes were written")
}

// TestTokenCreateReaderGone: token create into a pipe whose reader is gone (| true) is
// ended by SIGPIPE as it prints the secret, before the tokens file is written: no token
// is saved whose secret no one read.
func TestTokenCreateReaderGone(t *testing.T) {
	cleanEnv(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(os.Args[0], "token", "create", "--org", acme, "--scope", "admin:compliance:read")
	cmd.Env = append(os.Environ(), reexecEnv+"=1", "CHATVAULT_AUTH_TOKENSFILE="+path)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	err = cmd.Run()
	w.Close()
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
		t.Fatalf("token create into a closed pipe: %v, want ended by SIGPIPE\n%s", err, stderr.String())
	}
	f, err := tokenfile.Read(path)
	if err != nil || len(f.Tokens) != 0 {
		t.Fatalf("tokens file after the pipe broke: %v tokens (%v), want none", len(f.Tokens), err)
	}
	reliability.Record(t, "operations", "token create | true: the secret's reader is gone", reliability.CleanFailure,
		"ended by SIGPIPE as it prints the secret, before the tokens file is written: no token saved")
}

// TestStdoutDevFull: the real /dev/full as stdout of a chatvault process, as
// `chatvault status > /dev/full` gives it.
func TestStdoutDevFull(t *testing.T) {
	cleanEnv(t)
	common := []string{"--eventlog", "../../testdata/eventlog", "--store", t.TempDir(), "--log-format", "json"}
	if code, _, errOut := chatvault(t, append([]string{"run", "--date", "2026-11-22"}, common...)...); code != exitQuarantined {
		t.Fatalf("run exit %d: %s", code, errOut)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for _, args := range [][]string{
		append([]string{"status", "--org", acme, "--date", "2026-11-22"}, common...),
		{"version"},
	} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), reexecEnv+"=1")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != exitFailure || !strings.Contains(stderr.String(), "no space left on device") {
			t.Fatalf("%s > /dev/full: exit %d, want %d naming the write\n%s", args[0], code, exitFailure, stderr.String())
		}
	}
}
