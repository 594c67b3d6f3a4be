package rules_test

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func sysctlSnapshot(t *testing.T, live, readOnly bool, applied string) *snapshot.Snapshot {
	return saved(t, &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorSysctl, Status: snapshot.StatusOK}},
		Sysctl: &snapshot.Sysctl{Live: live, ReadOnly: readOnly, AppliedBy: applied, Errors: []string{},
			Files: []string{"/usr/lib/sysctl.d/50-pid-max.conf", "/etc/sysctl.d/90-forward.conf"},
			Params: []snapshot.SysctlParam{
				{Key: "kernel.pid_max", Value: "4194304", Exists: live, Configured: "4194304", Source: "/usr/lib/sysctl.d/50-pid-max.conf:1"},
				{Key: "net.bridge.bridge-nf-call-iptables", Configured: "1", Source: "/etc/sysctl.d/90-forward.conf:2"},
				{Key: "net.ipv4.ip_forward", Value: "0", Exists: live, Configured: "1", Source: "/etc/sysctl.d/90-forward.conf:1"},
				{Key: "vm.swappiness", Value: "60", Exists: live},
			},
		},
	})
}

func TestKernelParamChecks(t *testing.T) {
	runKindCases(t, sysctlSnapshot(t, true, false, "systemd-sysctl"), []kindCase{
		{"value", `kernel_param "swap" {
  key   = "vm.swappiness"
  value = 10
}`, finding.Fail, []string{"vm.swappiness is 60, not 10", "sysctl -w vm.swappiness=10"}},
		{"value and persistent", `kernel_param "swap" {
  key        = "vm.swappiness"
  value      = "60"
  persistent = true
}`, finding.Fail, []string{"no sysctl.d file sets vm.swappiness = 60: it does not survive a reboot"}},
		{"runtime only is fine", `kernel_param "swap" { key = "vm.swappiness" }`, finding.Pass, []string{"vm.swappiness = 60 (not set by the boot configuration: the kernel's default)"}},
		{"forgotten sysctl -p", `kernel_param "fwd" { key = "net.ipv4.ip_forward" }`, finding.Fail, []string{"/etc/sysctl.d/90-forward.conf:1 sets net.ipv4.ip_forward = 1, but the kernel runs with 0: the next reboot changes it", "sysctl -w net.ipv4.ip_forward=1"}},
		{"slash form", `kernel_param "fwd" {
  key   = "net/ipv4/ip_forward"
  value = "0"
}`, finding.Pass, []string{"net.ipv4.ip_forward = 0"}},
		{"all", `kernel_param "boot" { key = "*" }`, finding.Fail, []string{"1 of 2 parameter(s) differ", "net.ipv4.ip_forward = 1, the kernel runs with 0", "1 set for parameters this kernel does not have (not judged): net.bridge.bridge-nf-call-iptables"}},
		{"kernel only", `kernel_param "boot" { key = "kernel.*" }`, finding.Pass, []string{"for all 1 parameter(s)"}},
		{"missing", `kernel_param "x" {
  key   = "net.bridge.bridge-nf-call-iptables"
  value = "1"
}`, finding.Fail, []string{"the running kernel has no parameter net.bridge.bridge-nf-call-iptables"}},
	})
	runKindCases(t, sysctlSnapshot(t, false, false, ""), []kindCase{
		{"offline all", `kernel_param "boot" { key = "*" }`, finding.Skip, []string{"no /proc"}},
		{"offline persistent", `kernel_param "fwd" {
  key        = "net.ipv4.ip_forward"
  value      = "1"
  persistent = true
}`, finding.Pass, []string{"/etc/sysctl.d/90-forward.conf:1 sets 1"}},
	})
	runKindCases(t, sysctlSnapshot(t, true, true, "systemd-sysctl"), []kindCase{
		{"container", `kernel_param "boot" { key = "*" }`, finding.Skip, []string{"read-only here (a container)"}},
	})
	// Without systemd as init nothing is known to apply sysctl.d at boot:
	// a difference is no claim about the next boot.
	runKindCases(t, sysctlSnapshot(t, true, false, ""), []kindCase{
		{"no systemd", `kernel_param "boot" { key = "*" }`, finding.Skip, []string{"systemd is not the init system here"}},
		{"no systemd one key", `kernel_param "fwd" { key = "net.ipv4.ip_forward" }`, finding.Skip, []string{"systemd is not the init system here", "the kernel runs with 0"}},
		{"no systemd value", `kernel_param "fwd" {
  key   = "net.ipv4.ip_forward"
  value = "1"
}`, finding.Fail, []string{"net.ipv4.ip_forward is 0, not 1"}},
	})
}
