// Package scripts tests the install scripts make test runs (the binaries they install are
// stood in for by fakes on PATH, so nothing is built or downloaded).
package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// fakeTool writes an executable shell script named name into dir.
func fakeTool(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// runScript runs scripts/<name> under bash with env added to the test's environment and
// fake tools first on PATH; it returns what the script printed on stdout and its error.
func runScript(t *testing.T, name, fakes string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", name)
	cmd.Env = append(os.Environ(), "PATH="+fakes+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("%s: stderr:\n%s", name, stderr.String())
	return strings.TrimSpace(stdout.String()), err
}

// calls counts the lines of a fake tool's call log.
func calls(t *testing.T, log string) int {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// A MinIO build killed while go install copies the binary into place (it copies, not
// renames, when its build folder is on another file system, as a tmpfs /tmp is) left a
// truncated executable that minio.sh handed out on every later run: it segfaulted, and
// every S3 test failed to start MinIO until someone deleted the cache by hand. The cache
// path has a space and a non-ASCII letter, as a newcomer's home may.
func TestMinioScriptRebuildsAfterInterruptedBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bash scripts")
	}
	fakes, state := t.TempDir(), t.TempDir()
	cache := filepath.Join(t.TempDir(), "fresh atk", "chät cache")
	mode, log := filepath.Join(state, "mode"), filepath.Join(state, "go.log")
	// The fake go install writes the first bytes of an ELF file and is killed (partial), or
	// writes a whole stand-in server that answers --version.
	fakeTool(t, fakes, "go", `echo "$@" >>"`+log+`"
case "$(cat "`+mode+`")" in
partial) printf '\177ELF\2\1\1' >"$GOBIN/minio"; chmod +x "$GOBIN/minio"; kill -KILL $$ ;;
*) printf '#!/bin/sh\necho "minio version fake"\n' >"$GOBIN/minio"; chmod +x "$GOBIN/minio" ;;
esac
`)
	env := []string{"XDG_CACHE_HOME=" + cache}

	if err := os.WriteFile(mode, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runScript(t, "minio.sh", fakes, env...); err == nil {
		t.Fatal("minio.sh succeeded although its go install was killed")
	}
	if err := os.WriteFile(mode, []byte("whole"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := runScript(t, "minio.sh", fakes, env...)
	if err != nil {
		t.Fatalf("minio.sh after an interrupted build: %v", err)
	}
	if n := calls(t, log); n != 2 {
		t.Fatalf("go install ran %d times, want 2: the truncated binary was taken for a build", n)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "minio version fake") {
		t.Fatalf("%s --version: %v, %q: minio.sh handed out the truncated binary", bin, err, out)
	}
	// A third run reuses the whole binary.
	if again, err := runScript(t, "minio.sh", fakes, env...); err != nil || again != bin {
		t.Fatalf("third minio.sh: %q, %v; want %q", again, err, bin)
	}
	if n := calls(t, log); n != 2 {
		t.Fatalf("go install ran %d times after a whole build, want 2", n)
	}
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(bin), ".build.*"))
	if err != nil || len(leftovers) != 0 {
		t.Fatalf("build folders left in the cache: %v %v", leftovers, err)
	}
	reliability.Record(t, "operations", "scripts/minio.sh after a MinIO build killed half-way (a truncated binary in the cache)", reliability.Recovered,
		"the next run finds the cached binary does not run and builds again, into a folder of its own renamed into place only once whole; a path with a space and a non-ASCII letter")
}

// An npm install of vnu-jar killed half-way (SIGKILL: a stopped session or CI run) left a
// truncated vnu.jar that vnu.sh handed out on every later run, so every validator test
// failed with "Invalid or corrupt jarfile".
func TestVnuScriptReinstallsAfterInterruptedInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bash scripts")
	}
	fakes, state := t.TempDir(), t.TempDir()
	dir := filepath.Join(t.TempDir(), "fresh atk", "chät vnu")
	mode, log := filepath.Join(state, "mode"), filepath.Join(state, "npm.log")
	// The fake npm writes part of the jar and is killed (partial), or writes it whole; the
	// fake java opens only a whole one.
	fakeTool(t, fakes, "npm", `echo "$@" >>"`+log+`"
while [ "$1" != --prefix ]; do shift; done
d="$2/node_modules/vnu-jar/build/dist"; mkdir -p "$d"
case "$(cat "`+mode+`")" in
partial) printf 'PK\3\4' >"$d/vnu.jar"; kill -KILL $$ ;;
*) printf 'PK whole jar' >"$d/vnu.jar" ;;
esac
`)
	fakeTool(t, fakes, "java", `[ "$1" = -jar ] && [ "$(cat "$2")" = "PK whole jar" ] && echo 26.9.27 && exit 0
echo "Error: Invalid or corrupt jarfile $2" >&2; exit 1
`)
	env := []string{"CHATVAULT_VNU_DIR=" + dir + "/"} // a trailing slash, as a person types it

	if err := os.WriteFile(mode, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runScript(t, "vnu.sh", fakes, env...); err == nil {
		t.Fatal("vnu.sh succeeded although its npm install was killed")
	}
	if err := os.WriteFile(mode, []byte("whole"), 0o644); err != nil {
		t.Fatal(err)
	}
	jar, err := runScript(t, "vnu.sh", fakes, env...)
	if err != nil {
		t.Fatalf("vnu.sh after an interrupted install: %v", err)
	}
	if n := calls(t, log); n != 2 {
		t.Fatalf("npm install ran %d times, want 2: the truncated jar was taken for an install", n)
	}
	if b, err := os.ReadFile(jar); err != nil || string(b) != "PK whole jar" {
		t.Fatalf("%s holds %q (%v): vnu.sh handed out the truncated jar", jar, b, err)
	}
	if again, err := runScript(t, "vnu.sh", fakes, env...); err != nil || again != jar {
		t.Fatalf("third vnu.sh: %q, %v; want %q", again, err, jar)
	}
	if n := calls(t, log); n != 2 {
		t.Fatalf("npm install ran %d times after a whole install, want 2", n)
	}
	reliability.Record(t, "operations", "scripts/vnu.sh after an npm install of vnu-jar killed half-way (a truncated vnu.jar in the cache)", reliability.Recovered,
		"the next run finds the cached jar does not open and installs again, into a folder of its own renamed into place only once whole; a path with a space and a non-ASCII letter")
}

// toolsOnly returns a folder holding links to the few system tools the scripts use, so a
// PATH of fakes and it hides the machine's own promtool, systemd-analyze and compiler.
func toolsOnly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"id", "dirname", "sleep", "cat", "chmod", "mkdir", "grep"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A fresh machine often runs unattended-upgrades for minutes after boot, and two make tests
// at once reach apt-get together: the install scripts ran a bare apt-get update, which
// stops at once with "Could not get lock /var/lib/apt/lists/lock" (exit 100), and make
// test with it. The fake apt-get fails update once on the lock, and fails install unless
// told to wait for the dpkg lock (DPkg::Lock::Timeout), as a held lock would.
func TestInstallScriptsWaitForAptLock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bash scripts")
	}
	for _, tc := range []struct{ script, tool, pkg string }{
		{"promtool.sh", "promtool", "prometheus"},
		{"systemd-analyze.sh", "systemd-analyze", "systemd"},
		{"cc.sh", "fa-cc", "gcc"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			t.Parallel()
			fakes, state := t.TempDir(), t.TempDir()
			log := filepath.Join(state, "apt.log")
			fakeTool(t, fakes, "sudo", `exec "$@"`+"\n")
			fakeTool(t, fakes, "go", `echo fa-cc`+"\n") // cc.sh: go env CC names a missing compiler
			fakeTool(t, fakes, "apt-get", `echo "$@" >>"`+log+`"
case "$*" in
*update*)
  if [ ! -e "`+state+`/updated" ]; then
    : >"`+state+`/updated"
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt-get)" >&2; exit 100
  fi ;;
*install*)
  case "$*" in *DPkg::Lock::Timeout=*) ;; *)
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1 (unattended-upgr)" >&2; exit 100 ;;
  esac
  printf '#!/bin/sh\n' >"`+fakes+`/`+tc.tool+`"; chmod +x "`+fakes+`/`+tc.tool+`" ;;
esac
`)
			cmd := exec.Command("bash", tc.script)
			cmd.Env = append(os.Environ(), "PATH="+fakes+string(os.PathListSeparator)+toolsOnly(t), "GO="+filepath.Join(fakes, "go"))
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
					stderr = ee.Stderr
				}
				t.Fatalf("%s with apt's lock held for a while: %v\n%s", tc.script, err, stderr)
			}
			if want := filepath.Join(fakes, tc.tool); strings.TrimSpace(string(out)) != want {
				t.Fatalf("%s printed %q, want %q", tc.script, out, want)
			}
			if n := calls(t, log); n != 3 {
				t.Fatalf("apt-get ran %d times, want 3 (update on the lock, update, install)", n)
			}
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.pkg) {
				t.Fatalf("apt-get never installed %s:\n%s", tc.pkg, b)
			}
		})
	}
	reliability.Record(t, "operations", "make test's install scripts while apt's lock is held (unattended-upgrades after boot, a second make test)", reliability.Recovered,
		"apt-get install waits for the dpkg lock (DPkg::Lock::Timeout, ten minutes) and apt-get update is tried again every 2 s while the lock is what failed it; before, the first apt-get stopped at once with \"Could not get lock\" and make test with it")
}

