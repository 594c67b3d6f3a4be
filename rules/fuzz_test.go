package rules_test

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report/diagtext"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

// FuzzPolicy loads and compiles policy text as `policy validate` does (no
// host) and as `check` does (a fixture host), prints the diagnostics with
// their source lines, and evaluates whatever compiles against a fixture
// snapshot. Diagnostics are fine; a panic, a diagnostic without a summary,
// or a check whose evaluation panicked (the engine turns that into an
// "internal error" finding) is not.
func FuzzPolicy(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "policies", dir, "*.hcl"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	defaults, err := policies.Default()
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range defaults {
		f.Add(string(d.Text))
	}
	f.Add(`egress "smtp" {
  protocol = "tcp"
  port     = 587
  to       = "203.0.113.9"
}
ingress "ssh" {
  protocol = "tcp"
  port     = 22
}
ignore "docker-chains" {
  area  = "firewall"
  kind  = "rule"
  match = { chain = "DOCKER*" }
}
drift {
  severity = { firewall = "critical", listeners = "info" }
}
`)
	snap := fuzzSnapshot()
	now := time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		src := []rules.Source{{Name: "fuzz.hcl", Text: []byte(text)}}
		p, diags := rules.Load(src)
		_, more := p.Compile(nil, nil)
		diags = append(diags, more...)
		plan, more := p.Compile(&snap.Host, nil)
		if (plan == nil) != more.HasErrors() {
			t.Fatalf("plan %v with diagnostics %v", plan != nil, more)
		}
		diags = append(diags, more...)
		checkDiagnostics(t, diags)
		diagtext.Write(io.Discard, map[string][]byte{"fuzz.hcl": []byte(text)}, diags)
		if plan == nil {
			return
		}
		plan.Wants()
		plan.Needs()
		checkFindings(t, plan, plan.Evaluate(snap, now))
	})
}

func checkDiagnostics(t *testing.T, diags hcl.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		if strings.TrimSpace(d.Summary) == "" {
			t.Fatalf("diagnostic without a summary: %+v", d)
		}
	}
}

// checkFindings asserts one finding per check (a disabled one's a skip that
// says so), each with a known status, and none from a check that panicked.
func checkFindings(t *testing.T, plan *rules.Plan, fs []finding.Finding) {
	t.Helper()
	if len(fs) != len(plan.Checks)+len(plan.Disabled) {
		t.Fatalf("%d findings for %d checks and %d disabled", len(fs), len(plan.Checks), len(plan.Disabled))
	}
	for _, f := range fs {
		switch {
		case f.Status == finding.Pass, f.Status == finding.Fail, f.Status == finding.Error, f.Status == finding.Waived:
		case f.Status == finding.Skip && strings.HasPrefix(f.Explanation, "Disabled by "):
		default:
			t.Fatalf("%s: status %q", f.Check, f.Status)
		}
		if strings.Contains(f.Explanation, "internal error while evaluating") {
			t.Fatalf("%s panicked: %s", f.Check, f.Explanation)
		}
	}
}

// fuzzSnapshot is a host with every collector's data: listeners, a UFW
// firewall, DNS answers and a probe.
func fuzzSnapshot() *snapshot.Snapshot {
	s := listenerSnapshot(
		sock("tcp", "0.0.0.0", 443, nginx), sock("tcp", "::", 80, nginx), sock("udp", "127.0.0.53", 53, nil),
		sock("tcp", "0.0.0.0", 6379, redis), sock("tcp", "127.0.0.1", 8080, py), sock("tcp", "198.51.100.7", 25, exim))
	s.Collectors = append(s.Collectors,
		snapshot.CollectorStatus{Name: "host", Status: snapshot.StatusOK},
		snapshot.CollectorStatus{Name: "firewall", Status: snapshot.StatusOK},
		snapshot.CollectorStatus{Name: "dns", Status: snapshot.StatusOK},
		snapshot.CollectorStatus{Name: "probes", Status: snapshot.StatusPartial, Reason: "one probe timed out"})
	s.Firewall = ufwDenyOutgoing()
	s.DNS = &snapshot.DNS{Resolvers: []string{"127.0.0.53:53"}, TimeoutMS: 2000, Attempts: 2,
		Hosts: []snapshot.HostsEntry{{Line: 2, IP: netip.MustParseAddr("127.0.1.1"), Names: []string{"web1.example.com", "web1"}}},
		Queries: []snapshot.DNSResult{
			answer("web1.example.com", "A", "", "127.0.0.53", 300, "198.51.100.7"),
			answer("web1.example.com", "AAAA", "", "127.0.0.53", 300, "2001:db8::8"),
		}}
	s.Probes = &snapshot.Probes{Results: []snapshot.ProbeResult{{
		Target: snapshot.ProbeTarget{URL: "https://web1.example.com/", TimeoutMS: 2000}, Addr: "198.51.100.7:443",
		Connected: false, Failure: snapshot.ProbeTimeout, Error: "i/o timeout", DurationMS: 2000,
	}}}
	return s
}
