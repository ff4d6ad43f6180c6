package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// reexecStdin runs chatvault with args in a new process of the test binary, stdin given
// (nil: closed, which Go's runtime opens on /dev/null before main runs).
func reexecStdin(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	script := `exec "$0" "$@" <&-`
	if stdin != nil {
		script = `exec "$0" "$@"`
	}
	cmd := exec.Command("sh", append([]string{"-c", script, os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin) // a pipe
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestKeyFromStdin: a key piped in (--key /dev/stdin) is read; with standard input closed
// or from /dev/null, --key /dev/stdin is a device. It was refused for its mode 0666 with
// the advice "chmod 600 /dev/stdin", which, run as root, makes /dev/null unusable to every
// other user of the host.
func TestKeyFromStdin(t *testing.T) {
	cleanEnv(t)
	key := filepath.Join(t.TempDir(), "signing.pem")
	code, pub, errOut := chatvault(t, "keys", "generate", "-o", key)
	if code != exitOK {
		t.Fatalf("keys generate exit %d: %s", code, errOut)
	}
	pem, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := reexecStdin(t, pem, "keys", "public", "--key", "/dev/stdin"); code != exitOK || out != pub {
		t.Fatalf("key piped in: exit %d, printed %q, want %q\n%s", code, out, pub, errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"stdin closed", []string{"keys", "public", "--key", "/dev/stdin"}},
		{"/dev/null", []string{"keys", "public", "--key", "/dev/null"}},
	} {
		var code int
		var out, errOut string
		if tc.name == "stdin closed" {
			code, out, errOut = reexecStdin(t, nil, tc.args...)
		} else {
			code, out, errOut = chatvault(t, tc.args...)
		}
		if code != exitUsage || out != "" || !strings.Contains(errOut, "is a device, not a key file") || strings.Contains(errOut, "chmod") {
			t.Errorf("%s: exit %d, want %d naming a device, no chmod advice:\n%s%s", tc.name, code, exitUsage, out, errOut)
		}
	}
	reliability.Record(t, "input", "--key /dev/stdin with standard input closed or /dev/null", reliability.Refused,
		"exit 2, /dev/stdin is a device, not a key file; before, refused for mode 0666 with the advice chmod 600 /dev/stdin, which as root locks every other user out of /dev/null")
	reliability.Record(t, "input", "--key /dev/stdin with the key piped in", reliability.Kept,
		"read like the key's file: keys public prints its public key, exit 0")
}
