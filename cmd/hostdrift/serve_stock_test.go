package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
)

// Settings of the agent on the stock host: the packaged unit, with short
// polls so that the idle window holds several of them.
const (
	stockServeListen = "127.0.0.1:8731"
	stockServePoll   = 2 * time.Second
	// stockIdle is the window in which nothing happens on the host.
	stockIdle = 20 * time.Second
	// stockFlip is the deadline for a finding to flip after a change: a
	// generous one, on a shared machine; it is a bound, not a measure.
	stockFlip = 15 * time.Second
)

// stockAgent is hostdrift-serve.service running on a booted stock host.
type stockAgent struct {
	e      *dockertest.Engine
	host   *dockertest.Booted
	client *http.Client
}

// TestServeOnStockDebian runs hostdrift serve as an operator would: the
// packaged hostdrift-serve.service, the built-in policy and no
// configuration, on a stock Debian 12 server booted with systemd as PID 1.
// Nothing may fail there; while nothing happens, the only events are the
// polls (hostdrift's own reads of systemd, files and netlink must not come
// back to it as events, which would make it judge the host in a loop); and
// real changes (a failed unit, a cron job whose program is missing) flip
// their findings and flip back when undone.
func TestServeOnStockDebian(t *testing.T) {
	e := dockertest.Start(t)
	bin := binary(t)
	root := debroot.CachedSuite(t, rootBookworm.suite, rootBookworm.include...)
	img := "hostdrift-test/stock-serve-bookworm:latest"
	e.Import(t, root, img)
	gateway := bridgeGateway(t, e)
	args := []string{"--hostname", "debian12", "--dns", gateway, "--dns-search", ".",
		"--sysctl", "net.ipv6.conf.all.disable_ipv6=0", "--sysctl", "net.ipv6.conf.default.disable_ipv6=0"}
	host := e.BootSystemd(t, img, append(args, hostCaps...)...)
	for cmd, want := range stockHolds {
		if got := host.Exec("sh", "-c", cmd); !strings.Contains(got, want) {
			t.Fatalf("fixture: %s says %q, want %q", cmd, got, want)
		}
	}
	if failed := host.FailedUnits(); failed != "" {
		t.Fatalf("fixture: units failed on the stock host before hostdrift ran:\n%s", failed)
	}

	// Install as the package does, without the .deb: the binary, the unit
	// and /etc/default/hostdrift.
	unit, err := filepath.Abs("../../packaging/systemd/hostdrift-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	e.Docker(t, "cp", bin, host.ID+":/usr/bin/hostdrift")
	e.Docker(t, "cp", unit, host.ID+":/etc/systemd/system/hostdrift-serve.service")
	// A collector deadline of a minute, not the default 10 s: the unit
	// runs at Nice=10 and idle I/O priority, and this machine is shared; a
	// collector that the load starves would be an error here, not drift.
	writeIn(t, e, host, "/etc/default/hostdrift", fmt.Sprintf("HOSTDRIFT_LISTEN=%s\nHOSTDRIFT_SERVE_ARGS=\"--listeners-every %s --legacy-every %s --collector-timeout 60s\"\n",
		stockServeListen, stockServePoll, stockServePoll))
	host.Exec("systemctl", "daemon-reload")
	if out, err := e.Command("exec", host.ID, "systemctl", "start", "hostdrift-serve.service").CombinedOutput(); err != nil {
		t.Fatalf("systemctl start hostdrift-serve: %v\n%s\n%s", err, out, journal(host))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("journal of hostdrift-serve:\n%s", journal(host))
		}
	})
	a := &stockAgent{e: e, host: host, client: nsClient(t, e, host)}
	a.waitUp(t)

	// 1. At rest: nothing fails, the report holds only passes and skips,
	// and the log names no transition to fail or error.
	if code, body, err := a.get("/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz on a stock host: %d %q %v, want 200", code, body, err)
	}
	a.checkReport(t)
	if bad := badTransitions(journal(host)); len(bad) > 0 {
		t.Errorf("the log of a stock host names transitions to fail or error:\n%s", strings.Join(bad, "\n"))
	}

	// 2. Idle: only the polls send events, and not more often than their
	// interval allows.
	a.checkIdle(t, stockWindow{when: "after the start", idle: stockIdle, fromStart: true})

	// 3. A unit that fails: service.no-failed-units fails, naming it, and
	// passes again after reset-failed.
	writeIn(t, e, host, "/etc/systemd/system/hd-broken.service", "[Unit]\nDescription=hostdrift test: a unit that fails\n[Service]\nType=oneshot\nExecStart=/bin/false\n")
	host.Exec("systemctl", "daemon-reload")
	host.Exec("systemctl", "start", "hd-broken.service")
	if st := host.Exec("systemctl", "is-failed", "hd-broken.service"); st != "failed" {
		t.Fatalf("fixture: hd-broken.service is %q, want failed", st)
	}
	a.waitMetric(t, "after hd-broken.service failed", checkStatusRE("service.no-failed-units", "fail"))
	if f := a.finding(t, "service.no-failed-units"); !strings.Contains(f.Explanation, "hd-broken.service") {
		t.Errorf("service.no-failed-units does not name hd-broken.service: %s", f.Explanation)
	}
	if code, _, _ := a.get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz with a failed unit: %d, want 503", code)
	}
	a.onlyFailing(t, "with a failed unit", "service.no-failed-units")
	host.Exec("systemctl", "reset-failed", "hd-broken.service")
	a.waitMetric(t, "after reset-failed", checkStatusRE("service.no-failed-units", "pass"))
	if n := a.events(t)["systemd"]; n == 0 {
		t.Errorf("the failed unit flipped its finding, but no event came from systemd")
	}

	// 4. A cron job whose program does not exist.
	writeIn(t, e, host, "/etc/cron.d/hd-test", "17 3 * * * root /usr/local/bin/hd-missing >/dev/null 2>&1\n")
	a.waitMetric(t, "after /etc/cron.d/hd-test", checkStatusRE("cron.programs-exist", "fail"))
	if f := a.finding(t, "cron.programs-exist"); !strings.Contains(f.Explanation, "/usr/local/bin/hd-missing") {
		t.Errorf("cron.programs-exist does not name the missing program: %s", f.Explanation)
	}
	// The job does something, so cron.daemon-running judges the cron
	// daemon of the host, which runs (hostdrift runs in the unit's sandbox).
	a.onlyFailing(t, "with a job whose program is missing", "cron.programs-exist")
	host.Exec("rm", "/etc/cron.d/hd-test")
	a.waitMetric(t, "after /etc/cron.d/hd-test is gone", checkStatusRE("cron.programs-exist", "pass"))
	if n := a.events(t)["inotify"]; n == 0 {
		t.Errorf("the cron job flipped its finding, but no event came from inotify")
	}
	if code, body, _ := a.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz once every change is undone: %d %q, want 200", code, body)
	}

	a.equalsCheck(t)

	// Idle again, but for a timer unit installed, neither enabled nor
	// loaded: only inotify sees it. hostdrift reads the timers over D-Bus
	// again, which makes systemd load the new unit at rest (and announce
	// its properties): that must not come back as an event.
	a.checkIdle(t, stockWindow{when: "after a new timer file", idle: stockIdle / 2, provoke: func() float64 {
		writeIn(t, e, host, "/etc/systemd/system/hd-idle.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n")
		writeIn(t, e, host, "/etc/systemd/system/hd-idle.timer", "[Timer]\nOnCalendar=yearly\n")
		return 2 * 3 // per file: created, written, attributes
	}})
	t.Logf("journal of hostdrift-serve.service:\n%s", journal(host))
}

