package main

// The CLI reference, docs/cli.md, is generated from this tree (make docs does the same):
//go:generate go test -run ^TestCLIReference$ -count=1 -update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/chatvault/chatvault/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// cli is one invocation of chatvault: the command tree cobra dispatches on, built anew
// for every Main call (flags hold their values, and tests call Main many times), and the
// exit code the command that ran chose.
type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
	args           []string
	code           int
	// name and log are the running command's, once its configuration is loaded: a
	// panic is reported under them.
	name string
	log  *slog.Logger
	// outputFailed: cobra returned the error of a write to stdout, which Main reports as
	// a failure, not as bad usage.
	outputFailed bool
}

// outputWriter is stdout, remembering the first write that failed.
type outputWriter struct {
	w   io.Writer
	err error
}

func (o *outputWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil && o.err == nil {
		o.err = err
	}
	return n, err
}

// rawStdout is w without Main's check (outputWriter), for lines whose loss is no failure.
func rawStdout(w io.Writer) io.Writer {
	if o, ok := w.(*outputWriter); ok {
		return o.w
	}
	return w
}

// outputLost reports that stdout did not take the command's output, in the running
// command's log when its configuration was loaded, else as usage errors are reported.
func (m *cli) outputLost(err error) {
	name := m.name
	if name == "" && len(m.args) > 0 && !strings.HasPrefix(m.args[0], "-") {
		name = m.args[0]
	}
	json := jsonLogs(earlyLogFormat(rawLogFormat(m.args)), isTerminal(m.stderr))
	if m.log != nil {
		_, json = m.log.Handler().(*slog.JSONHandler)
	}
	fatal(m.stderr, json, m.log, name, fmt.Errorf("standard output did not take the command's output, which is incomplete: %w", err), exitFailure)
}

// Main runs chatvault with args (without the program name) and returns the exit code:
// 0 ok, 1 failure, 2 bad usage or configuration, 3 sealed but records were quarantined.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	out := &outputWriter{w: stdout}
	m := &cli{ctx: ctx, stdout: out, stderr: stderr, args: args}
	// A report, listing, key or export that did not reach stdout (a full disk, /dev/full,
	// a broken pipe) is a failure when the command would exit 0: status, verify,
	// audit, gen and the rest printed into nothing and exited 0, as if a script had its
	// output. Commands that check their writes fail on their own; this catches the rest.
	defer func() {
		switch {
		case out.err == nil:
		case code == exitOK || code == exitUsage && m.outputFailed:
			m.outputLost(out.err)
			code = exitFailure
		case code == exitQuarantined && m.log != nil:
			// The run sealed, and 3 says so; its summary is what is lost.
			m.log.Warn("standard output did not take the run's summary, which is incomplete (the day is sealed: see chatvault status)", "err", out.err.Error())
		}
	}()
	// A panic is a bug, a failure like any other: uncaught, the Go runtime exits 2, the
	// code of bad usage or configuration, on which the Kubernetes Jobs fail at once
	// instead of retrying. Only this goroutine's panics reach here; the goroutines a
	// command starts make theirs an error of their work (internal/panics).
	defer func() {
		if v := recover(); v != nil {
			code = m.panicked(v, debug.Stack())
		}
	}()
	root := m.root()
	if len(args) == 0 {
		printUsage(stdout, root)
		return exitUsage
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && out.err != nil && errors.Is(err, out.err) {
		// completion's script or --version's line that could not be written is not bad
		// usage (2, on which systemd does not restart): the deferred check reports it.
		m.outputFailed = true
		return exitUsage
	}
	if err != nil {
		return m.usageFailure(root, cmd, err)
	}
	return m.code
}

// root builds the command tree: one cobra command per registered command, plus help,
// completion and version.
func (m *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "chatvault",
		Short: "seal each UTC day of a chat event log into a write-once compliance archive",
		Long: "chatvault seals each UTC day of a chat event log into a write-once compliance archive.\n\n" +
			"Every command takes --config FILE; every setting can also be given as the environment\n" +
			"variable CHATVAULT_ and its key's path upper-cased, dots as underscores. Exit codes:\n" +
			"0 ok, 1 failure, 2 bad usage or configuration, 3 sealed but records were quarantined.",
		Version:           version,
		SilenceErrors:     true, // Main reports errors itself, in the log's format
		SilenceUsage:      true,
		DisableAutoGenTag: true, // the checked-in reference must not change with the date
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	helpFlag(root.Flags())
	root.Flags().Bool("version", false, "print chatvault's version")
	root.SetOut(m.stdout)
	root.SetErr(m.stderr)
	root.SetVersionTemplate("chatvault {{.Version}}\n")
	root.SetHelpFunc(m.help)
	root.SetUsageFunc(func(c *cobra.Command) error { printCommandUsage(m.stderr, c); return nil })
	root.SetHelpCommand(m.helpCommand(root))
	for _, c := range commands {
		root.AddCommand(m.command(c))
	}
	root.AddCommand(completionCommand(root), versionCommand())
	return root
}

