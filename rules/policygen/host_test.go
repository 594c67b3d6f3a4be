package policygen

import (
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Enabled services are proposed active and enabled (only enabled where
// systemd does not run); the sysctls /etc sets are proposed with their
// values, and one the kernel does not run with is left out, commented.
func TestProposeServicesAndSysctl(t *testing.T) {
	s := &snapshot.Snapshot{
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorServices, Status: snapshot.StatusOK}, {Name: snapshot.CollectorSysctl, Status: snapshot.StatusOK}},
		Services: &snapshot.Services{Source: snapshot.ServicesDBus, Running: true, Units: []snapshot.Unit{
			{Name: "nginx.service", LoadState: "loaded", ActiveState: "active", FileState: "enabled", File: "/lib/systemd/system/nginx.service"},
			{Name: "spare.service", LoadState: "loaded", ActiveState: "inactive", FileState: "disabled"},
			{Name: "ssh.socket", LoadState: "loaded", ActiveState: "active", FileState: "enabled"},
		}},
		Sysctl: &snapshot.Sysctl{Live: true, Params: []snapshot.SysctlParam{
			{Key: "kernel.pid_max", Value: "4194304", Exists: true, Configured: "4194304", Source: "/usr/lib/sysctl.d/50-pid-max.conf:1"},
			{Key: "net.ipv4.ip_forward", Value: "1", Exists: true, Configured: "1", Source: "/etc/sysctl.d/90-forward.conf:1"},
			{Key: "vm.swappiness", Value: "60", Exists: true, Configured: "10", Source: "/etc/sysctl.conf:3"},
		}},
	}
	cands := Propose(s, []string{snapshot.AreaServices, snapshot.AreaSysctl})
	var b strings.Builder
	if err := Write(&b, Header{Host: "web1", Version: "test"}, Settle(cands, s)); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"service \"nginx\" {\n  unit    = \"nginx\"\n  active  = true\n  enabled = true\n}",
		"kernel_param \"net.ipv4.ip_forward\" {\n  key        = \"net.ipv4.ip_forward\"\n  value      = \"1\"\n  persistent = true\n}",
		"# kernel_param \"vm.swappiness\" {",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("policy lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"spare", "ssh", "pid_max"} {
		if strings.Contains(text, not) {
			t.Errorf("policy proposes %s:\n%s", not, text)
		}
	}
}
