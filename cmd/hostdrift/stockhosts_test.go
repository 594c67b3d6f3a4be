package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/policies"
	mdns "github.com/miekg/dns"
)

// serverPackages is what a typical Debian server adds to minbase: systemd
// as init, cron, an SSH server, a web server and unattended upgrades, and
// the priority-important packages whose jobs and timers every Debian host
// carries (logrotate, man-db, nftables). No mail transfer agent.
var serverPackages = []string{
	"systemd", "systemd-sysv", "dbus", "cron", "openssh-server", "nginx",
	"unattended-upgrades", "logrotate", "man-db", "nftables",
}

// stockRoot is one debootstrapped root of the corpus; variants boot it
// with other docker flags or change it in a throw-away container first.
type stockRoot struct {
	suite   string
	include []string
}

var (
	rootBookworm       = stockRoot{"bookworm", serverPackages}
	rootTrixie         = stockRoot{"trixie", serverPackages}
	rootBookwormDocker = stockRoot{"bookworm", append([]string{"docker.io"}, serverPackages...)}
)

// wantFinding is a finding the fixture caused on purpose.
type wantFinding struct {
	status finding.Status
	says   []string
	// only: every cron file the explanation names is this one (no
	// Debian job is listed alongside the admin's).
	only string
}

// stockHost is one host of the corpus.
type stockHost struct {
	name string
	root stockRoot
	// prepare is a shell script run in the root before it boots (in a
	// container whose changes are committed as the host's image); @GATEWAY@
	// in it is the address of the bridge's gateway, where the test's
	// resolver answers.
	prepare string
	// files, when set, gives folders of the test machine to copy into the
	// prepare container first, by the path they take there.
	files func(t *testing.T) map[string]string
	// loop gives the host the machine's loop devices, to mount images.
	loop bool
	// run are extra docker run flags.
	run []string
	// ipv6 turns IPv6 on (loopback ::1 and a link-local address); off,
	// net.ipv6.conf.all.disable_ipv6=1 as on many VPS images.
	ipv6 bool
	// domain, when set, gives the host an FQDN (NAME.DOMAIN next to its
	// address in /etc/hosts) that its resolver answers with that address;
	// without, the host has a single-label name and no domain.
	domain string
	// stale, with domain, is the address the resolver answers the FQDN
	// with instead of the host's: a record left behind by a migration.
	stale string
	// holds are shell commands run on the booted host, each with a text
	// its output must contain: the fixture is what the host claims to be.
	holds map[string]string
	// exit is the exit code hostdrift check must return; want the findings
	// that are not pass, each as the fixture put it there.
	exit int
	want map[string]wantFinding
}

// adminCronJob is a job an administrator added by hand, whose program is
// gone (moved in a migration), and whose output cron would mail.
const adminCronJob = `# nightly database dump (added by the admin, OPS-17)
30 2 * * * root /usr/local/bin/backup-db --all
`

// stockHolds is true of every stock server of the corpus.
var stockHolds = map[string]string{
	"command -v cron || echo no-cron":               "/usr/sbin/cron",
	"command -v sendmail || echo no-mta":            "no-mta",
	"systemctl is-active nginx.service ssh.service": "active\nactive",
}

