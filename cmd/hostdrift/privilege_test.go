package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// leastCaps are the capabilities hostdrift needs to see everything it
// reads here; packaging/systemd/hostdrift.service grants the same set.
const leastCaps = "+net_admin,+net_raw,+dac_read_search,+sys_ptrace"

// asNobody runs hostdrift inside the namespace as user nobody holding only
// caps (ambient, so the dump tools it runs keep them); "" holds none.
func asNobody(ns *nstest.NS, caps string, args ...string) *exec.Cmd {
	priv := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	if caps != "" {
		priv = append(priv, "--inh-caps="+caps, "--ambient-caps="+caps)
	}
	priv = append(append(priv, "--"), args...)
	return ns.Command("setpriv", priv...)
}

func snapshotOf(t *testing.T, cmd *exec.Cmd) *snapshot.Snapshot {
	t.Helper()
	stdout, stderr, code := runCapture(t, cmd)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", cmd.Args, code, stderr)
	}
	s, err := snapshot.Decode(bytes.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLeastPrivilege: as nobody with CAP_NET_ADMIN, CAP_NET_RAW,
// CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE, hostdrift sees exactly what root
// sees (rules of all three backends, every socket's owner); with no
// capability it says precisely what it could not see, and a check of those
// areas is incomplete (exit 3), never a pass.
func TestLeastPrivilege(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "setpriv")
	nstest.RequireCommand(t, "iptables-legacy")
	bin := binary(t)
	ns := nstest.New(t)
	ns.Listen(t, "tcp4:127.0.0.1:8080", "udp4:0.0.0.0:5353")
	ns.Run(t, "iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	ns.Run(t, "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "23", "-j", "DROP")
	ns.Run(t, "nft", "add table inet hd; add chain inet hd out { type filter hook output priority 0; policy accept; }; add rule inet hd out tcp dport 25 reject")
	collectors := []string{bin, "snapshot", "--collectors", "listeners,firewall"}

	root := snapshotOf(t, ns.Command(collectors[0], collectors[1:]...))
	capped := snapshotOf(t, asNobody(ns, leastCaps, collectors...))
	for _, c := range capped.Collectors {
		if c.Status != snapshot.StatusOK {
			t.Errorf("with %s, collector %s: %s: %s", leastCaps, c.Name, c.Status, c.Reason)
		}
	}
	d := diff.Compare(root, capped, diff.Options{Areas: []string{snapshot.AreaFirewall, snapshot.AreaListeners}})
	for _, c := range d.Changes {
		t.Errorf("nobody with %s sees differently from root: %s", leastCaps, c.Summary())
	}
	for _, a := range d.Areas {
		if !a.Compared || a.OldObjects == 0 {
			t.Errorf("area %s: compared %v, %d objects (%s)", a.Name, a.Compared, a.OldObjects, a.NotCompared)
		}
	}
	owned := 0
	for _, s := range capped.Listeners.Sockets {
		if s.Process != nil && s.Process.Name == nstest.HelperName {
			owned++
		}
	}
	if owned != 2 {
		t.Errorf("with CAP_SYS_PTRACE nobody should see the owner of both sockets; saw %d", owned)
	}

	// No capability: precise about what is missing.
	bare := snapshotOf(t, asNobody(ns, "", collectors...))
	fw, _ := bare.Collector("firewall")
	if fw.Status == snapshot.StatusOK || !strings.Contains(fw.Reason, "CAP_NET_ADMIN") {
		t.Errorf("firewall without capabilities: %s: %q; want not ok, naming CAP_NET_ADMIN", fw.Status, fw.Reason)
	}
	ls, _ := bare.Collector("listeners")
	if ls.Status != snapshot.StatusPartial || !strings.Contains(ls.Reason, "CAP_SYS_PTRACE") {
		t.Errorf("listeners without capabilities: %s: %q; want partial, naming CAP_SYS_PTRACE", ls.Status, ls.Reason)
	}
	// File permissions without ptrace: the fd directories open, but the
	// kernel hides where their links lead. That is not "no owner".
	noPtrace := "+net_admin,+net_raw,+dac_read_search"
	blind := snapshotOf(t, asNobody(ns, noPtrace, collectors...))
	ls, _ = blind.Collector("listeners")
	if ls.Status != snapshot.StatusPartial || !strings.Contains(ls.Reason, "CAP_SYS_PTRACE") {
		t.Errorf("listeners with %s: %s: %q; want partial, naming CAP_SYS_PTRACE", noPtrace, ls.Status, ls.Reason)
	}
	if blind.Listeners.Unowned != 2 || strings.Contains(blind.Listeners.OwnerError, "no process") {
		t.Errorf("with %s: %d unowned, %q; want 2, and no claim that no process holds them", noPtrace, blind.Listeners.Unowned, blind.Listeners.OwnerError)
	}
	web := policyFile(t, `
listener "web" {
  port    = 8080
  process = "`+nstest.HelperName+`"
}
`)
	rep, code := runJSON(t, asNobody(ns, noPtrace, bin, "check", "--policy", web, "--format", "json"))
	want := "owner unknown: hostdrift could not read other processes' file descriptors (needs CAP_SYS_PTRACE)"
	if f := findingsByCheck(rep)["listener.web"]; code != exitIncomplete || !strings.HasPrefix(f, "error") || !strings.Contains(f, want) {
		t.Errorf("check with %s: exit %d, listener.web = %q; want exit %d and an error saying %q", noPtrace, code, f, exitIncomplete, want)
	}

	policy := policyFile(t, `
listener "web" {
  port    = 8080
  process = "`+nstest.HelperName+`"
}
ingress "ssh" {
  port   = 22
  expect = "allow"
}
`)
	rep, code = runJSON(t, asNobody(ns, "", bin, "check", "--policy", policy, "--format", "json"))
	if code != exitIncomplete {
		t.Errorf("check without capabilities: exit %d, want %d", code, exitIncomplete)
	}
	for check, f := range findingsByCheck(rep) {
		if !strings.HasPrefix(f, "error") {
			t.Errorf("%s = %q without capabilities; want error", check, f)
		}
	}
}
