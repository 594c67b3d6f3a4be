package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestKernelParamsInNamespace: a fixture root's sysctl.d sets
// net.ipv4.ip_forward to the machine's own value, and a fresh network
// namespace runs with the other one. Read with --netns, the namespace's
// value is judged (the machine's would pass), and the finding names the
// file and line that the next boot applies.
func TestKernelParamsInNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "sysctl")
	bin := binary(t)
	own, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSpace(string(own))
	other := map[string]string{"0": "1", "1": "0"}[host]
	ns := nstest.New(t)
	ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward="+other)

	root := filepath.Join(nstest.Dir(t), "sysctl-root-"+ns.Name)
	t.Cleanup(func() { os.RemoveAll(root) })
	fixture.Write(t, root, map[string]string{
		"etc/sysctl.d/90-forward.conf":    "# routes for the containers\nnet.ipv4.ip_forward = " + host + "\n",
		"usr/lib/sysctl.d/50-vendor.conf": "-net.ipv4.conf.all.rp_filter = 7\n",
		"etc/sysctl.d/50-vendor.conf":     "-> /dev/null",
		// systemd is this root's init: systemd-sysctl applies sysctl.d.
		"run/systemd/system/.keep": "",
	})
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "proc", "proc", filepath.Join(root, "proc")).CombinedOutput(); err != nil {
		t.Fatalf("mount proc: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", filepath.Join(root, "proc")).Run() })

	policy := policyFile(t, `
kernel_param "boot-config" {
  key = "net.*"
}
kernel_param "forward" {
  key   = "net.ipv4.ip_forward"
  value = "`+other+`"
}
kernel_param "forward-persistent" {
  key        = "net.ipv4.ip_forward"
  value      = "`+other+`"
  persistent = true
}
`)
	r, code := runJSON(t, exec.Command(bin, "check", "--root", root, "--netns", ns.Path(), "--policy", policy, "--format", "json"))
	if code != exitDrift {
		t.Errorf("exit %d, want %d", code, exitDrift)
	}
	got := findingsByCheck(r)
	for check, want := range map[string][]string{
		"kernel_param.boot-config":        {"fail: 1 of 1 parameter(s) differ", "/etc/sysctl.d/90-forward.conf:2 sets net.ipv4.ip_forward = " + host + ", the kernel runs with " + other, "net.* read in network namespace " + ns.Path()},
		"kernel_param.forward":            {"pass: net.ipv4.ip_forward = " + other, "in network namespace " + ns.Path()},
		"kernel_param.forward-persistent": {"fail: /etc/sysctl.d/90-forward.conf:2 sets net.ipv4.ip_forward = " + host + ", not " + other + ": the next reboot sets " + host},
	} {
		for _, w := range want {
			if !strings.Contains(got[check], w) {
				t.Errorf("%s: %q lacks %q", check, got[check], w)
			}
		}
	}
}