// stockSteps is how many systemctl and cron changes the stock host's
// serve ≡ check sequence makes.
const stockSteps = 16

// equalsCheck makes a seeded random sequence of changes on the booted host
// through systemctl and cron (units started, failed, enabled; cron jobs
// added) and asks, after each, that serve's report equal a `hostdrift
// check` of the built-in policy run on the host as an operator would.
func (a *stockAgent) equalsCheck(t *testing.T) {
	t.Helper()
	seed := envInt("HOSTDRIFT_SERVE_SEED", time.Now().UnixNano())
	t.Logf("stock host serve = check: seed %d (HOSTDRIFT_SERVE_SEED repeats it)", seed)
	rng := rand.New(rand.NewSource(seed))
	e, host := a.e, a.host
	writeIn(t, e, host, "/etc/systemd/system/hd-eq.service", "[Unit]\nDescription=hostdrift test: a unit that fails or not\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/hd-eq\n")
	writeIn(t, e, host, "/etc/systemd/system/hd-eq.timer", "[Timer]\nOnCalendar=yearly\nPersistent=false\n[Install]\nWantedBy=timers.target\n")
	writeIn(t, e, host, "/usr/local/bin/hd-eq", "#!/bin/sh\nexit 0\n")
	host.Exec("chmod", "755", "/usr/local/bin/hd-eq")
	host.Exec("systemctl", "daemon-reload")
	changes := []func() string{
		func() string {
			code := []string{"0", "1"}[rng.Intn(2)]
			writeIn(t, e, host, "/usr/local/bin/hd-eq", "#!/bin/sh\nexit "+code+"\n")
			_ = e.Command("exec", host.ID, "systemctl", "start", "hd-eq.service").Run()
			return "systemctl start hd-eq.service, exiting " + code
		},
		func() string {
			host.Exec("systemctl", "reset-failed", "hd-eq.service")
			return "systemctl reset-failed hd-eq.service"
		},
		func() string {
			verb := []string{"enable", "disable"}[rng.Intn(2)]
			_ = e.Command("exec", host.ID, "systemctl", verb, "--now", "hd-eq.timer").Run()
			return "systemctl " + verb + " --now hd-eq.timer"
		},
		func() string {
			prog := []string{"/usr/local/bin/hd-eq", "/usr/local/bin/hd-gone"}[rng.Intn(2)]
			writeIn(t, e, host, "/etc/cron.d/hd-eq", "17 3 * * * root "+prog+" >/dev/null 2>&1\n")
			return "cron.d job running " + prog
		},
		func() string {
			host.Exec("rm", "-f", "/etc/cron.d/hd-eq")
			return "cron.d job removed"
		},
	}
	served := func() (judged, error) {
		code, body, err := a.get("/report")
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("/report: %d %v", code, err)
		}
		var r report.Report
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, err
		}
		return judgedOf(&r), nil
	}
	check := func() judged {
		out, err := e.Command("exec", host.ID, "hostdrift", "check", "--format", "json", "--collector-timeout", "60s").Output()
		var r report.Report
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			t.Fatalf("hostdrift check in the host: %v %v\n%s", err, jerr, out)
		}
		return judgedOf(&r)
	}
	var history []string
	for step := 1; step <= stockSteps; step++ {
		history = append(history, fmt.Sprintf("step %d: %s", step, changes[rng.Intn(len(changes))]()))
		if _, diffs := awaitSame(served, check, stockFlip); len(diffs) > 0 {
			t.Fatalf("seed %d, step %d: serve's /report differs from check on the stock host:\n  %s\nchanges:\n  %s",
				seed, step, strings.Join(diffs, "\n  "), strings.Join(history, "\n  "))
		}
	}
	// Leave the host as it was for what follows.
	_ = e.Command("exec", host.ID, "systemctl", "disable", "--now", "hd-eq.timer").Run()
	host.Exec("rm", "-f", "/etc/cron.d/hd-eq", "/etc/systemd/system/hd-eq.service", "/etc/systemd/system/hd-eq.timer")
	host.Exec("systemctl", "daemon-reload")
	_ = e.Command("exec", host.ID, "systemctl", "reset-failed").Run()
}

