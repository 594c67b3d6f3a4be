package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/promtool"
)

// rulesDir holds the alerting rules and their unit tests.
const rulesDir = "prometheus"

// TestPrometheusRules: promtool check rules finds hostdrift.rules.yml valid
// and promtool test rules passes its unit tests, which look at every alert
// at least three times (not firing, firing, resolved).
func TestPrometheusRules(t *testing.T) {
	promtool.Run(t, rulesDir, "check", "rules", "hostdrift.rules.yml")
	promtool.Run(t, rulesDir, "test", "rules", "hostdrift.rules_test.yml")

	rules, err := os.ReadFile(filepath.Join(rulesDir, "hostdrift.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(rulesDir, "hostdrift.rules_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\w+)$`).FindAllSubmatch(rules, -1)
	if len(alerts) != 6 {
		t.Errorf("%d alerts in hostdrift.rules.yml, want 6", len(alerts))
	}
	for _, m := range alerts {
		name := string(m[1])
		seen := regexp.MustCompile(`(?m)^\s*alertname: `+name+`$`).FindAll(tests, -1)
		firing := regexp.MustCompile(`(?m)^\s*alertname: `+name+`\n\s*exp_alerts:\n\s*- exp_labels:`).FindAll(tests, -1)
		if len(seen) < 3 || len(firing) == 0 || len(firing) == len(seen) {
			t.Errorf("%s: looked at %d times, %d firing: the unit tests must see it not firing, firing and resolved", name, len(seen), len(firing))
		}
	}
}
