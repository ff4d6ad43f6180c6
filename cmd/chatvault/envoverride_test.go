package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
)

// TestEnvOverridingTheFileIsLogged: chatvault.service sets
// CHATVAULT_HTTP_METRICSADDR=127.0.0.1:9090 and CHATVAULT_LOG_FORMAT=json in the unit, and
// an environment variable beats the file. An operator who sets http.metricsAddr (or
// log.format, or the store) in /etc/chatvault/chatvault.yaml saw the file's value ignored
// without a word. Every key the file sets that an environment variable overrides with
// another value is now logged (a warning naming the key, the file and the variable); the
// same value, or a flag (written on the command line itself), is not.
func TestEnvOverridingTheFileIsLogged(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "chatvault.yaml")
	store := filepath.Join(dir, "archive")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("eventlog: ../../testdata/eventlog\nstore: "+store+
		"\nhttp:\n  metricsAddr: 10.0.0.5:9090\nlog:\n  level: info\n  format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CHATVAULT_HTTP_METRICSADDR", "127.0.0.1:9090") // as chatvault.service sets it
	t.Setenv("CHATVAULT_LOG_FORMAT", "json")                 // the same value: nothing to say
	t.Setenv("CHATVAULT_EXPORT_WORKERS", "2")                // not in the file: nothing to say
	t.Setenv("CHATVAULT_EXPORTS_SORTMEMORY", "1GiB")         // misspelt: sets nothing

	code, _, errOut := chatvault(t, "status", "--config", cfg, "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22", "--log-level", "warn")
	if code != exitOK {
		t.Fatalf("status exit %d\n%s", code, errOut)
	}
	var warned []string
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if strings.Contains(l, "overrid") {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"key":"http.metricsAddr"`) ||
		!strings.Contains(warned[0], "CHATVAULT_HTTP_METRICSADDR") || !strings.Contains(warned[0], cfg) ||
		!strings.Contains(warned[0], `"level":"WARN"`) {
		t.Fatalf("want one warning naming http.metricsAddr, the file and CHATVAULT_HTTP_METRICSADDR; stderr:\n%s", errOut)
	}
	if !strings.Contains(errOut, `"msg":"environment variable sets no configuration key; it is ignored","env":"CHATVAULT_EXPORTS_SORTMEMORY","meant":"CHATVAULT_EXPORT_SORTMEMORY"`) {
		t.Fatalf("no warning names the misspelt CHATVAULT_EXPORTS_SORTMEMORY; stderr:\n%s", errOut)
	}
	reliability.Record(t, "operations", "a misspelt CHATVAULT_ variable (CHATVAULT_EXPORTS_SORTMEMORY, CHATVAULT_HTTP_METRICS_ADDR)", reliability.Kept,
		"every command logs a warning naming it and the variable meant; it was ignored without a word (an unknown key in the file was already an error)")
	reliability.Record(t, "operations", "an environment variable overriding a key the configuration file sets (chatvault.service's CHATVAULT_HTTP_METRICSADDR)", reliability.Kept,
		"the environment still wins, and every command logs a warning naming the key, the file and the variable (not when both say the same); the file's value was ignored without a word")
}

// TestDefaultedLocationIsLogged: a configuration file without store: (a line lost in an
// edit) sealed into ./archive of the working directory, the home folder under cron,
// without a word; every command now warns, naming the key, the value and the directory.
func TestDefaultedLocationIsLogged(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "chatvault.yaml")
	if err := os.WriteFile(cfg, []byte("eventlog: ../../testdata/eventlog\nlog:\n  format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, errOut := chatvault(t, "status", "--config", cfg, "--org", acme, "--from", "2026-11-22", "--to", "2026-11-22")
	wd, _ := os.Getwd()
	if !strings.Contains(errOut, `"level":"WARN","msg":"not set in the configuration file, the environment or a flag: the sample's default is used","key":"store","value":"./archive","workingDirectory":"`+wd+`"`) ||
		strings.Contains(errOut, `"key":"eventlog"`) {
		t.Fatalf("want one warning naming store, ./archive and the working directory:\n%s", errOut)
	}
	reliability.Record(t, "operations", "a configuration file that leaves store (or eventlog) out", reliability.Kept,
		"the sample's default (./archive, the sample event log) is still used, and every command warns naming the key, the value and the working directory; it sealed into ./archive of the working directory without a word")
}
