package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// acceptOutput is a firewall whose output chain accepts everything.
func acceptOutput() *snapshot.Firewall {
	fw := dropOutput()
	fw.Tables[0].Chains[0].Policy = "accept"
	return fw
}

// momentSnapshot is a snapshot whose firewall allows everything out and
// whose probes recorded result, the probes read at probesAt and the
// firewall at firewallAt, each reading taking 100 ms (zero times: not
// recorded, as in a snapshot of an older hostdrift).
func momentSnapshot(result snapshot.ProbeResult, probesAt, firewallAt time.Time) *snapshot.Snapshot {
	s := probeSnapshot(result)
	s.Firewall = acceptOutput()
	s.Collectors = append(s.Collectors, snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusOK, DurationMS: 100, StartedAt: firewallAt})
	for i := range s.Collectors {
		if s.Collectors[i].Name == "probes" {
			s.Collectors[i].StartedAt, s.Collectors[i].DurationMS = probesAt, 100
		}
	}
	return s
}

// TestStaleProbeNeverBlamesUpstream: a probe made before the firewall was
// read went through another ruleset. Set against the new one (which allows
// the connection), it must never yield "the block is further out" (or
// "confirmed"): the finding says the probe predates the ruleset. Probes of
// the same reading as the firewall, or without recorded times, are judged
// as before.
func TestStaleProbeNeverBlamesUpstream(t *testing.T) {
	smtp := snapshot.ProbeTarget{TCP: "192.0.2.25:587", TimeoutMS: 3000}
	timedOut := snapshot.ProbeResult{Target: smtp, Addr: "192.0.2.25:587", Failure: snapshot.ProbeTimeout, Error: "connect to 192.0.2.25:587: no answer within 3s"}
	connected := snapshot.ProbeResult{Target: smtp, Addr: "192.0.2.25:587", Connected: true, ConnectMS: 0.4}
	egress := `egress "smtp" {
  port    = 587
  to      = "192.0.2.25"
  confirm = true
}`
	probe := `probe "smtp" {
  tcp = "192.0.2.25:587"
}`
	fwRead := probeTime
	before := fwRead.Add(-time.Minute)          // the probes ended long before the firewall was read
	after := fwRead.Add(200 * time.Millisecond) // the probes ran after the firewall, in the same survey
	var never time.Time
	cases := []struct {
		name, src        string
		result           snapshot.ProbeResult
		probesAt, fwAt   time.Time
		status           finding.Status
		want, wantAbsent []string
	}{
		{"egress, probe of the same reading", egress, timedOut, after, fwRead, finding.Fail,
			[]string{"the block is likely further out"}, nil},
		{"egress, times not recorded", egress, timedOut, never, never, finding.Fail,
			[]string{"the block is likely further out"}, nil},
		{"egress, probe older than the ruleset", egress, timedOut, before, fwRead, finding.Error,
			[]string{"cannot confirm", "no answer", "before the firewall was read again", "earlier ruleset"}, []string{"further out", "upstream"}},
		{"egress, connected, older than the ruleset", egress, connected, before, fwRead, finding.Error,
			[]string{"cannot confirm", "connected", "earlier ruleset"}, []string{"confirmed:"}},
		{"probe, of the same reading", probe, timedOut, after, fwRead, finding.Fail,
			[]string{"so the block is likely upstream"}, nil},
		{"probe, older than the ruleset", probe, timedOut, before, fwRead, finding.Fail,
			[]string{"no answer within 3s", "earlier ruleset", "what the firewall did to it is not known"}, []string{"upstream", "the local firewall allows it"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := plan(t, c.src).Evaluate(momentSnapshot(c.result, c.probesAt, c.fwAt), probeTime)[0]
			if f.Status != c.status {
				t.Errorf("status %s, want %s: %s", f.Status, c.status, f.Explanation)
			}
			text := f.Observed + " | " + f.Explanation + " | " + f.Remediation
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q\nlacks %q", text, w)
				}
			}
			for _, w := range c.wantAbsent {
				if strings.Contains(text, w) {
					t.Errorf("%q\nsays %q", text, w)
				}
			}
		})
	}
}
