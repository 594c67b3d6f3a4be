package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/promtool"
)

func fullReport() *Report {
	s := &snapshot.Snapshot{Version: "1.2.3", Host: snapshot.Host{Hostname: "web1", FQDN: "web1.example.com"},
		Collectors: []snapshot.CollectorStatus{
			{Name: "listeners", Status: snapshot.StatusOK, DurationMS: 4},
			{Name: "firewall", Status: snapshot.StatusError, Reason: "not root", DurationMS: 1},
		}}
	return New(s, []finding.Finding{
		{Check: "listener.https", Kind: "listener", Status: finding.Pass, Severity: finding.Critical, Explanation: "0.0.0.0:443 listens"},
		{Check: "listener.redis", Kind: "listener", Status: finding.Fail, Severity: finding.Warning, Explanation: `0.0.0.0:6379 "redis" <listens> | & more`, Remediation: "bind to 127.0.0.1"},
		{Check: "egress.smtp", Kind: "egress", Status: finding.Error, Severity: finding.Critical, Explanation: "cannot evaluate: firewall collector failed"},
		{Check: "listener.mongo", Kind: "listener", Status: finding.Waived, Severity: finding.Warning, Explanation: "waived until 2026-12-31"},
		{Check: "dns.fqdn", Kind: "dns", Status: finding.Skip, Severity: finding.Critical, Explanation: "this host has no FQDN"},
	}, []string{"p.hcl"}, time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC), 1500*time.Millisecond)
}

