package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// TestCLIBehaviour: the cobra command tree keeps what chatvault did before it: the
// overview on stdout (exit 2 without a command, 0 when asked for), a command's usage on
// stderr for --help, exit 2 for anything cobra refuses, and the version.
func TestCLIBehaviour(t *testing.T) {
	cleanEnv(t)
	tests := []struct {
		name        string
		args        []string
		code        int
		stdout      []string
		stderr      []string
		noStderr    bool
		emptyStdout bool
	}{
		{"no command", nil, exitUsage, []string{"usage: chatvault <command>", "Exit codes: 0 ok, 1 failure"}, nil, true, false},
		{"help", []string{"help"}, exitOK, []string{"usage: chatvault <command>"}, nil, true, false},
		{"-h", []string{"-h"}, exitOK, []string{"usage: chatvault <command>"}, nil, true, false},
		{"--help", []string{"--help"}, exitOK, []string{"usage: chatvault <command>"}, nil, true, false},
		{"version", []string{"version"}, exitOK, []string{"chatvault " + version + "\n"}, nil, true, false},
		{"--version", []string{"--version"}, exitOK, []string{"chatvault " + version + "\n"}, nil, true, false},
		{"command --help", []string{"run", "--help"}, exitOK, nil, []string{"usage: chatvault run [--quarantine-exit-code 0] | --date D", "flags:\n", "--date string", "--log-format string", "--config string"}, false, true},
		{"command -h", []string{"token", "-h"}, exitOK, nil, []string{"usage: chatvault token create --org ID", "       chatvault token revoke --id ID", "--scope strings"}, false, true},
		{"help command", []string{"help", "verify"}, exitOK, []string{"usage: chatvault verify [--org ID]", "--public-key string"}, nil, true, false},
		{"help of an unknown command", []string{"help", "seal"}, exitUsage, nil, []string{"no command"}, false, true},
		{"unknown command", []string{"sevre", "--log-format", "text"}, exitUsage, nil, []string{`chatvault: unknown command "sevre" (see chatvault help; did you mean serve?)` + "\n"}, false, true},
		{"unknown flag", []string{"status", "--bogus", "--log-format", "text"}, exitUsage, nil, []string{"chatvault status: unknown flag: --bogus\n"}, false, true},
		{"flag without its value", []string{"status", "--log-format", "text", "--org"}, exitUsage, nil, []string{"chatvault status: flag needs an argument: --org\n"}, false, true},
		{"stray argument", []string{"witness", "x", "--log-format", "text"}, exitUsage, nil, []string{`chatvault witness: unexpected argument "x"` + "\n"}, false, true},
		{"subcommand argument passes", []string{"token", "frobnicate", "--log-format", "text"}, exitUsage, nil, []string{"chatvault token: auth.tokensFile is not set"}, false, true},
		{"completion without a shell", []string{"completion", "--log-format", "text"}, exitUsage, nil, []string{"chatvault completion: "}, false, true},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, exitUsage, nil, []string{`invalid argument \"tcsh\"`}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := chatvault(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if tt.noStderr && errOut != "" {
				t.Errorf("stderr: %q", errOut)
			}
			if tt.emptyStdout && out != "" {
				t.Errorf("stdout: %q", out)
			}
		})
	}

	// The overview lists every registered command, and completion.
	_, out, _ := chatvault(t)
	for _, c := range commands {
		if !strings.Contains(out, "\n  "+c.name+" ") {
			t.Errorf("the overview lacks %s:\n%s", c.name, out)
		}
	}
	if !strings.Contains(out, "\n  completion ") {
		t.Errorf("the overview lacks completion:\n%s", out)
	}
}

// TestCommandFlagsUnchanged: every registered command still has its own flag set, the
// shared settings' flags (config.BindFlags) first, in the order they were defined.
func TestCommandFlagsUnchanged(t *testing.T) {
	root := (&cli{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard}).root()
	for _, c := range commands {
		cc, _, err := root.Find([]string{c.name})
		if err != nil || cc.Name() != c.name {
			t.Fatalf("%s: not in the tree (%v)", c.name, err)
		}
		var names []string
		cc.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if len(names) < 2 || names[0] != "config" || names[1] != "eventlog" {
			t.Errorf("%s: flags %v, want --config and the shared flags first", c.name, names)
		}
	}
}