// A newcomer who is neither root nor has sudo got a bare "sudo: command not found" (exit
// 127) from the first install script whose tool was missing; now the message says what to
// run as root.
func TestInstallScriptsWithoutRootOrSudo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bash scripts")
	}
	fakes := t.TempDir()
	fakeTool(t, fakes, "id", "echo 1000\n")
	fakeTool(t, fakes, "apt-get", "echo apt-get ran >&2; exit 100\n")
	cmd := exec.Command("bash", "promtool.sh")
	cmd.Env = append(os.Environ(), "PATH="+fakes+string(os.PathListSeparator)+toolsOnly(t))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("promtool.sh succeeded without root, sudo or promtool:\n%s", out)
	}
	if want := "not root and no sudo: as root, run apt-get install prometheus"; !strings.Contains(string(out), want) {
		t.Fatalf("promtool.sh without root or sudo printed:\n%s\nwant it to say %q", out, want)
	}
	reliability.Record(t, "operations", "make test's install scripts as a user who is neither root nor has sudo", reliability.CleanFailure,
		"the script stops naming the Debian packages to install as root; it stopped with a bare \"sudo: command not found\" (exit 127)")
}

// A CGO_ENABLED=0 left in a newcomer's environment (a Dockerfile habit) made make test
// fail every -race build with "go: -race requires cgo", after vet, staticcheck and
// promtool had run; make test now turns cgo on for its -race runs, having made sure of a C
// compiler (scripts/cc.sh). make -n prints the recipe without running it.
func TestMakeTestEnablesCgoForRace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make")
	}
	cmd := exec.Command("make", "-n", "test")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n test: %v", err)
	}
	races := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, " test -race ") {
			continue
		}
		races++
		if !strings.Contains(line, "CGO_ENABLED=1 ") {
			t.Errorf("a -race run of make test leaves cgo as the environment sets it:\n%s", line)
		}
	}
	if races != 2 {
		t.Fatalf("make -n test shows %d go test -race runs, want 2 (the module, deploy/kubernetes):\n%s", races, out)
	}
	reliability.Record(t, "operations", "make test with CGO_ENABLED=0 in the environment", reliability.Recovered,
		"the -race runs set CGO_ENABLED=1 (scripts/cc.sh has made sure of a C compiler); every -race build failed with \"-race requires cgo\" after vet, staticcheck and promtool")
}