// writeIn writes a file in the booted host.
func writeIn(t *testing.T, e *dockertest.Engine, host *dockertest.Booted, path, content string) {
	t.Helper()
	cmd := e.Command("exec", "-i", host.ID, "sh", "-c", `mkdir -p "$(dirname "$1")" && cat > "$1"`, "sh", path)
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write %s in the host: %v\n%s", path, err, out)
	}
}

// journal is what hostdrift-serve.service logged.
func journal(host *dockertest.Booted) string {
	return host.Exec("journalctl", "-u", "hostdrift-serve.service", "--no-pager", "-o", "cat")
}

// transitionTo matches a text transition line to fail or error.
var transitionTo = regexp.MustCompile(` -> (fail|error) \(`)

func badTransitions(log string) []string {
	var bad []string
	for _, l := range strings.Split(log, "\n") {
		if transitionTo.MatchString(l) {
			bad = append(bad, l)
		}
	}
	return bad
}

// nsClient is an HTTP client whose connections are made inside the booted
// container's network namespace (that of its PID 1).
func nsClient(t *testing.T, e *dockertest.Engine, host *dockertest.Booted) *http.Client {
	t.Helper()
	pid := e.Docker(t, "inspect", "-f", "{{.State.Pid}}", host.ID)
	if _, err := strconv.Atoi(pid); err != nil {
		t.Fatalf("the container's PID: %q", pid)
	}
	path := "/proc/" + pid + "/ns/net"
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ctx, path, network, addr)
		},
	}}
}

