package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func sample() *Report {
	s := &snapshot.Snapshot{Host: snapshot.Host{Hostname: "web1"}}
	return New(s, []finding.Finding{
		{Check: "listener.a", Status: finding.Pass, Severity: finding.Warning, Explanation: "ok"},
		{Check: "listener.b", Status: finding.Fail, Severity: finding.Warning, Explanation: "warning fail"},
		{Check: "listener.c", Status: finding.Error, Severity: finding.Critical, Explanation: "could not see"},
		{Check: "listener.d", Status: finding.Fail, Severity: finding.Critical, Explanation: "critical fail", Remediation: "do this"},
		{Check: "dns.e", Status: finding.Skip, Severity: finding.Critical, Explanation: "no FQDN here"},
	}, nil, time.Unix(0, 0), time.Millisecond)
}

func TestOrderPutsTheUrgentFirst(t *testing.T) {
	var order []string
	for _, f := range sample().Findings {
		order = append(order, f.Check)
	}
	if got := strings.Join(order, " "); got != "listener.d listener.b listener.c dns.e listener.a" {
		t.Errorf("order %s", got)
	}
}

func TestTableColourOnlyWhenAsked(t *testing.T) {
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := Render(&b, "table", sample(), Options{Color: color, Width: 100}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.Contains(out, "\x1b[") != color {
			t.Errorf("color=%v: escape codes present=%v", color, !color)
		}
		for _, want := range []string{"critical fail", "→ do this", "could not see", "5 checks:", "0 waived, 1 skip, 1 pass", "1 checks do not apply to this host: --verbose says why"} {
			if !strings.Contains(out, want) {
				t.Errorf("color=%v: table lacks %q:\n%s", color, want, out)
			}
		}
		if strings.Contains(out, "listener.a") || strings.Contains(out, "no FQDN here") {
			t.Error("passing and skipped checks are listed only with Verbose")
		}
		for _, line := range strings.Split(out, "\n") {
			if !color && len([]rune(line)) > 100 {
				t.Errorf("line wider than 100: %q", line)
			}
		}
	}
}

// TestTableVerboseSaysWhySkipped: with Verbose, a skipped check is a row
// with its reason, and the hint to ask for it is gone.
func TestTableVerboseSaysWhySkipped(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, "table", sample(), Options{Width: 100, Verbose: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"SKIP", "no FQDN here", "listener.a"} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--verbose says why") {
		t.Errorf("verbose table still points at --verbose:\n%s", out)
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := Render(&bytes.Buffer{}, "xml", sample(), Options{}); err == nil || !strings.Contains(err.Error(), "json") {
		t.Errorf("err = %v, want one naming the known formats", err)
	}
}