// command turns a registered command into a cobra command: its own flag set holds
// --config, the shared settings' flags (config.BindFlags) and the command's flags, in that
// order, as `chatvault CMD --help` lists them.
func (m *cli) command(c *command) *cobra.Command {
	cc := &cobra.Command{
		Use:       strings.TrimSpace(c.name + " " + c.usage),
		Short:     c.summary,
		ValidArgs: c.args,
		Args:      noArgs,
		RunE: func(cc *cobra.Command, _ []string) error {
			m.name = c.name
			m.code = m.run(c, cc.Flags())
			return nil
		},
	}
	if c.subArgs {
		cc.Args = cobra.ArbitraryArgs
	}
	fs := cc.Flags()
	fs.SortFlags = false
	helpFlag(fs)
	config.BindFlags(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	for name, values := range flagValues {
		// --date takes yesterday and today where its usage says so (rangeFlags, export);
		// gen's takes a date only.
		if f := fs.Lookup(name); f != nil && (name != "date" || strings.Contains(f.Usage, "yesterday")) {
			_ = cc.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	return cc
}

// flagValues are the words shell completion offers for the flags that take one of a few.
var flagValues = map[string][]cobra.Completion{
	"log-format": {"auto", "text", "json"},
	"log-level":  {"debug", "info", "warn", "error"},
	"date":       {"yesterday", "today"},
}

// helpFlag defines -h/--help before cobra would, hidden so that the flags a command lists
// are its own, as before cobra.
func helpFlag(fs *pflag.FlagSet) {
	fs.BoolP("help", "h", false, "show this help")
	_ = fs.MarkHidden("help")
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	return nil
}

// run loads the configuration from the parsed flags, the environment and the file, and
// runs c.
func (m *cli) run(c *command, fs *pflag.FlagSet) int {
	cfg, err := config.Load("", fs)
	if err != nil {
		format, _ := fs.GetString("log-format")
		json := jsonLogs(earlyLogFormat(format, fs.Changed("log-format")), isTerminal(m.stderr))
		fatal(m.stderr, json, nil, c.name, err, exitUsage)
		return exitUsage
	}
	terminal := isTerminal(m.stderr)
	e := &env{cfg: cfg, stdout: m.stdout, stderr: m.stderr}
	e.interrupted = func() error {
		if m.ctx.Err() == nil {
			return nil
		}
		return context.Cause(m.ctx)
	}
	e.json = jsonLogs(cfg.Log.Format, terminal)
	e.tty = terminal && !e.json
	e.log = newLogger(cfg.Log.SlogLevel(), e.json, m.stderr)
	m.log = e.log
	for _, o := range cfg.Overrides {
		e.log.Warn("configuration file value overridden by the environment", "key", o.Key, "file", o.File, "env", o.Env)
	}
	for _, v := range cfg.EnvTypos {
		e.log.Warn("environment variable sets no configuration key; it is ignored", "env", v.Var, "meant", v.Meant)
	}
	for _, k := range cfg.Defaulted {
		wd, _ := os.Getwd()
		v := map[string]string{"eventlog": cfg.EventLog, "store": cfg.Store}[k]
		e.log.Warn("not set in the configuration file, the environment or a flag: the sample's default is used", "key", k, "value", v, "workingDirectory", wd)
	}
	return c.run(m.ctx, e, fs)
}

// usageFailure reports an error cobra returned (an unknown command, a bad flag, a stray
// argument) and returns exit code 2. The configuration is not loaded yet, so the log
// format is --log-format as written, or CHATVAULT_LOG_FORMAT, or auto.
func (m *cli) usageFailure(root, cmd *cobra.Command, err error) int {
	json := jsonLogs(earlyLogFormat(rawLogFormat(m.args)), isTerminal(m.stderr))
	name := ""
	if cmd != nil && cmd != root {
		name = strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")
	}
	if word, ok := unknownCommand(err); ok && name == "" {
		hint := "see chatvault help"
		if s := root.SuggestionsFor(word); len(s) > 0 {
			hint += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		err = fmt.Errorf("unknown command %q (%s)", word, hint)
	}
	fatal(m.stderr, json, nil, name, err, exitUsage)
	return exitUsage
}

// panicked reports a panic that reached Main, with its stack, and returns exit code 1:
// in the command's log when its configuration was loaded, else in the format usage
// errors are reported in. A plain text log gets the stack as Go prints it, to be read.
func (m *cli) panicked(v any, stack []byte) int {
	name := "chatvault"
	if m.name != "" {
		name += " " + m.name
	}
	err := fmt.Sprintf("panic: %v", v)
	json := jsonLogs(earlyLogFormat(rawLogFormat(m.args)), isTerminal(m.stderr))
	if m.log != nil {
		_, json = m.log.Handler().(*slog.JSONHandler)
	}
	if !json {
		fmt.Fprintf(m.stderr, "%s: %s (a bug in chatvault)\n\n%s", name, err, stack)
		return exitFailure
	}
	log := m.log
	if log == nil {
		log = newLogger(slog.LevelInfo, true, m.stderr)
	}
	log.LogAttrs(context.Background(), slog.LevelError, "command failed: a bug in chatvault",
		slog.String("command", name), slog.String("err", err), slog.String("stack", string(stack)), slog.Int("exitCode", exitFailure))
	return exitFailure
}

// unknownCommand returns the word of cobra's `unknown command "WORD" for "chatvault"`.
func unknownCommand(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "unknown command ")
	if !ok {
		return "", false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	word, err := strconv.Unquote(q)
	return word, err == nil
}

// earlyLogFormat is the log format before the configuration is loaded: the flag's value
// when it was given, else $CHATVAULT_LOG_FORMAT, else auto.
func earlyLogFormat(flag string, given bool) string {
	if given {
		return strings.ToLower(flag)
	}
	if v := os.Getenv(config.EnvVar("log.format")); v != "" {
		return strings.ToLower(v)
	}
	return "auto"
}

// rawLogFormat finds --log-format in args that did not parse.
func rawLogFormat(args []string) (string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--log-format="); ok {
			return v, true
		}
		if a == "--log-format" && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// help is the -h/--help of every command: the overview for chatvault itself on stdout, a
// command's usage on stderr, as before cobra.
func (m *cli) help(c *cobra.Command, _ []string) {
	if !c.HasParent() {
		printUsage(m.stdout, c)
		return
	}
	printCommandUsage(m.stderr, c)
}

// helpCommand is `chatvault help [command]`, printing on stdout.
func (m *cli) helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "show the commands, or a command's usage and flags",
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			if len(args) == 0 {
				for _, c := range root.Commands() {
					if c.IsAvailableCommand() {
						names = append(names, cobra.CompletionWithDesc(c.Name(), c.Short))
					}
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				printUsage(m.stdout, root)
				return nil
			}
			c, rest, err := root.Find(args)
			if err != nil || c == root || len(rest) > 0 {
				return fmt.Errorf("no command %q (see chatvault help)", strings.Join(args, " "))
			}
			printCommandUsage(m.stdout, c)
			return nil
		},
	}
}

// printUsage is the overview: every command with its summary, and the exit codes.
func printUsage(w io.Writer, root *cobra.Command) {
	fmt.Fprintln(w, "chatvault seals each UTC day of a chat event log into a write-once compliance archive.")
	fmt.Fprintln(w, "\nusage: chatvault <command> [flags]\n\ncommands:")
	width := 0
	for _, c := range root.Commands() {
		width = max(width, len(c.Name()))
	}
	for _, c := range root.Commands() { // sorted by name
		if c.IsAvailableCommand() {
			fmt.Fprintf(w, "  %-*s %s\n", width, c.Name(), c.Short)
		}
	}
	fmt.Fprintln(w, "\nRun chatvault <command> --help for its flags. Exit codes: 0 ok, 1 failure,")
	fmt.Fprintln(w, "2 bad usage or configuration, 3 sealed but records were quarantined.")
}

// printCommandUsage is one command's usage: its forms, summary and flags.
func printCommandUsage(w io.Writer, c *cobra.Command) {
	use := strings.TrimPrefix(c.Use, c.Name())
	fmt.Fprintf(w, "usage: %s%s\n\n%s\n", c.CommandPath(), use, c.Short)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", c.Long)
	}
	if fl := c.LocalFlags().FlagUsages(); fl != "" {
		fmt.Fprintf(w, "\nflags:\n%s", fl)
	}
}

// completionCommand prints the shell completion script cobra generates for the tree.
func completionCommand(root *cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "print the shell completion script for bash, zsh or fish",
		Long: "Load it in the current shell, or install it once:\n\n" +
			"    bash:  source <(chatvault completion bash)\n" +
			"           chatvault completion bash > /etc/bash_completion.d/chatvault\n" +
			"    zsh:   chatvault completion zsh > \"${fpath[1]}/_chatvault\"   # with compinit\n" +
			"    fish:  chatvault completion fish > ~/.config/fish/completions/chatvault.fish",
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(c *cobra.Command, args []string) error {
			w := c.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			}
			return errors.New("unreachable: Args checked the shell")
		},
	}
	helpFlag(c.Flags())
	return c
}

func versionCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "version",
		Short: "print chatvault's version (also --version)",
		Args:  noArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintln(c.OutOrStdout(), "chatvault", version)
		},
	}
	helpFlag(c.Flags())
	return c
}
