package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
	"go.yaml.in/yaml/v3"
)

// TestCronJobCommandSeals takes the container command line of the shipped CronJob
// (deploy/kubernetes/cronjob.yaml) and runs it: it must need no shell (the image has
// none, and BusyBox's date knows no "yesterday") and, with only its config file swapped
// for a test one, seal the days due.
func TestCronJobCommandSeals(t *testing.T) {
	cleanEnv(t)
	b, err := os.ReadFile("../../deploy/kubernetes/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cj struct {
		Kind string
		Spec struct {
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Image   string
								Command []string
								Args    []string
							}
						}
					}
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		}
	}
	if err := yaml.Unmarshal(b, &cj); err != nil {
		t.Fatal(err)
	}
	cs := cj.Spec.JobTemplate.Spec.Template.Spec.Containers
	if cj.Kind != "CronJob" || len(cs) != 1 {
		t.Fatalf("kind %q with %d containers, want a CronJob with one", cj.Kind, len(cs))
	}
	c := cs[0]
	if len(c.Command) != 0 {
		t.Fatalf("the container overrides the image's ENTRYPOINT with %q: the image has no shell", c.Command)
	}
	for _, a := range c.Args {
		if strings.ContainsAny(a, "$`;|&") {
			t.Fatalf("argument %q needs a shell", a)
		}
	}
	i := slices.Index(c.Args, "--config")
	if len(c.Args) == 0 || c.Args[0] != "run" || i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %q: want run --config FILE", c.Args)
	}

	setRunClock(t, "2026-11-23T00:30:00Z")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "chatvault.yaml")
	eventlog, err := filepath.Abs("../../testdata/eventlog")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("eventlog: "+eventlog+"\nstore: "+filepath.Join(dir, "archive")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := slices.Clone(c.Args)
	args[i+1] = cfg
	code, out, errOut := chatvault(t, args...)
	if code != exitQuarantined || !strings.Contains(out, "sealed 2026-11-22") {
		t.Fatalf("%q: exit %d, want %d sealing 2026-11-22\n%s%s", args, code, exitQuarantined, out, errOut)
	}
	reliability.Record(t, "input", "the shipped CronJob's command line (no shell, BusyBox or distroless)", reliability.Recovered,
		"`chatvault run --config FILE` with no shell or date arithmetic seals the days due (here 2026-11-22 on 2026-11-23)")
}
