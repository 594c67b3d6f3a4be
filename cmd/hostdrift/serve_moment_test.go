package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// servedFinding reads check's finding from serve's /report.
func (s *servedAgent) servedFinding(check string) (finding.Finding, error) {
	code, body, err := s.get("/report")
	if err != nil {
		return finding.Finding{}, err
	}
	var r report.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return finding.Finding{}, fmt.Errorf("/report %d: not a report: %v", code, err)
	}
	for _, f := range r.Findings {
		if f.Check == check {
			return f, nil
		}
	}
	return finding.Finding{}, fmt.Errorf("/report has no finding %s", check)
}

// timings are the parts of an explanation that differ between two
// judgements of the same state: how long a connection took.
var timings = regexp.MustCompile(`[0-9]+(\.[0-9]+)? ?ms`)

// TestServeProbeOfOneMoment: serve starts while a drop rule stops the
// connection an egress check confirms with, so its first probe times out;
// then the rule is deleted. The firewall event must bring a new probe with
// it: /report never sets the old timeout against the new ruleset ("the
// block is further out"), and once serve is quiet it says what hostdrift
// check says of the same state. The far end is a second namespace.
func TestServeProbeOfOneMoment(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "nft")
	host, world := nstest.New(t), nstest.New(t)
	host.Run(t, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "w0", "netns", world.Name)
	host.Run(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "up0")
	host.Run(t, "ip", "link", "set", "up0", "up")
	world.Run(t, "ip", "addr", "add", "192.0.2.2/24", "dev", "w0")
	world.Run(t, "ip", "link", "set", "w0", "up")
	world.Listen(t, "serve:192.0.2.2:587:1")
	host.Run(t, "nft", "add table inet hdtest; add chain inet hdtest out { type filter hook output priority 0; }; add rule inet hdtest out ip daddr 192.0.2.2 tcp dport 587 drop")

	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	pol := policyFile(t, `
egress "smtp" {
  port    = 587
  to      = "192.0.2.2"
  confirm = true
  timeout = "500ms"
}
`)
	// The listening sockets are polled rarely: a probe made again because
	// a socket changed would hide a firewall event that brings none.
	s := startServe(t, host, nil, "--no-builtin", "--policy", pol, "--root", root, "--listeners-every", "10m")
	s.waitMetric(t, "egress while the rule drops it", checkStatusRE("egress.smtp", "fail"), time.Now(), 10*time.Second)
	if f, err := s.servedFinding("egress.smtp"); err != nil || !strings.Contains(f.Explanation, "drop") {
		t.Fatalf("at start: %v %+v, want a fail naming the drop rule", err, f)
	}

	start := time.Now()
	host.Run(t, "nft", "delete table inet hdtest")
	var served finding.Finding
	for {
		f, err := s.servedFinding("egress.smtp")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f.Explanation, "further out") || strings.Contains(f.Remediation, "whoever runs the network") {
			t.Fatalf("after the drop rule was deleted, /report blames the network with a probe from before:\n%s: %s\n%s", f.Status, f.Explanation, f.Remediation)
		}
		if f.Status == finding.Pass {
			served = f
			break
		}
		if time.Since(start) > eventDeadline+5*time.Second {
			t.Fatalf("egress.smtp is still %s after the rule was deleted: %s", f.Status, f.Explanation)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Quiet: the same state, judged by check.
	r, code := runJSON(t, host.Command(binary(t), "check", "--no-builtin", "--policy", pol, "--root", root, "--format", "json"))
	var checked finding.Finding
	for _, f := range r.Findings {
		if f.Check == "egress.smtp" {
			checked = f
		}
	}
	if code != exitOK || checked.Status != served.Status ||
		timings.ReplaceAllString(checked.Explanation, "") != timings.ReplaceAllString(served.Explanation, "") {
		t.Errorf("serve and check disagree on the same state:\nserve: %s: %s\ncheck (exit %d): %s: %s", served.Status, served.Explanation, code, checked.Status, checked.Explanation)
	}
}
