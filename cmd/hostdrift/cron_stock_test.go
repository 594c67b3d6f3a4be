package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/policies"
)

// builtinJobsPolicy writes the built-in jobs.hcl to a policy file.
func builtinJobsPolicy(t *testing.T) string {
	t.Helper()
	files, err := policies.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/jobs.hcl") {
			return policyFile(t, string(f.Text))
		}
	}
	t.Fatal("no jobs.hcl in the built-in policy")
	return ""
}

// On a stock Debian server root (an image that boots systemd, no MTA), the
// built-in cron checks pass: Debian's own jobs do nothing under systemd.
// Before, cron.output-not-lost failed on them. A job an admin adds is what
// the checks are for; where cron is not installed, the packages' jobs are
// no drift (skip), the admin's job is (fail, by name).
func TestBuiltinCronChecksOnStockDebian(t *testing.T) {
	root := debroot.Copy(t, debroot.Cached(t, "cron", "dbus", "logrotate", "man-db", "nftables", "nginx", "openssh-server", "systemd", "systemd-sysv", "unattended-upgrades"))
	bin, policy := binary(t), builtinJobsPolicy(t)
	check := func(step string) map[string]finding.Finding {
		t.Helper()
		rep, _ := runJSON(t, exec.Command(bin, "check", "--root", root, "--policy", policy, "--format", "json"))
		out := map[string]finding.Finding{}
		for _, f := range rep.Findings {
			if strings.HasPrefix(f.Check, "cron.") {
				out[f.Check] = f
			}
		}
		if len(out) != 3 {
			t.Fatalf("%s: cron findings %v", step, out)
		}
		return out
	}
	expect := func(step string, fs map[string]finding.Finding, check string, status finding.Status, want ...string) {
		t.Helper()
		f := fs[check]
		if f.Status != status {
			t.Errorf("%s: %s is %s, want %s: %s", step, check, f.Status, status, f.Explanation)
		}
		for _, w := range want {
			if !strings.Contains(f.Explanation, w) {
				t.Errorf("%s: %s lacks %q: %s", step, check, w, f.Explanation)
			}
		}
	}
	write := func(p, text string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, p), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}

	fs := check("stock")
	expect("stock", fs, "cron.output-not-lost", finding.Pass, "7 job(s) because systemd runs", "/etc/cron.d/e2scrub_all:1", "4 job(s) because the job only runs run-parts")
	expect("stock", fs, "cron.programs-exist", finding.Pass)

	write("usr/local/bin/backup", "#!/bin/sh\n", 0o755)
	write("etc/cron.d/backup", "0 1 * * * root /usr/local/bin/backup\n", 0o644)
	fs = check("admin job")
	expect("admin job", fs, "cron.output-not-lost", finding.Fail, "1 job(s) that send it to mail: /etc/cron.d/backup:1")

	// cron removed (its program and table), and an image that boots
	// another init: the packages' jobs would run, were cron there.
	for _, p := range []string{"usr/sbin/cron", "etc/crontab", "sbin/init"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	fs = check("no cron")
	expect("no cron", fs, "cron.daemon-running", finding.Fail, "cron is not installed", "someone added never run: /etc/cron.d/backup:1", "installed by packages")

	if err := os.Remove(filepath.Join(root, "etc/cron.d/backup")); err != nil {
		t.Fatal(err)
	}
	fs = check("no cron, packages' jobs only")
	expect("no cron, packages' jobs only", fs, "cron.daemon-running", finding.Skip, "cron is not installed; 7 job(s) in /etc/cron.* were installed by packages (apt, dpkg, e2fsprogs, logrotate, man-db)")
	expect("no cron, packages' jobs only", fs, "cron.output-not-lost", finding.Skip)
}
