package prometheus_test

import (
	"testing"
)

// TestEveryRuleSeenFiring: a rule that no case of chatvault-alerts_test.yaml expects to
// fire may never fire (a misspelt series, a label matcher that matches nothing, a
// comparison the wrong way round), and the healthy-restart case, which only checks
// silence, passes either way. Four rules (ChatvaultPartitionMissing,
// ChatvaultAuditNotWritten, ChatvaultUnauthenticatedFlood, ChatvaultStoredObjectMismatch)
// had no such case; every rule, those added later too, must have one.
func TestEveryRuleSeenFiring(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "chatvault-alerts.yaml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "chatvault-alerts_test.yaml", &tests)
	fired := map[string]bool{}
	for _, g := range tests.Tests {
		for _, c := range g.AlertRuleTest {
			if len(c.ExpAlerts) > 0 {
				fired[c.Alertname] = true
			}
		}
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !fired[r.Alert] {
				t.Errorf("%s: no case of chatvault-alerts_test.yaml expects it to fire", r.Alert)
			}
		}
	}
}
