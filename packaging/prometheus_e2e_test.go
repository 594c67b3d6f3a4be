package packaging

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/internal/testkit/promtool"
	"github.com/hostdrift/hostdrift/internal/testkit/syncbuf"
)

// e2ePolicy is every host's policy: outbound SMTP submission must be open.
const e2ePolicy = `egress "smtp" {
  protocol = "tcp"
  port     = 587
  to       = "192.0.2.25"
  severity = "critical"
}
`

// alertBudget is how long, from the nftables change, the alert may take to
// fire (and, from its removal, to resolve): a deadline, not a measurement.
const alertBudget = 10 * time.Second

// servePort is where each namespace's agent listens.
const servePort = "8731"

// TestPrometheusAlertsEndToEnd runs Debian's Prometheus server with the
// shipped rules, scraping three hostdrift serve agents, each in its own
// network namespace reached over a veth pair from this one, and the textfile
// of a check --prometheus-file run, served as node_exporter's textfile
// collector would. A drop of outbound 587 in one namespace fires exactly one
// alert, for that host and that check; removing it resolves the alert.
func TestPrometheusAlertsEndToEnd(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"prometheus", "promtool", "nft", "ip"} {
		nstest.RequireCommand(t, c)
	}
	bin := binary(t)
	pol := filepath.Join(t.TempDir(), "smtp.hcl")
	if err := os.WriteFile(pol, []byte(e2ePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir() // no file is read: the check judges the ruleset

	// Three agents, each behind its own /30 of 198.18.0.0/15 (RFC 2544,
	// benchmarking: routed nowhere), a random block so that parallel runs
	// do not collide.
	var b [1]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	var agents []*nstest.NS
	var targets []string
	for i := range 3 {
		ns := nstest.New(t)
		ip := link(t, ns, fmt.Sprintf("198.18.%d.%d", b[0], 4*i+1), fmt.Sprintf("198.18.%d.%d", b[0], 4*i+2))
		addr := net.JoinHostPort(ip, servePort)
		startAgent(t, ns, bin, "serve", "--no-builtin", "--policy", pol, "--root", root, "--listen", addr, "--listeners-every", "1s")
		waitHTTP(t, "http://"+addr+"/healthz", http.StatusOK)
		agents = append(agents, ns)
		targets = append(targets, addr)
	}

	// The nightly timer's run, in a namespace of its own (this one's
	// firewall is the machine's), and its textfile served on each scrape
	// as node_exporter's textfile collector would.
	timerNS := nstest.New(t)
	textfile := filepath.Join(t.TempDir(), "hostdrift.prom")
	if out, err := timerNS.Command(bin, "check", "--no-builtin", "--policy", pol, "--root", root, "--color", "never", "--prometheus-file", textfile).CombinedOutput(); err != nil {
		t.Fatalf("hostdrift check --prometheus-file: %v\n%s", err, out)
	}
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := os.ReadFile(textfile)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(b)
	}))
	t.Cleanup(node.Close)

	// Both outputs, as Prometheus reads them, are clean to promtool.
	text, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	promtool.CheckMetrics(t, "check --prometheus-file's textfile", string(text))
	promtool.CheckMetrics(t, "serve's /metrics", httpGet(t, "http://"+targets[0]+"/metrics"))

	prom := startPrometheus(t, targets, strings.TrimPrefix(node.URL, "http://"))

	// Every target up and every host's check seen passing, with no alert.
	waitFor(t, 60*time.Second, "the four targets up and egress.smtp passing on each", func() (bool, string) {
		body := prom.get(t, "/api/v1/query?query="+url.QueryEscape(`count(up == 1) + count(hostdrift_check_status{check="egress.smtp",status="pass"} == 1)`))
		return strings.Contains(body, `"8"]`), body
	})
	if alerts := prom.alerts(t); len(alerts) != 0 {
		t.Fatalf("alerts before any change: %s", prom.get(t, "/api/v1/alerts"))
	}

	// Drop outbound 587 on the second host.
	dropped := agents[1]
	start := time.Now()
	dropped.Run(t, "nft", "add table inet hdprom; add chain inet hdprom out { type filter hook output priority 0; }; add rule inet hdprom out tcp dport 587 drop")
	var raw string
	waitFor(t, alertBudget, "an alert firing after the drop", func() (bool, string) {
		raw = prom.get(t, "/api/v1/alerts")
		for _, a := range decodeAlerts(t, raw) {
			if a.State == "firing" {
				return true, raw
			}
		}
		return false, raw
	})
	fired := time.Since(start)
	alerts := decodeAlerts(t, raw)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want exactly one:\n%s", len(alerts), raw)
	}
	a := alerts[0]
	if a.Labels["alertname"] != "HostdriftCriticalCheckFailing" || a.Labels["instance"] != targets[1] || a.Labels["check"] != "egress.smtp" || a.Labels["job"] != "hostdrift" {
		t.Errorf("the alert is not HostdriftCriticalCheckFailing for %s and egress.smtp: %v", targets[1], a.Labels)
	}
	if d := a.Annotations["description"]; !strings.Contains(d, "587") || strings.Contains(d, "not exported") {
		t.Errorf("the description is not the finding's explanation: %q", d)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(raw), "", "  "); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("hostdrift-prometheus-alert-%d.json", time.Now().UnixNano()))
	if err := os.WriteFile(out, pretty.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("alert firing %s after the nftables drop; /api/v1/alerts returned (also in %s):\n%s", fired.Round(time.Millisecond), out, pretty.String())

	// Remove the drop: the alert resolves.
	start = time.Now()
	dropped.Run(t, "nft", "delete table inet hdprom")
	waitFor(t, alertBudget, "no alert after the drop is removed", func() (bool, string) {
		raw := prom.get(t, "/api/v1/alerts")
		return len(decodeAlerts(t, raw)) == 0, raw
	})
	t.Logf("alert resolved %s after the drop was removed", time.Since(start).Round(time.Millisecond))
}

