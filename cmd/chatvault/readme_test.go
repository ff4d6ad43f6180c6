package main

import (
	"context"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README and docs/ are what a newcomer copies from. These tests hold them to the code
// the way TestCLIReference holds docs/cli.md: every test a claim names exists, and every
// `chatvault CMD --flag` they show is a command and flags chatvault has.

// readmeDocs returns the user documentation: README.md and docs/**/*.md, by path.
func readmeDocs(t *testing.T) map[string]string {
	t.Helper()
	docs := map[string]string{}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	docs["README.md"] = string(b)
	err = filepath.WalkDir("../../docs", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		b, err := os.ReadFile(path)
		docs[strings.TrimPrefix(path, "../../")] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// repoFiles lists the repository's files and folders, relative to its root, as a fresh
// clone has them: without .git and the top-level outputs .gitignore names (/archive/, /bin/,
// tokens.json…), which a working copy may hold in any number.
func repoFiles(t *testing.T) []string {
	t.Helper()
	ignored := map[string]bool{".git": true}
	if b, err := os.ReadFile("../../.gitignore"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "/"); ok {
				ignored[strings.TrimSuffix(name, "/")] = true
			}
		}
	}
	var all []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(filepath.ToSlash(path), "../../")
		if ignored[rel] || d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if rel != "../.." {
			all = append(all, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	testFuncRE = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)
	// A test named in prose, and whether a -run pattern names it (then a prefix of the
	// tests it selects is enough).
	namedTestRE = regexp.MustCompile(`(-run[ =]['"]?\^?)?\b(Test[A-Z][A-Za-z0-9_]*)`)
)

// TestREADMENamedTestsExist: every TestXxx that the README or docs/ cite as evidence is a
// test function of the repository (deploy/kubernetes, a module of its own, included), so a
// renamed or deleted test cannot leave a claim pointing at nothing.
func TestREADMENamedTestsExist(t *testing.T) {
	t.Parallel() // reads files only: no environment, no hooks
	have := map[string]bool{}
	for _, f := range repoFiles(t) {
		if strings.HasSuffix(f, "_test.go") && !strings.Contains(f, "/testdata/") {
			for _, m := range testFuncRE.FindAllStringSubmatch(readRepoFile(t, f), -1) {
				have[m[1]] = true
			}
		}
	}
	if len(have) < 100 {
		t.Fatalf("found only %d test functions: the walk is broken", len(have))
	}
	checked := 0
	for path, text := range readmeDocs(t) {
		for _, m := range namedTestRE.FindAllStringSubmatch(text, -1) {
			name, pattern := m[2], m[1] != ""
			checked++
			if have[name] {
				continue
			}
			if pattern && slices.ContainsFunc(keysOf(have), func(h string) bool { return strings.HasPrefix(h, name) }) {
				continue
			}
			t.Errorf("%s names %s, which is no test function of the repository", path, name)
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d test names: the README's pattern changed", checked)
	}
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var (
	fenceRE    = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	codeSpanRE = regexp.MustCompile("`([^`]+)`")
	// An invocation: chatvault (bin/chatvault, /usr/local/bin/chatvault) and a command, up to
	// a shell separator, a comment or the end of the span.
	invocationRE = regexp.MustCompile(`(?:^|[\s($="'])(?:[\w./-]*/)?chatvault ([a-z][a-z-]*)((?:[ \t]+[^\s|;&>)#<` + "`" + `]+)*)`)
)

// TestREADMECommandsParse: every `chatvault CMD …` of the README's and docs/'s code blocks
// and code spans names a command chatvault has, a subcommand word it knows (token create,
// keys rotate, completion fish), and only flags that command defines. Values are not
// checked: the docs write placeholders (ID, D, FILE, …).
func TestREADMECommandsParse(t *testing.T) {
	cleanEnv(t)
	root := (&cli{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard}).root()
	root.InitDefaultHelpCmd() // Find sees the help command only once it is added
	checked := 0
	for path, text := range readmeDocs(t) {
		var snippets []string
		for _, m := range fenceRE.FindAllStringSubmatch(text, -1) {
			// A line continued with a backslash is one command.
			snippets = append(snippets, strings.Split(strings.ReplaceAll(m[1], "\\\n", " "), "\n")...)
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(text, ""), -1) {
			snippets = append(snippets, strings.ReplaceAll(m[1], "\n", " "))
		}
		for _, s := range snippets {
			for _, m := range invocationRE.FindAllStringSubmatch(s, -1) {
				name, args := m[1], strings.Fields(m[2])
				if slices.Contains([]string{"and", "binary", "out", "chatvault", "itself"}, name) {
					continue // prose ("builds bin/chatvault and …"), cron's user field
				}
				checked++
				cmd, _, err := root.Find([]string{name})
				if err != nil || cmd == root {
					t.Errorf("%s: %q: chatvault has no command %q", path, s, name)
					continue
				}
				if len(cmd.ValidArgs) > 0 && len(args) > 0 && !strings.HasPrefix(args[0], "-") &&
					!strings.ContainsAny(args[0], "…|[") && !slices.Contains(cmd.ValidArgs, args[0]) {
					t.Errorf("%s: %q: %s has no subcommand %q (it knows %v)", path, s, name, args[0], cmd.ValidArgs)
				}
				for _, a := range args {
					if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
						continue
					}
					flag := strings.Trim(strings.SplitN(a, "=", 2)[0], "[]()")
					var ok bool
					if long, isLong := strings.CutPrefix(flag, "--"); isLong {
						ok = cmd.Flags().Lookup(long) != nil || (long == "help" || long == "version")
					} else {
						ok = len(flag) == 2 && cmd.Flags().ShorthandLookup(flag[1:]) != nil
					}
					if !ok {
						t.Errorf("%s: %q: chatvault %s has no flag %s", path, s, name, flag)
					}
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked only %d invocations: the README's pattern changed", checked)
	}
}

var (
	metricNameRE = regexp.MustCompile(`\bchatvault_[a-z0-9_]*[a-z0-9*]`)
	alertNameRE  = regexp.MustCompile(`\bChatvault[A-Z][A-Za-z0-9]+`)
	alertRuleRE  = regexp.MustCompile(`(?m)alert:\s*(Chatvault[A-Za-z0-9]+)`)
)

// TestREADMEMetricsAndAlertsExist: every chatvault_ series the README and docs/ name is
// a name the code registers (a literal in a non-test Go file; a histogram's _bucket, _sum
// and _count, and a family written `chatvault_export_tasks_*`, by their stem), and every
// Chatvault… alert they name is a rule of deploy/prometheus.
func TestREADMEMetricsAndAlertsExist(t *testing.T) {
	t.Parallel() // reads files only: no environment, no hooks
	var code strings.Builder
	for _, f := range repoFiles(t) {
		if strings.HasSuffix(f, ".go") && !strings.HasSuffix(f, "_test.go") && !strings.Contains(f, "/testdata/") {
			code.WriteString(readRepoFile(t, f))
		}
	}
	src := code.String()
	rules, err := filepath.Glob("../../deploy/prometheus/*-alerts.yaml")
	if err != nil || len(rules) == 0 {
		t.Fatalf("no alert rules in deploy/prometheus (%v)", err)
	}
	alerts := map[string]bool{}
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range alertRuleRE.FindAllStringSubmatch(string(b), -1) {
			alerts[m[1]] = true
		}
	}
	metrics := 0
	for path, text := range readmeDocs(t) {
		for _, name := range metricNameRE.FindAllString(text, -1) {
			stem := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				stem = strings.TrimSuffix(stem, suf)
			}
			metrics++
			if family, ok := strings.CutSuffix(stem, "*"); ok {
				if !strings.Contains(src, `"`+family) {
					t.Errorf("%s names the series %s: no metric of the code starts so", path, name)
				}
				continue
			}
			if !strings.Contains(src, `"`+stem+`"`) {
				t.Errorf("%s names the series %s, which the code does not register", path, name)
			}
		}
		for _, name := range alertNameRE.FindAllString(text, -1) {
			if !alerts[name] {
				t.Errorf("%s names the alert %s, which no rule of deploy/prometheus defines", path, name)
			}
		}
	}
	if metrics < 20 {
		t.Fatalf("checked only %d series names: the README's pattern changed", metrics)
	}
}

var (
	makeCallRE   = regexp.MustCompile(`(?:^|[\s;&(])make ([a-z][a-z-]*)`)
	makeTargetRE = regexp.MustCompile(`(?m)^([a-z][a-z-]*):`)
)

// TestREADMEMakeTargetsExist: every `make TARGET` of the README's and docs/' code blocks and
// code spans is a target of the Makefile.
func TestREADMEMakeTargetsExist(t *testing.T) {
	t.Parallel() // reads files only: no environment, no hooks
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range makeTargetRE.FindAllStringSubmatch(string(b), -1) {
		targets[m[1]] = true
	}
	checked := 0
	for path, text := range readmeDocs(t) {
		var code []string
		for _, m := range fenceRE.FindAllStringSubmatch(text, -1) {
			code = append(code, m[1])
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(text, ""), -1) {
			code = append(code, m[1])
		}
		for _, c := range code {
			for _, m := range makeCallRE.FindAllStringSubmatch(c, -1) {
				checked++
				if !targets[m[1]] {
					t.Errorf("%s: `make %s`: the Makefile has no target %s", path, m[1], m[1])
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d make commands: the README's pattern changed", checked)
	}
}

// repoPathRE: a path of the repository as the docs write one, in a code span or a link.
var repoPathRE = regexp.MustCompile("(?:^|[\\s`(\\[])((?:deploy|scripts|docs|archiver|cmd|internal|config|model|testdata|\\.ci)/[A-Za-z0-9_./*-]*)")

// TestREADMEPathsExist: every file or folder of the repository the README and docs/ name
// (deploy/…, scripts/…, archiver/…; a glob matches one) exists; `testdata/fuzz/` stands
// for each package's.
// A Go identifier after a package path (internal/fastzip.Writer) names the package.
func TestREADMEPathsExist(t *testing.T) {
	t.Parallel() // reads files only: no environment, no hooks
	all := repoFiles(t)
	exists := func(p string) bool {
		p = strings.TrimSuffix(p, "/")
		for _, a := range all {
			if ok, _ := pathpkg.Match(p, a); ok || (strings.HasPrefix(p, "testdata/") && strings.HasSuffix(a, "/"+p)) {
				return true
			}
		}
		return false
	}
	checked := 0
	for path, text := range readmeDocs(t) {
		for _, m := range repoPathRE.FindAllStringSubmatch(text, -1) {
			p := strings.TrimRight(m[1], ".,;:")
			if i := strings.LastIndex(p, "."); i > 0 && i+1 < len(p) && p[i+1] >= 'A' && p[i+1] <= 'Z' {
				p = p[:i] // a package and one of its identifiers
			}
			checked++
			if !exists(p) {
				t.Errorf("%s names %s, which the repository does not have", path, p)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked only %d paths: the README's pattern changed", checked)
	}
}
