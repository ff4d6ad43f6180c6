// Package prometheus_test runs the alert rules' unit tests with promtool from go test, so
// that what they show is recorded with the other reliability rows, and checks that a
// healthy restart fires none of the rules, including rules added after the test was
// written.
package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chatvault/chatvault/internal/reliability"
	"go.yaml.in/yaml/v3"
)

// promtool returns promtool's path: make test installs it first (scripts/promtool.sh).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if testing.Short() {
			t.Skip("promtool not installed (scripts/promtool.sh installs it)")
		}
		t.Fatalf("promtool not installed: run scripts/promtool.sh (make test does): %v", err)
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %q: %v\n%s", args, err, out)
	}
}

// TestAlertRules runs chatvault-alerts_test.yaml: each case's series and the alerts
// expected of them.
func TestAlertRules(t *testing.T) {
	runPromtool(t, "check", "rules", "chatvault-alerts.yaml")
	runPromtool(t, "test", "rules", "chatvault-alerts_test.yaml")
	for _, r := range []struct{ what, detail string }{
		{"an organization's day not sealed by its deadline, sealed by a CronJob (no scheduler in serve)",
			"ChatvaultDayNotSealed fires on the store's ledger (chatvault_first_unsealed_day_timestamp_seconds) once the ledger stops advancing, 6 hours after the day ended"},
		{"a failed seal, recorded in the store or counted by serve's scheduler after a restart",
			"ChatvaultDayFailed fires on chatvault_days_failed; ChatvaultSealFailures on the first failure after a restart, its counter being back at 0"},
		{"a seal that quarantined records", "ChatvaultRecordsQuarantined fires for a day after the seal, from the store's accounting objects"},
		{"the API failing: 5xx, serve down, the store's ledger unread",
			"ChatvaultHTTP5xx, ChatvaultDown (up 0 or no target for 5 minutes) and ChatvaultLedgerUnread fire"},
		{"a closed day without a partition, audit writes refused, a flood of bad tokens, a stored object that does not match",
			"ChatvaultPartitionMissing, ChatvaultAuditNotWritten, ChatvaultUnauthenticatedFlood and ChatvaultStoredObjectMismatch fire on their failure and not before (no case had seen them fire)"},
		{"S3 throttling (503 SlowDown) sustained for 15 minutes, or a short burst",
			"ChatvaultS3Throttled fires on chatvault_s3_throttled_retries_total 15 minutes into sustained throttling and stops once the retries stop; a 5-minute burst, a flat counter and a restart fire nothing"},
	} {
		reliability.Record(t, "operations", r.what, reliability.Kept, r.detail+" (promtool test rules)")
	}
}

// TestHealthyRestartFiresNoRule takes the healthy-restart case of the rules' tests (the
// group whose every expectation is "no alert") and asks, at each of its times, every
// rule of chatvault-alerts.yaml, so that a rule added later is held to it too.
func TestHealthyRestartFiresNoRule(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "chatvault-alerts.yaml", &rules)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}

	var tests map[string]any
	readYAML(t, "chatvault-alerts_test.yaml", &tests)
	groups, _ := tests["tests"].([]any)
	var restart map[string]any
	most := 0
	for _, g := range groups {
		g, _ := g.(map[string]any)
		cases, _ := g["alert_rule_test"].([]any)
		quiet := len(cases) > 0
		for _, c := range cases {
			c, _ := c.(map[string]any)
			if exp, _ := c["exp_alerts"].([]any); len(exp) > 0 {
				quiet = false
			}
		}
		if quiet && len(cases) > most {
			restart, most = g, len(cases)
		}
	}
	if restart == nil {
		t.Fatal("no test group where no alert fires (the healthy restart)")
	}
	var times []string
	for _, c := range restart["alert_rule_test"].([]any) {
		if at, _ := c.(map[string]any)["eval_time"].(string); !slices.Contains(times, at) {
			times = append(times, at)
		}
	}
	var cases []any
	for _, at := range times {
		for _, a := range alerts {
			cases = append(cases, map[string]any{"eval_time": at, "alertname": a, "exp_alerts": []any{}})
		}
	}
	restart["alert_rule_test"] = cases
	rulesPath, err := filepath.Abs("chatvault-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests["rule_files"] = []any{rulesPath}
	tests["tests"] = []any{restart}
	b, err := yaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restart_test.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "test", "rules", path)
	reliability.Record(t, "operations", "a healthy serve restarted (process counters back at 0, gauges re-read from the store)", reliability.Kept,
		"none of the alert rules fires before, during or after the restart (every rule of chatvault-alerts.yaml, at each time of the case)")
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
