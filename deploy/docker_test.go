package deploy

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"go/version"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/chatvault/chatvault/internal/reliability"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY…
	args string
	line int
}

// stage is a FROM and the instructions up to the next one.
type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile reads a Dockerfile's stages: comments and blank lines dropped, lines
// ending in a backslash joined with the next, as the Dockerfile frontend does.
func parseDockerfile(file string) ([]stage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var stages []stage
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			from, name, _ := strings.Cut(in.args, " ")
			_, name, _ = strings.Cut(strings.ToUpper(name), "AS ")
			stages = append(stages, stage{from: from, name: strings.ToLower(strings.TrimSpace(name))})
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue // an ARG before the first FROM
			}
			return nil, fmt.Errorf("%s:%d: %s before FROM", file, in.line, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(stages) != 2 {
		return nil, fmt.Errorf("%s: %d stages, want a build stage and the final image", file, len(stages))
	}
	return stages, nil
}

// built is the binary TestDockerfileBuild builds with the Dockerfile's steps, shared with
// the systemd test (systemd-analyze verify needs the ExecStart binary to exist).
var built struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildVersion is the VERSION build argument the test passes, as
// `docker build --build-arg VERSION=…` would.
const buildVersion = "deploytest-1"

// dockerBuild performs deploy/Dockerfile's build stage outside Docker: it copies the build
// context as .dockerignore filters it into a temporary /src, then runs every RUN of the
// stage in order with /bin/sh -c, with the stage's ARGs in the environment and the
// output folder the final stage copies from moved under the temporary folder. It returns
// the path of the binary the final stage's COPY --from takes.
func dockerBuild(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "chatvault-dockerbuild-")
		if built.err == nil {
			built.path, built.err = runDockerBuild(built.dir)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func runDockerBuild(tmp string) (string, error) {
	stages, err := parseDockerfile("Dockerfile")
	if err != nil {
		return "", err
	}
	build, final := stages[0], stages[1]
	// The final stage's COPY --from=<build stage> SRC DST names the binary.
	var src string
	for _, in := range final.ins {
		if f := strings.Fields(in.args); in.cmd == "COPY" && len(f) == 3 && f[0] == "--from="+build.name {
			src = f[1]
		}
	}
	if !filepath.IsAbs(src) {
		return "", fmt.Errorf("the final stage copies no absolute path from stage %q", build.name)
	}
	ctx := filepath.Join(tmp, "src")
	if err := copyContext("..", ctx); err != nil {
		return "", err
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		// The image sets none of these: the RUN lines must.
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"CGO_ENABLED", "GOFLAGS", "GOOS", "GOARCH", "VERSION"}, name)
	})
	ranBuild := false
	for _, in := range build.ins {
		switch in.cmd {
		case "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			if name == "VERSION" {
				def = buildVersion
			}
			env = append(env, name+"="+def)
		case "RUN":
			script := strings.ReplaceAll(in.args, filepath.Dir(src), filepath.Join(tmp, filepath.Dir(src)))
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Dir, cmd.Env = ctx, env
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("Dockerfile:%d: RUN %s: %v\n%s", in.line, in.args, err, out)
			}
			ranBuild = ranBuild || strings.Contains(in.args, "go build")
		}
	}
	if !ranBuild {
		return "", fmt.Errorf("the build stage runs no go build")
	}
	return filepath.Join(tmp, src), nil
}

// copyContext copies the files of the build context root into dst, leaving out what
// .dockerignore excludes, matched by the same package Docker's builder uses.
func copyContext(root, dst string) error {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return err
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if d.IsDir() {
			if excluded && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil // a folder is walked when a !pattern may take back something below it
		}
		if excluded || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestDockerfile checks deploy/Dockerfile's shape: a Go build stage at least as new as
// go.mod asks, and one final image from distroless/static or scratch that runs the
// binary as a non-root user with no shell in between.
func TestDockerfile(t *testing.T) {
	stages, err := parseDockerfile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	build, final := stages[0], stages[1]
	image, tag, _ := strings.Cut(build.from, ":")
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for line := range strings.Lines(string(gomod)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			want = "go" + v
		}
	}
	if image != "golang" || version.Compare(version.Lang("go"+tag), version.Lang(want)) < 0 {
		t.Errorf("build stage FROM %s: want golang with Go %s or later (go.mod)", build.from, want)
	}
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s: want distroless/static or scratch (a static binary needs no libc)", final.from)
	}
	var user, entrypoint string
	for _, in := range final.ins {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "RUN":
			t.Errorf("Dockerfile:%d: RUN in the final stage: the image has no shell", in.line)
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("the final image runs as %q: want a non-root USER", user)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint), &argv); err != nil || len(argv) == 0 {
		t.Errorf("ENTRYPOINT %s: want the exec (JSON) form, which needs no shell", entrypoint)
	}
}

// TestDockerfileBuild performs the Dockerfile's build steps (see dockerBuild) on the
// context .dockerignore leaves, and checks what the final stage would copy: a static
// binary (no ELF interpreter, no shared libraries, which distroless/static and scratch
// lack) that runs and reports the VERSION build argument.
func TestDockerfileBuild(t *testing.T) {
	bin := dockerBuild(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has an ELF interpreter (PT_INTERP): dynamically linked, it cannot start on distroless/static", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Fatalf("%s needs shared libraries %q (%v)", bin, libs, err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "chatvault "+buildVersion {
		t.Fatalf("%s version: %q (%v), want chatvault %s", bin, out, err, buildVersion)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("static binary, %d MB", st.Size()>>20)
	reliability.Record(t, "operations", "Dockerfile build steps run as the Dockerfile says", reliability.Kept,
		"the RUN lines, run on the .dockerignore'd context, build a static binary (no PT_INTERP) that runs `version`; without CGO_ENABLED=0 the binary has an interpreter and the test fails")
}

// TestDockerignore checks that the build context leaves out every path .gitignore names
// (built binaries, the README demo's outputs, caches) and the repository's history.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore: docker build sends the whole checkout (.git, bin/, archives, tokens.json) to the daemon: %v", err)
	}
	patterns, err := ignorefile.ReadAll(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	samples := []string{".git/HEAD", ".git", "bin/chatvault", "archive/orgs/x.json", "chatvault", "tokens.json",
		"deploy/kubernetes/chatvault.yaml", "archiver/s3/store_test.go"}
	gitignore, err := os.ReadFile("../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(gitignore)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		p := strings.ReplaceAll(strings.TrimPrefix(line, "/"), "*", "sample")
		if strings.HasSuffix(p, "/") {
			p += "sample"
		}
		samples = append(samples, p)
		if !strings.HasPrefix(line, "/") && !strings.Contains(strings.TrimSuffix(line, "/"), "/") {
			samples = append(samples, "archiver/"+p) // unanchored: any depth
		}
	}
	for _, p := range samples {
		excluded, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatal(err)
		}
		if !excluded {
			t.Errorf("%s is in the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/chatvault/main.go", "archiver/httpapi/openapi.json"} {
		if excluded, _ := pm.MatchesOrParentMatches(p); excluded {
			t.Errorf("%s, which the build needs, is left out", p)
		}
	}
	if !t.Failed() {
		reliability.Record(t, "operations", "docker build context", reliability.Refused,
			"TestDockerignore fails unless .dockerignore leaves out .git and every .gitignore'd path (bin/, the binary, archive/, tokens.json); there was no .dockerignore")
	}
}