var stockHosts = []stockHost{
	{name: "debian12", root: rootBookworm, ipv6: true, holds: stockHolds},
	{name: "debian12-ipv6-off", root: rootBookworm, holds: stockHolds},
	{name: "debian12-fqdn", root: rootBookworm, ipv6: true, domain: "example.test", holds: stockHolds},
	{name: "debian12-no-cron", root: rootBookworm, ipv6: true,
		prepare: "DEBIAN_FRONTEND=noninteractive dpkg --purge cron",
		holds:   map[string]string{"command -v cron || echo no-cron": "no-cron", "ls /etc/cron.d": "e2scrub_all"}},
	// nftables.service loads Debian's stock /etc/nftables.conf; there is no
	// iptables package.
	{name: "debian12-nftables", root: rootBookworm, ipv6: true,
		prepare: "systemctl enable nftables.service",
		holds:   map[string]string{"nft list tables": "table inet filter", "command -v iptables || echo no-iptables": "no-iptables"}},
	{name: "debian12-docker-stopped", root: rootBookwormDocker, ipv6: true,
		prepare: "systemctl disable docker.service docker.socket",
		holds: map[string]string{
			"systemctl is-enabled docker.service; systemctl is-active docker.service": "disabled\ninactive",
			"command -v dockerd; command -v iptables":                                 "/usr/sbin/dockerd\n/usr/sbin/iptables",
		}},
	{name: "debian12-admin-cron", root: rootBookworm, ipv6: true,
		prepare: "cat > /etc/cron.d/backup-db <<'EOF'\n" + adminCronJob + "EOF\n",
		holds:   stockHolds,
		exit:    exitDrift,
		want: map[string]wantFinding{
			"cron.programs-exist": {status: finding.Fail, only: "/etc/cron.d/backup-db",
				says: []string{"/etc/cron.d/backup-db:2", "/usr/local/bin/backup-db does not exist"}},
			"cron.output-not-lost": {status: finding.Fail, only: "/etc/cron.d/backup-db",
				says: []string{"no mail transfer agent is installed", "/etc/cron.d/backup-db:2"}},
		}},
	{name: "debian13", root: rootTrixie, ipv6: true, holds: stockHolds},
	{name: "debian13-ipv6-off", root: rootTrixie, holds: stockHolds},
	// Debian 12 laid out as Ubuntu 22.04 server: systemd-resolved's stub
	// resolver, netplan, UFW enabled, a snap mounted from its squashfs
	// image, unattended-upgrades (see ubuntuPrepare).
	{name: "ubuntu-shaped", root: rootUbuntuShaped, ipv6: true, prepare: ubuntuPrepare, loop: true, holds: ubuntuHolds},
	{name: "ubuntu-shaped-failed-snap", root: rootUbuntuShaped, ipv6: true, prepare: ubuntuPrepare + snapDaemonFails, loop: true,
		holds: map[string]string{"systemctl is-failed snap.hello.daemon.service": "failed"},
		exit:  exitDrift,
		want: map[string]wantFinding{
			"service.no-failed-units": {status: finding.Fail, says: []string{"snap.hello.daemon.service"}},
		}},
	// Debian 12 laid out as RHEL 9 minimal server: firewalld on
	// nftables, chronyd, an rpm database of the host's packages, cronie
	// and anacron as RHEL runs them (see rhelPrepare).
	{name: "rhel-shaped", root: rootRHELShaped, ipv6: true, prepare: rhelPrepare, files: buildRHELRPMs, holds: rhelHolds},
	{name: "rhel-shaped-failed-unit", root: rootRHELShaped, ipv6: true, prepare: rhelPrepare + backupAgentFails, files: buildRHELRPMs,
		holds: map[string]string{"systemctl is-failed backup-agent.service": "failed"},
		exit:  exitDrift,
		want: map[string]wantFinding{
			"service.no-failed-units": {status: finding.Fail, says: []string{"backup-agent.service"}},
		}},
	{name: "rhel-shaped-admin-cron", root: rootRHELShaped, ipv6: true, files: buildRHELRPMs,
		prepare: rhelPrepare + "echo '30 2 * * * /usr/local/bin/backup-db --all' >> /var/spool/cron/root\n",
		holds:   map[string]string{"tail -1 /var/spool/cron/root": "backup-db"},
		exit:    exitDrift,
		want: map[string]wantFinding{
			"cron.programs-exist": {status: finding.Fail, only: "/var/spool/cron/root",
				says: []string{"/var/spool/cron/root:3", "/usr/local/bin/backup-db does not exist"}},
		}},
	{name: "rhel-shaped-old-cronie", root: rootRHELShaped, ipv6: true, files: buildRHELRPMs,
		prepare: rhelPrepare + "mkdir -p /etc/hostdrift/policies\n" +
			"printf 'package \"cronie-current\" {\\n  description = \"cronie has the fix of RHBA-2024:0001\"\\n  name = \"cronie\"\\n  version = \">= 1.5.7-12.el9\"\\n}\\n' > /etc/hostdrift/policies/packages.hcl\n",
		holds: map[string]string{"cat /etc/hostdrift/policies/packages.hcl": `version = ">= 1.5.7-12.el9"`},
		exit:  exitDrift,
		want: map[string]wantFinding{
			"package.cronie-current": {status: finding.Fail, says: []string{"1.5.7-11.el9"}},
		}},
	{name: "ubuntu-shaped-stale-dns", root: rootUbuntuShaped, ipv6: true, prepare: ubuntuPrepare + ubuntuCloudDomain, loop: true,
		domain: "example.test", stale: "192.0.2.10",
		holds: map[string]string{
			"grep ^search /etc/resolv.conf; grep -c example.test /etc/hosts": "search example.test\n0",
			"resolvectl dns eth0": "@GATEWAY@",
		},
		exit: exitDrift,
		want: map[string]wantFinding{
			"dns.fqdn-resolves-to-host": {status: finding.Fail, says: []string{"192.0.2.10", "@GATEWAY@"}},
		}},
}