func (a *stockAgent) get(path string) (int, string, error) {
	resp, err := a.client.Get("http://" + stockServeListen + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitUp waits for the agent's first judgement (/healthz answers 200 or
// 503), or fails when the unit stops.
func (a *stockAgent) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, _, err := a.get("/healthz")
		if err == nil && (code == http.StatusOK || code == http.StatusServiceUnavailable) {
			return
		}
		if st := a.host.Exec("systemctl", "is-active", "hostdrift-serve.service"); st != "active" && st != "activating" {
			t.Fatalf("hostdrift-serve.service is %s:\n%s", st, journal(a.host))
		}
		if time.Now().After(deadline) {
			t.Fatalf("hostdrift serve did not answer on %s within 2m: %d %v", stockServeListen, code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stockReport is the part of the JSON report the test reads.
type stockReport struct {
	Schema     string
	Collectors []struct{ Name, Status, Reason string }
	Findings   []finding.Finding
}

func (a *stockAgent) report(t *testing.T) stockReport {
	t.Helper()
	code, body, err := a.get("/report")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/report: %d %v", code, err)
	}
	var rep stockReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/report is not JSON: %v\n%s", err, body[:min(len(body), 400)])
	}
	return rep
}

// checkReport asserts the report of the stock host: schema v1, every
// finding a pass or a skip, every collector ok or skipped.
func (a *stockAgent) checkReport(t *testing.T) {
	t.Helper()
	rep := a.report(t)
	if rep.Schema != "hostdrift/report/v1" {
		t.Errorf("/report schema %q, want hostdrift/report/v1", rep.Schema)
	}
	if len(rep.Findings) == 0 {
		t.Errorf("/report has no findings: the built-in policy did not run")
	}
	for _, f := range rep.Findings {
		if f.Status != finding.Pass && f.Status != finding.Skip {
			t.Errorf("%s %s (%s): %s", f.Status, f.Check, f.Severity, f.Explanation)
		}
	}
	for _, c := range rep.Collectors {
		if c.Status != "ok" && c.Status != "skipped" {
			t.Errorf("collector %s: %s: %s", c.Name, c.Status, c.Reason)
		}
	}
}

func (a *stockAgent) finding(t *testing.T, check string) finding.Finding {
	t.Helper()
	for _, f := range a.report(t).Findings {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("no finding %s in /report", check)
	return finding.Finding{}
}

// onlyFailing asserts that check is the only finding not a pass or a skip.
func (a *stockAgent) onlyFailing(t *testing.T, when, check string) {
	t.Helper()
	for _, f := range a.report(t).Findings {
		if f.Check != check && f.Status != finding.Pass && f.Status != finding.Skip {
			t.Errorf("%s: %s %s: %s", when, f.Status, f.Check, f.Explanation)
		}
	}
}

// waitMetric polls /metrics until re matches, within stockFlip.
func (a *stockAgent) waitMetric(t *testing.T, what string, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(stockFlip)
	var last string
	for {
		_, body, err := a.get("/metrics")
		if err == nil && re.MatchString(body) {
			return
		}
		last = body
		if time.Now().After(deadline) {
			t.Fatalf("%s: /metrics did not show %s within %s\n%s", what, re, stockFlip, grepLines(last, "hostdrift_check_status|hostdrift_events_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
