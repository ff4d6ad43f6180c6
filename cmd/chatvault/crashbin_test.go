package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatvault/chatvault/archiver"
)

// crashBin is chatvault built with the crashpoints tag (see internal/crashpoint), once per
// test binary, removed by TestMain.
var crashBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		if os.Getenv(panicEnv) != "" {
			wrapStore = func(s archiver.Store) archiver.Store { return panicStore{s} }
		}
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	flag.Parse()
	// A run of the whole package needs the crashpoint binary (the crash tests, and the
	// fixtures of the large-day tests): build it on the other core while the first tests
	// run, instead of making the first test that needs it wait about twenty seconds. A run
	// of chosen tests (-run) builds it when one of them asks, as before.
	prebuilt := make(chan struct{})
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" && !testing.Short() {
		go func() {
			defer close(prebuilt)
			buildCrashpointBinary()
		}()
	} else {
		close(prebuilt)
	}
	code := m.Run()
	stopMinIO()
	<-prebuilt // the build must not write into the folder removed below
	if crashBin.dir != "" {
		os.RemoveAll(crashBin.dir)
	}
	os.Exit(code)
}

// crashpointBinary builds chatvault with its crash points compiled in. It is built without
// the race detector, whatever the tests have: the crash tests run it dozens of times on
// days large enough to spill and to need multipart uploads, and the packages' own tests
// look for races. `make test` has compiled its dependencies for go vet already.
func crashpointBinary(t *testing.T) string {
	t.Helper()
	buildCrashpointBinary()
	if crashBin.err != nil {
		t.Fatalf("build chatvault with -tags crashpoints: %v", crashBin.err)
	}
	return crashBin.path
}

// buildCrashpointBinary builds the crashpoint binary once; later calls wait for the first.
func buildCrashpointBinary() {
	crashBin.once.Do(func() {
		gotool, err := exec.LookPath("go") // go test puts its own go first in PATH
		if err != nil {
			crashBin.err = err
			return
		}
		if crashBin.dir, crashBin.err = os.MkdirTemp("", "chatvault-crash-"); crashBin.err != nil {
			return
		}
		crashBin.path = filepath.Join(crashBin.dir, "chatvault")
		cmd := exec.Command(gotool, "build", "-tags", "crashpoints", "-buildvcs=false", "-o", crashBin.path, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			crashBin.err = errors.New(err.Error() + ": " + string(out))
		}
	})
}

// exited is how a chatvault process ended.
type exited struct {
	code   int  // exit code, -1 when killed
	killed bool // ended by SIGKILL
	stdout string
	stderr string
	wall   time.Duration
}

// run runs the crashpoint binary with env added to the test's environment and returns
// how it ended. kill, when set, is called with the started process (to kill it from
// outside) and must not block.
func runBinary(t *testing.T, env []string, kill func(*os.Process), args ...string) exited {
	t.Helper()
	cmd := exec.Command(crashpointBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if kill != nil {
		kill(cmd.Process)
	}
	err := cmd.Wait()
	res := exited{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), wall: time.Since(start)}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		res.killed = true
	} else if err != nil && res.code < 0 {
		t.Fatalf("chatvault %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return res
}

// runPaused runs the crashpoint binary with CHATVAULT_PAUSE_AT among env; once it reports
// that it paused, atPause changes the world, and the process is let go on.
func runPaused(t *testing.T, env []string, atPause func(), args ...string) exited {
	t.Helper()
	cmd := exec.Command(crashpointBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	paused := make(chan struct{})
	done := make(chan struct{})
	var errOut strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		seen := false
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			if !seen && strings.HasPrefix(sc.Text(), "crashpoint: paused at ") {
				seen = true
				close(paused)
			}
		}
	}()
	select {
	case <-paused:
		atPause()
	case <-done:
		// Ended without pausing: reported below with its output.
	}
	stdin.Write([]byte("\n"))
	stdin.Close()
	<-done // all of stderr is read before Wait closes the pipe
	cmd.Wait()
	res := exited{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: errOut.String(), wall: time.Since(start)}
	select {
	case <-paused:
	default:
		t.Fatalf("chatvault %s never reached its pause point: exit %d\n%s%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res
}

// reexecEnv makes the test binary run chatvault's Main with its arguments instead of the
// tests (see TestMain): separate processes of the race-enabled code, for tests of what
// processes do to one another.
const reexecEnv = "CHATVAULT_TEST_REEXEC_MAIN"

// reexecMain runs chatvault with args in a new process of the test binary.
func reexecMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Errorf("run %v: %v", args, err)
		return -1, "", err.Error()
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// reference runs chatvault with args in the crashpoint binary, which is built without the
// race detector, for the work a test starts from or compares with but does not test:
// generating a large day, sealing it into a folder, exporting from that folder. Under
// -race, chatvault in-process takes tens of seconds over a day of 40,000 to 80,000 events,
// the binary a few. The runs under test stay in-process, under the race detector. The
// binary has the test's environment, so it runs with the configuration the test set.
func reference(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	res := runBinary(t, nil, nil, args...)
	if res.killed {
		t.Fatalf("chatvault %s was killed\n%s", strings.Join(args, " "), res.stderr)
	}
	return res.code, res.stdout, res.stderr
}
