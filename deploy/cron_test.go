package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestCronFile runs the job line of deploy/cron/chatvault the way cron does (SHELL=/bin/sh
// -c, the line's command), with the binary the Dockerfile's steps build in place of
// /usr/local/bin/chatvault and a configuration on the sample event log: the first run
// seals the sample day and quarantines its bad records (exit 3), so its output is printed
// for cron to mail; the next run has nothing to do (exit 0) and prints nothing, so an
// hourly job mails only when there is something to read. The schedule must fire at least
// hourly (see TestRunTimerHourly).
func TestCronFile(t *testing.T) {
	clearConfigEnv(t)
	b, err := os.ReadFile("cron/chatvault")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	var job []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, " \t") {
			env[k] = v
			continue
		}
		if job != nil {
			t.Fatalf("more than one job line: %q", line)
		}
		// cron.d: five time fields, the user, then the command (the rest of the line).
		job = strings.SplitN(strings.Join(strings.Fields(line), " "), " ", 7)
	}
	if len(job) != 7 {
		t.Fatalf("no job line with five time fields, a user and a command: %q", job)
	}
	if env["SHELL"] != "/bin/sh" {
		t.Errorf("SHELL=%q: want /bin/sh, which the command is written for", env["SHELL"])
	}
	if job[5] != "chatvault" {
		t.Errorf("the job runs as %q, want the chatvault user (deploy/systemd/chatvault.sysusers)", job[5])
	}
	sched, err := cron.ParseStandard(strings.Join(job[:5], " "))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 0, 0, 0, 0, time.Local)
	for i := 0; i < 48; i++ {
		next := sched.Next(at)
		if gap := next.Sub(at); gap > time.Hour {
			t.Fatalf("%q leaves %s between runs after %s: want at most 1h", strings.Join(job[:5], " "), gap, at)
		}
		at = next
	}

	command := job[6]
	const bin, conf = "/usr/local/bin/chatvault", "/etc/chatvault/chatvault.yaml"
	if !strings.Contains(command, bin+" run") || !strings.Contains(command, "--config "+conf) {
		t.Fatalf("the command %q does not run %s run --config %s", command, bin, conf)
	}
	dir := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "chatvault.yaml")
	// The sample event log, with yesterday delivered as an empty, closed partition: a
	// producer that delivers. The sample alone has delivered nothing since 2026-11-22,
	// which a run reports as a stopped producer (exit 1, TestRunCatchUpProducerStopped).
	logDir := filepath.Join(dir, "eventlog")
	if err := os.CopyFS(logDir, os.DirFS(filepath.Join(repo, "testdata", "eventlog"))); err != nil {
		t.Fatal(err)
	}
	yesterday := filepath.Join(logDir, time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly))
	if err := os.MkdirAll(yesterday, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(yesterday, "_CLOSED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "eventlog: " + logDir + "\nstore: " + filepath.Join(dir, "archive") + "\n"
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	command = strings.ReplaceAll(strings.ReplaceAll(command, bin, dockerBuild(t)), conf, config)
	run := func() (string, error) {
		cmd := exec.Command(env["SHELL"], "-c", command)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil || !strings.Contains(out, "sealed 2026-11-22") || !strings.Contains(out, "quarantined") {
		t.Fatalf("first run (seals the sample day, quarantines its bad records, exit 3): %v, printed %q; want its output printed for cron to mail", err, out)
	}
	out, err = run()
	if err != nil || out != "" {
		t.Fatalf("second run (nothing to do, exit 0): %v, printed %q; want nothing, so cron mails nothing", err, out)
	}
	reliability.Record(t, "operations", "cron.d line for `chatvault run` (deploy/cron/chatvault)", reliability.Kept,
		"run by /bin/sh -c as cron runs it: hourly; a run that quarantined records (exit 3) prints its output for MAILTO, a run with nothing to do prints nothing")
}
