package crontab

import (
	"strings"
	"testing"
)

func TestSystemdGuarded(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		want bool
	}{
		// Debian's own (e2fsprogs, php).
		{"test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r", true},
		{"test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron", true},
		{"[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi", true},
		{"[ -d /run/systemd/system/ ] || { cd / && run-parts --report /etc/cron.daily; }", true},
		{"test ! -d /run/systemd/system && /usr/local/bin/job", false}, // && on absence: no guard form known
		{"if ! [ -d /run/systemd/system ]; then /usr/bin/x; fi;", true},
		// What runs anyway.
		{"test -e /run/systemd/system || /usr/bin/a; /usr/bin/b", false},
		{"test -e /run/systemd/system || /usr/bin/a && /usr/bin/b", false},
		{"test -e /run/systemd/system || /usr/bin/a & /usr/bin/b", false},
		{"test -e /run/systemd/system && /usr/bin/a", false},
		{"test -e /run/systemd/system ||", false},
		{"if [ ! -d /run/systemd/system ]; then a; else b; fi", false},
		{"if [ ! -d /run/systemd/system ]; then a; fi; b", false},
		{"if [ -d /run/systemd/system ]; then a; fi", false},
		{"test -e /run/systemd/other || /usr/bin/a", false},
		{"/usr/local/bin/backup.sh >> /var/log/backup.log 2>&1", false},
		{"cd / && run-parts --report /etc/cron.hourly", false},
		{"", false},
	} {
		if got := SystemdGuarded(c.cmd); got != c.want {
			t.Errorf("%q: guarded %t, want %t", c.cmd, got, c.want)
		}
	}
}

func TestSystemdGuardedScript(t *testing.T) {
	for _, c := range []struct {
		name, script string
		line         int // 0: not guarded
	}{
		{"dpkg", "#!/bin/sh\n\n# Skip if systemd is running.\nif [ -d /run/systemd/system ]; then\n  exit 0\nfi\n\n/usr/libexec/dpkg/dpkg-db-backup\n", 4},
		{"man-db", "#!/bin/sh\n#\n# man-db cron daily\n\nset -e\n\nif [ -d /run/systemd/system ]; then\n    # Skip in favour of systemd timer.\n    exit 0\nfi\n", 7},
		{"one line", "#!/bin/bash\nif test -d /run/systemd/system; then exit 0; fi\nrun\n", 2},
		{"and exit", "#!/usr/bin/env sh\n[ -d /run/systemd/system ] && exit 0\nrun\n", 2},
		{"exit without status", "#!/bin/sh\n[ -e /run/systemd/system ] && exit\n", 2},
		{"exit 1 is a failure", "#!/bin/sh\n[ -d /run/systemd/system ] && exit 1\n", 0},
		{"negated", "#!/bin/sh\nif [ ! -d /run/systemd/system ]; then\n exit 0\nfi\n", 0},
		{"work first", "#!/bin/sh\n/usr/bin/work\nif [ -d /run/systemd/system ]; then exit 0; fi\n", 0},
		{"more in the then", "#!/bin/sh\nif [ -d /run/systemd/system ]; then\n  work\n  exit 0\nfi\n", 0},
		{"no shebang", "if [ -d /run/systemd/system ]; then exit 0; fi\n", 0},
		{"python", "#!/usr/bin/python3\nif [ -d /run/systemd/system ]; then exit 0; fi\n", 0},
		{"empty", "", 0},
	} {
		line, ok := SystemdGuardedScript(strings.NewReader(c.script))
		if ok != (c.line != 0) || (ok && line != c.line) {
			t.Errorf("%s: guarded %t at line %d, want line %d", c.name, ok, line, c.line)
		}
	}
}

func FuzzSystemdGuard(f *testing.F) {
	f.Add("test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r")
	f.Add("[ -x /x ] && if [ ! -d /run/systemd/system ]; then /x; fi")
	f.Add("#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then\n exit 0\nfi\n")
	f.Add("#!/bin/sh\n[ -d /run/systemd/system ] && exit 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		SystemdGuarded(s)
		if line, ok := SystemdGuardedScript(strings.NewReader(s)); ok && (line < 2 || line > maxGuardLines) {
			t.Fatalf("guard at line %d", line)
		}
	})
}