// link joins ns to this namespace with a veth pair, hostIP on this side
// and nsIP inside (a /30), and returns nsIP. Deleting the namespace
// deletes the pair; cleanup also deletes it if the namespace outlives it.
func link(t *testing.T, ns *nstest.NS, hostIP, nsIP string) string {
	t.Helper()
	outer := "hp" + strings.TrimPrefix(ns.Name, "hd-") // at most 15 bytes
	for _, args := range [][]string{
		{"link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns.Name},
		{"addr", "add", hostIP + "/30", "dev", outer},
		{"link", "set", outer, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "link" && args[1] == "add" {
			t.Cleanup(func() { _ = exec.Command("ip", "link", "del", outer).Run() })
		}
	}
	ns.Run(t, "ip", "addr", "add", nsIP+"/30", "dev", "eth0")
	ns.Run(t, "ip", "link", "set", "eth0", "up")
	return nsIP
}

// startAgent runs hostdrift with args inside ns until the test ends.
func startAgent(t *testing.T, ns *nstest.NS, bin string, args ...string) {
	t.Helper()
	cmd := ns.Command(bin, args...)
	var logs syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop(t, cmd, "hostdrift "+args[0]+" in "+ns.Name, &logs)
}

// stop ends cmd at cleanup (SIGTERM, then SIGKILL after 10 s) and waits for
// it; its output is logged when the test failed.
func stop(t *testing.T, cmd *exec.Cmd, what string, logs *syncbuf.Buffer) {
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s:\n%s", what, logs.String())
		}
	})
}

// prometheusServer is a running Prometheus server.
type prometheusServer struct{ url string }

// startPrometheus runs Debian's prometheus on a free loopback port with its
// own data folder, a 1 s scrape and evaluation interval and the shipped
// rules, scraping the serve agents as job hostdrift and the textfile as job
// node, and waits until it is ready.
func startPrometheus(t *testing.T, agents []string, textfile string) *prometheusServer {
	t.Helper()
	rules, err := filepath.Abs(filepath.Join(rulesDir, "hostdrift.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(agents))
	for i, a := range agents {
		quoted[i] = `"` + a + `"`
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: hostdrift
    static_configs:
      - targets: [%s]
  - job_name: node
    static_configs:
      - targets: [%q]
`, rules, strings.Join(quoted, ", "), textfile)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command("prometheus", "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var logs syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop(t, cmd, "prometheus", &logs)
	p := &prometheusServer{url: "http://" + addr}
	waitHTTP(t, p.url+"/-/ready", http.StatusOK)
	return p
}

func (p *prometheusServer) get(t *testing.T, path string) string { return httpGet(t, p.url+path) }

// apiAlert is one alert of /api/v1/alerts.
type apiAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

func (p *prometheusServer) alerts(t *testing.T) []apiAlert {
	return decodeAlerts(t, p.get(t, "/api/v1/alerts"))
}

func decodeAlerts(t *testing.T, raw string) []apiAlert {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []apiAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil || r.Status != "success" {
		t.Fatalf("/api/v1/alerts: %v\n%s", err, raw)
	}
	return r.Data.Alerts
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// waitHTTP polls url until it answers code, for up to a minute.
func waitHTTP(t *testing.T, url string, code int) {
	t.Helper()
	waitFor(t, time.Minute, url+" answering", func() (bool, string) {
		resp, err := httpClient.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == code, resp.Status
	})
}

// waitFor polls ok every 100 ms until it holds, and fails the test with
// its last word if it does not within limit.
func waitFor(t *testing.T, limit time.Duration, what string, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		done, last := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last:\n%s", what, limit, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
