// Package promtool runs Prometheus's promtool (Debian's prometheus
// package) from tests: the metrics linter and the rules checker and tester.
package promtool

import (
	"bytes"
	"os/exec"
	"strings"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// CheckMetrics fails the test unless `promtool check metrics` finds text,
// a scrape in the text exposition format, clean: it parses, and every family
// has help, a type its name agrees with (a counter ends in _total, nothing
// else does) and base units. Without promtool the test skips (fails under
// HOSTDRIFT_TEST_STRICT=1).
func CheckMetrics(t nstest.TB, what, text string) {
	t.Helper()
	nstest.RequireCommand(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics on %s: %v\n%s", what, err, out.String())
	} else if s := strings.TrimSpace(out.String()); s != "" {
		t.Errorf("promtool check metrics on %s has remarks:\n%s", what, s)
	}
}

// Run runs promtool with args in dir and fails the test, with its output,
// unless it exits 0; it returns the output.
func Run(t nstest.TB, dir string, args ...string) string {
	t.Helper()
	nstest.RequireCommand(t, "promtool")
	cmd := exec.Command("promtool", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
