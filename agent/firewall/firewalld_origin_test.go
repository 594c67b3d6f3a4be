package firewall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/report/explain"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// richSource is the peer the origin test's reject rich rule names.
var richSource = netip.MustParseAddr("10.200.0.77")

// originCommands add to the stock public zone (ssh, dhcpv6-client) a
// service, a port and a reject rich rule, as an administrator would.
var originCommands = [][]string{
	{"--add-service=http"},
	{"--add-port=8443/tcp"},
	{`--add-rich-rule=rule family="ipv4" source address="` + richSource.String() + `" reject`},
}

// TestFirewalldOrigins boots Debian's firewalld on its nftables backend
// with the default zone public, its stock services and the items of
// originCommands, and checks that the verdict on each inbound connection
// names the zone and the service, port or rich rule that decides it, as
// the ingress finding (netfilter.Explain) and hostdrift explain print it.
func TestFirewalldOrigins(t *testing.T) {
	nstest.RequireRoot(t)
	root := debroot.Cached(t, firewalldPackages...)
	e := dockertest.Start(t)
	const img = "hostdrift-test/firewalld:latest"
	e.Import(t, root, img)
	// The capabilities root has on a host that hostdrift check uses.
	b := e.BootSystemd(t, img, "--network", "none", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
		"--cap-add", "SYS_PTRACE", "--cap-add", "DAC_READ_SEARCH",
		"--sysctl", "net.ipv6.conf.all.disable_ipv6=0", "--sysctl", "net.ipv6.conf.default.disable_ipv6=0")
	pid, err := strconv.Atoi(e.Docker(t, "inspect", "-f", "{{.State.Pid}}", b.ID))
	if err != nil {
		t.Fatal(err)
	}
	host := nstest.Attach(t, pid)
	linkWorld(t, host)
	waitFirewalld(t, b)
	for _, cmd := range originCommands {
		e.Docker(t, append([]string{"exec", b.ID, "firewall-cmd", "--permanent"}, cmd...)...)
	}
	e.Docker(t, "exec", b.ID, "systemctl", "restart", "firewalld")
	waitFirewalld(t, b)
	t.Logf("firewalld %s; nft list table inet firewalld:\n%s", b.Exec("firewall-cmd", "--version"), host.Run(t, "nft", "list", "table", "inet", "firewalld"))

	sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: host.Path(), Root: "/proc/" + strconv.Itoa(pid) + "/root"})
	var partial *agent.PartialError
	if err != nil && !errors.As(err, &partial) {
		t.Fatalf("collect: %v", err)
	}
	fw := sec.(*snapshot.Firewall)
	if fw.Firewalld == nil {
		t.Fatal("no firewalld section though table inet firewalld is in the kernel")
	}
	if f := fw.Firewalld; f.DefaultZone != "public" || f.Backend != "nftables" || len(f.Notes) > 0 {
		t.Errorf("firewalld section: %+v; want default zone public, backend nftables, no notes", *f)
	}
	prog := netfilter.Compile(fw)
	world := netip.MustParseAddr("10.200.0.2")
	e.Docker(t, "cp", nstest.Hostdrift(t), b.ID+":/usr/local/bin/hostdrift")
	for _, c := range []struct {
		name    string
		src     netip.Addr
		port    uint16
		verdict netfilter.Verdict
		origin  string
		chain   string
	}{
		{"ssh", world, 22, netfilter.Allow, "firewalld zone public, service ssh", "filter_IN_public_allow"},
		{"http", world, 80, netfilter.Allow, "firewalld zone public, service http", "filter_IN_public_allow"},
		{"port", world, 8443, netfilter.Allow, "firewalld zone public, port 8443/tcp", "filter_IN_public_allow"},
		{"rich", richSource, 22, netfilter.Deny, `firewalld zone public, rich rule 'rule family="ipv4" source address="10.200.0.77" reject'`, "filter_IN_public_deny"},
		{"closed", world, 9999, netfilter.Deny, "firewalld zone public, target default (what no service, port or rich rule of the zone accepts)", "filter_IN_public"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := netfilter.Packet{Direction: netfilter.Inbound, Protocol: "tcp", Src: c.src, Dst: hostAddr, SrcPort: 40000, DstPort: c.port}
			res := prog.Simulate(p)
			text := netfilter.Explain(res, p)
			t.Logf("ingress: %s", text)
			if res.Verdict != c.verdict || res.Deciding == nil {
				t.Fatalf("verdict %s (deciding %+v), want %s", res.Verdict, res.Deciding, c.verdict)
			}
			if d := res.Deciding; d.Chain != c.chain || d.Origin != c.origin {
				t.Errorf("decided in chain %s by %q, want chain %s by %q", d.Chain, d.Origin, c.chain, c.origin)
			}
			if !strings.Contains(text, "set by "+c.origin) {
				t.Errorf("the finding's explanation does not name %q:\n%s", c.origin, text)
			}
			var out bytes.Buffer
			explain.Write(&out, fw, netfilter.Connection{Legs: []netfilter.Leg{{Packet: p, Result: res}}, Verdict: res.Verdict}, nil)
			if !strings.Contains(out.String(), "Made by: "+c.origin) {
				t.Errorf("hostdrift explain does not name %q:\n%s", c.origin, out.String())
			}
			// hostdrift explain as the administrator runs it on the host.
			cmd := e.Command("exec", b.ID, "/usr/local/bin/hostdrift", "explain", "in", "tcp", strconv.Itoa(int(c.port)), "--from", c.src.String())
			printed, _ := cmd.CombinedOutput()
			if c.name == "rich" && !strings.Contains(string(printed), "--list-rich-rules") {
				t.Errorf("hostdrift explain on the host does not say to remove the rich rule:\n%s", printed)
			}
			if !strings.Contains(string(printed), "Made by: "+c.origin) || !strings.Contains(string(printed), "set by "+c.origin) {
				t.Errorf("hostdrift explain on the host does not name %q:\n%s", c.origin, printed)
			}
			t.Logf("hostdrift explain in tcp %d --from %s:\n%s", c.port, c.src, printed)
		})
	}
	t.Run("builtin policy", func(t *testing.T) { checkQuiet(t, e, b.ID) })
}

// checkQuiet runs hostdrift check with the built-in policy and no
// configuration on the firewalld host: exit 0, every finding pass or skip.
func checkQuiet(t *testing.T, e *dockertest.Engine, id string) {
	cmd := e.Command("exec", id, "/usr/local/bin/hostdrift", "check", "--format", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run hostdrift check: %v", err)
	}
	var rep struct {
		Collectors []struct{ Name, Status, Reason string }
		Findings   []finding.Finding
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("hostdrift check: exit %d, no JSON report: %v\n%s\n%s", code, err, out, stderr.String())
	}
	for _, c := range rep.Collectors {
		if c.Status != "ok" && c.Status != "skipped" {
			t.Errorf("collector %s: %s: %s", c.Name, c.Status, c.Reason)
		}
	}
	counts := map[finding.Status]int{}
	for _, f := range rep.Findings {
		counts[f.Status]++
		if f.Status != finding.Pass && f.Status != finding.Skip {
			t.Errorf("%s %s: %s", f.Status, f.Check, f.Explanation)
		}
	}
	if code != 0 || len(rep.Findings) == 0 {
		t.Errorf("hostdrift check: exit %d with %d findings, want exit 0", code, len(rep.Findings))
	}
	t.Logf("hostdrift check on the firewalld host: exit %d, findings %v", code, counts)
}
