package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
)

// TestHostKindsOnDebootstrappedRoot reads a real debootstrapped Debian
// through --root: its dpkg database, accounts, unit files and sysctl.d.
// Nothing runs there, so what needs a running system is skipped, never
// guessed.
func TestHostKindsOnDebootstrappedRoot(t *testing.T) {
	root := debroot.Cached(t, "systemd", "systemd-sysv", "dbus", "cron")
	bin := binary(t)
	policy := policyFile(t, `
package "dpkg" {
  name    = "dpkg"
  version = ">= 1.21"
}
package "dpkg-too-old" {
  name    = "dpkg"
  version = "<< 1.0"
}
package "nginx" {
  name = "nginx"
}
package "no-telnet" {
  name      = "telnetd"
  installed = false
}
user "root" {
  name       = "root"
  uid        = 0
  unique_uid = true
  locked     = true
}
user "apt" {
  name  = "_apt"
  shell = "/usr/sbin/nologin"
}
group "sudo" {
  name    = "sudo"
  gid     = 27
}
service "cron" {
  unit    = "cron"
  enabled = true
}
service "cron-running" {
  unit   = "cron"
  active = true
}
service "no-such" {
  unit = "nginx"
}
kernel_param "boot" {
  key = "*"
}
`)
	r, code := runJSON(t, exec.Command(bin, "check", "--root", root, "--policy", policy, "--format", "json"))
	if code != exitDrift {
		t.Errorf("exit %d, want %d", code, exitDrift)
	}
	got := findingsByCheck(r)
	for check, want := range map[string][]string{
		"package.dpkg":         {"pass: dpkg is installed: dpkg:"},
		"package.dpkg-too-old": {"fail: dpkg:", "is at version 1.2", ", not < 1.0"},
		"package.nginx":        {"fail: nginx is not installed ("},
		"package.no-telnet":    {"pass: telnetd is not installed"},
		"user.root":            {"pass: user root: uid 0 gid 0 (root), home /root, shell /bin/bash, password locked; no other account has uid 0"},
		"user.apt":             {"pass: user _apt: uid "},
		"group.sudo":           {"pass: group sudo: gid 27"},
		"service.cron":         {"pass: cron.service: enabled, /lib/systemd/system/cron.service"},
		"service.cron-running": {"skip: whether units run is not known below --root (" + root + ")"},
		"service.no-such":      {"fail: no unit nginx.service (", "units read from unit files)"},
		"kernel_param.boot":    {"skip: the running kernel's values are not readable: the root read has no /proc"},
	} {
		for _, w := range want {
			if !strings.Contains(got[check], w) {
				t.Errorf("%s: %q lacks %q", check, got[check], w)
			}
		}
	}
}