// TestPrometheusParses reads the output back with Prometheus's own parser.
func TestPrometheusParses(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, "prometheus", fullReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatalf("Prometheus cannot parse the output: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		fam, ok := families[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
	next:
		for _, m := range fam.Metric {
			for k, v := range labels {
				if labelValue(m, k) != v {
					continue next
				}
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("no %s with %v", name, labels)
		return 0
	}
	if got := value("hostdrift_last_run_timestamp_seconds", nil); got != float64(time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("last run %v", got)
	}
	for _, c := range []struct {
		status, severity string
		want             float64
	}{{"fail", "warning", 1}, {"fail", "critical", 0}, {"error", "critical", 1}, {"pass", "critical", 1}, {"waived", "warning", 1}, {"skip", "critical", 1}} {
		if got := value("hostdrift_findings", map[string]string{"status": c.status, "severity": c.severity}); got != c.want {
			t.Errorf("findings %s/%s = %v, want %v", c.status, c.severity, got, c.want)
		}
	}
	if value("hostdrift_check_status", map[string]string{"check": "listener.redis", "status": "fail"}) != 1 ||
		value("hostdrift_check_status", map[string]string{"check": "listener.redis", "status": "pass"}) != 0 {
		t.Error("check status state set is wrong")
	}
	if value("hostdrift_check_status", map[string]string{"check": "dns.fqdn", "status": "skip"}) != 1 ||
		value("hostdrift_check_status", map[string]string{"check": "dns.fqdn", "status": "pass"}) != 0 {
		t.Error("a skipped check is not labelled skip")
	}
	if value("hostdrift_collector_success", map[string]string{"collector": "firewall"}) != 0 ||
		value("hostdrift_collector_success", map[string]string{"collector": "listeners"}) != 1 {
		t.Error("collector success is wrong")
	}
	if got := value("hostdrift_collector_duration_seconds", map[string]string{"collector": "listeners"}); got != 0.004 {
		t.Errorf("listeners duration %v", got)
	}
	// The explanations: on an info series per check that fails or cannot be
	// evaluated, never on the status series (their value changes).
	if value("hostdrift_finding_info", map[string]string{"check": "listener.redis", "status": "fail", "explanation": `0.0.0.0:6379 "redis" <listens> | & more`}) != 1 ||
		value("hostdrift_finding_info", map[string]string{"check": "egress.smtp", "status": "error", "explanation": "cannot evaluate: firewall collector failed"}) != 1 {
		t.Error("finding info is wrong")
	}
	if n := len(families["hostdrift_finding_info"].Metric); n != 2 {
		t.Errorf("%d finding info series, want 2: the fail and the error only", n)
	}
	for name, fam := range families {
		if fam.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is a %v: the report's families are states, gauges", name, fam.GetType())
		}
		for _, m := range fam.Metric {
			if labelValue(m, "explanation") != "" && name != "hostdrift_finding_info" {
				t.Errorf("%s carries an explanation label", name)
			}
		}
	}
}

// TestPrometheusLint: promtool check metrics finds the textfile clean.
func TestPrometheusLint(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, "prometheus", fullReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	promtool.CheckMetrics(t, "the textfile", b.String())
}

func TestLabelText(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789abc", 10, "0123456…"},
		{"ééééé", 8, "éé…"}, // never half a character
		{"bad \xff byte", 50, "bad \uFFFD byte"},
	} {
		if got := labelText(c.in, c.max); got != c.want || len(got) > c.max {
			t.Errorf("labelText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// validateJUnit checks b against the JUnit schema with xmllint.
func validateJUnit(t *testing.T, b []byte) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("HOSTDRIFT_TEST_STRICT") == "1" {
			t.Fatal("xmllint is not installed (Debian package libxml2-utils; make test installs it)")
		}
		t.Skip("xmllint is not installed")
	}
	out := filepath.Join(t.TempDir(), "junit.xml")
	os.WriteFile(out, b, 0o644)
	if msg, err := exec.Command(xmllint, "--noout", "--schema", "testdata/junit.xsd", out).CombinedOutput(); err != nil {
		t.Fatalf("JUnit output does not validate: %v\n%s\n%s", err, msg, b)
	}
}

// TestJUnitValidates checks the XML against the JUnit schema with xmllint.
func TestJUnitValidates(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, "junit", fullReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	validateJUnit(t, b.Bytes())
	for _, want := range []string{`<testsuite name="hostdrift web1.example.com" tests="5" failures="1" errors="1" skipped="2"`,
		`<failure message="0.0.0.0:6379 &#34;redis&#34; &lt;listens&gt; | &amp; more" type="warning">`, "remediation: bind to 127.0.0.1", `<skipped message="waived: waived until 2026-12-31">`, `<skipped message="does not apply: this host has no FQDN">`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JUnit lacks %q:\n%s", want, b.String())
		}
	}
}

// TestJUnitHosts: several hosts make one document with a suite each, one
// not audited a suite with one case in error, and totals over them all.
func TestJUnitHosts(t *testing.T) {
	var b bytes.Buffer
	err := WriteJUnit(&b, []JUnitHost{{Name: "root@web1:2222", Report: fullReport()}, {Name: "web2", Error: "ssh: connection refused", At: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	validateJUnit(t, b.Bytes())
	for _, want := range []string{`<testsuites name="hostdrift" tests="6" failures="1" errors="2" skipped="2"`,
		`<testsuite name="hostdrift root@web1:2222" tests="5" failures="1" errors="1" skipped="2"`, `hostname="web1.example.com"`,
		`<testsuite name="hostdrift web2" tests="1" failures="0" errors="1" skipped="0"`, `<error message="not audited: ssh: connection refused" type="not-audited">`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JUnit lacks %q:\n%s", want, b.String())
		}
	}
}

func TestNagios(t *testing.T) {
	r := fullReport()
	var b bytes.Buffer
	if err := Render(&b, "nagios", r, Options{NagiosState: 1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := "HOSTDRIFT WARNING - 1 fail, 1 error, 1 waived, 1 skip, 1 pass on web1.example.com | checks=5;;;0 fail=1;;;0 error=1;;;0 waived=1;;;0 skip=1;;;0 pass=1;;;0 duration=1.500s;;;0"
	if lines[0] != want {
		t.Errorf("status line\n got %q\nwant %q", lines[0], want)
	}
	if len(lines) != 3 || strings.Count(b.String(), "|") != 1 {
		t.Errorf("want the status line and one line per fail or error, with '|' only before the perfdata:\n%s", b.String())
	}
}

// TestCollectorTypes: a family is exposed with the type it declares.
func TestCollectorTypes(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Collector{Families: func() []MetricFamily {
		return []MetricFamily{
			{Name: "x_total", Help: "A total.", Type: Counter, Samples: []MetricSample{{Value: 3}}},
			{Name: "y", Help: "A state.", Type: Gauge, Labels: []string{"l"}, Samples: []MetricSample{{LabelValues: []string{"a"}, Value: 1}}},
		}
	}})
	var b bytes.Buffer
	if err := WriteMetrics(&b, reg); err != nil {
		t.Fatal(err)
	}
	want := "# HELP x_total A total.\n# TYPE x_total counter\nx_total 3\n# HELP y A state.\n# TYPE y gauge\ny{l=\"a\"} 1\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