// moreJobs is how a finding says it listed only the first of its jobs.
var moreJobs = regexp.MustCompile(`and \d+ more`)

// hostCaps are the capabilities root has on a host that hostdrift uses
// and docker leaves out by default (SYS_ADMIN is in SystemdRunArgs): to
// read every process's sockets, the firewall, and every file.
var hostCaps = []string{"--cap-add", "SYS_PTRACE", "--cap-add", "NET_ADMIN", "--cap-add", "DAC_READ_SEARCH"}

// cronPath finds the cron files an explanation names.
var cronPath = regexp.MustCompile(`/(?:etc/cron[a-z.]*|etc/anacrontab|var/spool/cron(?:/crontabs)?)(?:/[A-Za-z0-9_.-]+)?`)

// TestStockHosts runs the built-in policy, with no configuration, on stock
// Debian 12 and 13 servers booted with systemd as PID 1, as a user would
// run it: every finding must be a pass (or a skip, a check that does not
// apply), every collector ok or skipped, and the exit code 0, except for
// what a host's fixture put there on purpose, which must be reported
// exactly. A false alarm on a stock host fails here instead of reaching a
// user. Set HOSTDRIFT_STOCKHOSTS_REPORTS to a folder to keep each host's
// JSON report there.
func TestStockHosts(t *testing.T) {
	start := time.Now()
	e := dockertest.Start(t)
	bin := binary(t)
	gateway := ""
	images := map[string]string{}
	imageOf := func(t *testing.T, r stockRoot) string {
		key := r.suite + "+" + strings.Join(r.include, ",")
		if img, ok := images[key]; ok {
			return img
		}
		root := debroot.CachedSuite(t, r.suite, r.include...)
		img := fmt.Sprintf("hostdrift-test/stock-%s-%d:latest", r.suite, len(images))
		began := time.Now()
		e.Import(t, root, img)
		t.Logf("imported %s in %s", root, time.Since(began).Round(time.Second))
		images[key] = img
		return img
	}
	for _, h := range stockHosts {
		t.Run(h.name, func(t *testing.T) {
			began := time.Now()
			img := imageOf(t, h.root)
			if gateway == "" {
				gateway = bridgeGateway(t, e)
			}
			if h.prepare != "" {
				var files map[string]string
				if h.files != nil {
					files = h.files(t)
				}
				img = prepareImage(t, e, img, h.name, strings.ReplaceAll(h.prepare, "@GATEWAY@", gateway), files)
			}
			// The default bridge, inside the test engine's namespace: the
			// host has addresses but reaches nothing outside. Its resolver
			// is the bridge's gateway, where nothing answers; a single-label
			// hostname and no search domain, as on many servers.
			args := []string{"--hostname", h.name, "--dns", gateway, "--dns-search", "."}
			// dockerd turns IPv6 off in containers of a network without it.
			v6off := map[bool]string{true: "0", false: "1"}[h.ipv6]
			args = append(args, "--sysctl", "net.ipv6.conf.all.disable_ipv6="+v6off,
				"--sysctl", "net.ipv6.conf.default.disable_ipv6="+v6off)
			if h.domain != "" {
				args = append(args, "--domainname", h.domain)
			}
			args = append(append(args, hostCaps...), h.run...)
			if h.loop {
				args = append(args, loopDevices(t)...)
			}
			host := e.BootSystemd(t, img, args...)
			t.Logf("%s booted (%s) in %s", h.name, host.Exec("systemctl", "is-system-running"), time.Since(began).Round(time.Second))
			if failed := host.FailedUnits(); failed != "" {
				t.Logf("failed units on %s:\n%s", h.name, failed)
			}
			if has := strings.Contains(host.Exec("cat", "/proc/net/if_inet6"), "lo"); has != h.ipv6 {
				t.Fatalf("fixture: IPv6 on loopback is %v, want %v", has, h.ipv6)
			}
			if h.domain != "" {
				addr := e.Docker(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", host.ID)
				if h.stale != "" {
					addr = h.stale
				}
				serveName(t, e, gateway, h.name+"."+h.domain, addr)
			}
			for cmd, want := range h.holds {
				want = strings.ReplaceAll(want, "@GATEWAY@", gateway)
				if got := host.Exec("sh", "-c", cmd); !strings.Contains(got, want) {
					t.Errorf("fixture: %s says %q, want %q", cmd, got, want)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			e.Docker(t, "cp", bin, host.ID+":/usr/local/bin/hostdrift")
			want := map[string]wantFinding{}
			for check, w := range h.want {
				w.says = append([]string(nil), w.says...)
				for i := range w.says {
					w.says[i] = strings.ReplaceAll(w.says[i], "@GATEWAY@", gateway)
				}
				want[check] = w
			}
			h.want = want
			checkStockHost(t, e, host, h)
		})
	}
	t.Logf("the corpus took %s", time.Since(start).Round(time.Second))
}

// bridgeGateway is the address of the engine's default bridge: the first
// of its subnet, where dockerd puts it unless told otherwise.
func bridgeGateway(t *testing.T, e *dockertest.Engine) string {
	t.Helper()
	subnet := e.Docker(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", "bridge")
	for _, s := range strings.Fields(subnet) {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
			return p.Masked().Addr().Next().String()
		}
	}
	t.Fatalf("no IPv4 subnet on the engine's default bridge (%q)", subnet)
	return ""
}

// serveName runs a resolver for the host on the bridge's gateway (inside
// the test engine's namespace), answering name with addr and nothing else,
// until the test ends.
func serveName(t *testing.T, e *dockertest.Engine, gateway, name, addr string) {
	t.Helper()
	nstest.RequireCommand(t, "dnsmasq")
	cmd := e.NS.Command("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--no-resolv",
		"--no-poll", "--listen-address="+gateway, "--bind-interfaces", "--port=53", "--user=root",
		"--pid-file="+filepath.Join(t.TempDir(), "dnsmasq.pid"), "--local=/"+name+"/", "--host-record="+name+","+addr)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		e.NS.Do(t, func() {
			m := new(mdns.Msg)
			m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
			_, _, err = (&mdns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, net.JoinHostPort(gateway, "53"))
		})
		if err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("dnsmasq exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq does not answer on %s:53: %v\n%s", gateway, err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prepareImage runs script in a throw-away container of img, with the
// folders of files copied in first (each to the path it maps to), and
// commits the result as the image of host.
func prepareImage(t *testing.T, e *dockertest.Engine, img, host, script string, files map[string]string) string {
	t.Helper()
	name := "prepare-" + host
	e.Docker(t, "create", "--name", name, "--label", dockertest.Label, img, "/bin/sh", "-ec", script)
	for dst, src := range files {
		e.Docker(t, "cp", src+"/.", name+":"+dst)
	}
	out, err := e.Command("start", "--attach", name).CombinedOutput()
	if err != nil {
		t.Fatalf("prepare %s: %v\n%s", host, err, out)
	}
	derived := "hostdrift-test/stock-" + host + ":latest"
	e.Docker(t, "commit", name, derived)
	e.Docker(t, "rm", name)
	return derived
}

// checkStockHost runs hostdrift check --format json with no configuration
// as root, with the capabilities it uses, and judges the report.
func checkStockHost(t *testing.T, e *dockertest.Engine, host *dockertest.Booted, h stockHost) {
	t.Helper()
	cmd := e.Command("exec", host.ID, "/usr/local/bin/hostdrift", "check", "--format", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run hostdrift check: %v", err)
	}
	var rep struct {
		Policies   []string
		Collectors []struct{ Name, Status, Reason string }
		Findings   []finding.Finding
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("hostdrift check: exit %d, no JSON report: %v\n%s\n%s", code, err, out, stderr.String())
	}
	if code != h.exit {
		t.Errorf("hostdrift check on %s: exit %d, want %d", h.name, code, h.exit)
	}
	for _, c := range rep.Collectors {
		if c.Status != "ok" && c.Status != "skipped" {
			t.Errorf("collector %s: %s: %s", c.Name, c.Status, c.Reason)
		}
	}
	// The built-in policy ran, every file of it: a report with no findings
	// must not pass for a clean host.
	files, err := policies.Default()
	if err != nil {
		t.Fatal(err)
	}
	judged := map[string]int{}
	for _, f := range rep.Findings {
		judged[f.Source.File]++
	}
	for _, f := range files {
		if judged[f.Name] == 0 {
			t.Errorf("no finding from %s (policies in the report: %v)", f.Name, rep.Policies)
		}
	}
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Status == finding.Skip && len(strings.Fields(f.Explanation)) < 3 {
			t.Errorf("skip %s does not say why it does not apply: %q", f.Check, f.Explanation)
		}
		w, wanted := h.want[f.Check]
		if !wanted {
			if f.Status != finding.Pass && f.Status != finding.Skip {
				t.Errorf("%s %s (%s): %s", f.Status, f.Check, f.Severity, f.Explanation)
			}
			continue
		}
		seen[f.Check] = true
		if f.Status != w.status {
			t.Errorf("%s: %s, want %s: %s", f.Check, f.Status, w.status, f.Explanation)
			continue
		}
		for _, s := range w.says {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation lacks %q:\n%s", f.Check, s, f.Explanation)
			}
		}
		if w.only != "" {
			// What the finding blames comes before its note of the jobs it
			// left out as doing nothing here; the note may name Debian's.
			blamed, leftOut, _ := strings.Cut(f.Explanation, " (left out: as they do nothing here")
			if !strings.Contains(leftOut, "/etc/cron.d/e2scrub_all") && strings.HasPrefix(h.name, "debian12") {
				t.Errorf("%s does not say it left Debian's own jobs out:\n%s", f.Check, f.Explanation)
			}
			var others []string
			for _, p := range cronPath.FindAllString(blamed, -1) {
				if p != w.only {
					others = append(others, p)
				}
			}
			if m := moreJobs.FindString(blamed); m != "" {
				others = append(others, m+" (not shown)")
			}
			if len(others) > 0 {
				sort.Strings(others)
				t.Errorf("%s names cron files the fixture did not put there (%s):\n%s", f.Check, strings.Join(others, ", "), f.Explanation)
			}
		}
	}
	for check := range h.want {
		if !seen[check] {
			t.Errorf("no finding %s in the report", check)
		}
	}
	if dir := os.Getenv("HOSTDRIFT_STOCKHOSTS_REPORTS"); dir != "" {
		p := filepath.Join(dir, h.name+".json")
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Errorf("keep the report: %v", err)
		}
		t.Logf("report of %s (exit %d) in %s", h.name, code, p)
	}
	if s := stderr.String(); s != "" {
		t.Logf("hostdrift check on %s wrote to standard error:\n%s", h.name, s)
	}
}