// TestCompletionScripts: `chatvault completion bash|zsh|fish` prints cobra's script for
// the shell, which names chatvault; bash parses its script (bash -n), and so does zsh or
// fish when installed. The scripts complete through `chatvault __complete`, which lists
// the commands, a command's flags and a subcommand's words.
func TestCompletionScripts(t *testing.T) {
	cleanEnv(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			code, out, errOut := chatvault(t, "completion", shell)
			if code != exitOK || len(out) < 1000 || !strings.Contains(out, "chatvault") || errOut != "" {
				t.Fatalf("exit %d, %d bytes, stderr %q", code, len(out), errOut)
			}
			sh, err := exec.LookPath(shell)
			if err != nil {
				if shell == "bash" {
					t.Fatal("bash is not installed")
				}
				t.Logf("%s is not installed: the script is not parsed", shell)
				return
			}
			file := filepath.Join(t.TempDir(), "chatvault."+shell)
			if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"-n", file}
			if shell == "fish" {
				args = []string{"--no-execute", file}
			}
			if b, err := exec.Command(sh, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", shell, strings.Join(args, " "), err, b)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", ""}, []string{"run\t", "verify\t", "completion\t", "export-task\t"}},
		{[]string{"__complete", "run", "--da"}, []string{"--date\t"}},
		{[]string{"__complete", "token", ""}, []string{"create", "list", "revoke"}},
		{[]string{"__complete", "keys", ""}, []string{"generate", "public", "rotate"}},
		{[]string{"__complete", "completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"__complete", "status", "--log-format", ""}, []string{"auto", "text", "json"}},
		{[]string{"__complete", "run", "--date", ""}, []string{"yesterday", "today"}},
		{[]string{"__complete", "export", "--date", ""}, []string{"yesterday", "today"}},
		{[]string{"__complete", "gen", "--date", ""}, []string{":0\n"}}, // a date only: no words, files allowed
	} {
		code, out, errOut := chatvault(t, tc.args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%v: %q lacks %q", tc.args, out, want)
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite the checked-in files generated from the code (docs/cli.md)")

// cliReferenceFile is the CLI reference generated from the commands: `make docs`
// rewrites it (go test ./cmd/chatvault -run TestCLIReference -update).
const cliReferenceFile = "../../docs/cli.md"

// TestCLIReference: docs/cli.md is what the commands generate now, so the reference
// cannot drift from the code; -update rewrites it.
func TestCLIReference(t *testing.T) {
	cleanEnv(t)
	got, err := cliReference()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(cliReferenceFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	// Generated into a temporary folder first, as `make docs` would, then compared.
	fresh := filepath.Join(t.TempDir(), "cli.md")
	if err := os.WriteFile(fresh, got, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(cliReferenceFile)
	if err != nil {
		t.Fatalf("%v (run make docs)", err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("docs/cli.md differs from the commands; run make docs and commit it:\n%s", lineDiff(string(want), string(got)))
	}
}

// cliReference renders every command's reference (cobra/doc's markdown) into one file,
// the overview first, with links between its sections.
func cliReference() ([]byte, error) {
	root := (&cli{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard}).root()
	var b bytes.Buffer
	b.WriteString("# chatvault command reference\n\n" +
		"<!-- Generated from the commands by `make docs`; a test fails when it differs. Do not edit. -->\n\n")
	link := func(name string) string {
		return "#" + strings.ReplaceAll(strings.TrimSuffix(name, ".md"), "_", "-")
	}
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if err := doc.GenMarkdownCustom(c, &b, link); err != nil {
			return err
		}
		for _, child := range c.Commands() {
			if child.IsAvailableCommand() {
				if err := walk(child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n'), nil
}

// lineDiff is a unified-style diff of two texts (- checked in, + generated), by the
// longest common subsequence of their lines; unchanged lines are left out.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var d strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i++
			j++
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&d, "+%d: %s\n", j+1, y[j])
			j++
		default:
			fmt.Fprintf(&d, "-%d: %s\n", i+1, x[i])
			i++
		}
	}
	return d.String()
}
