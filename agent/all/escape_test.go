package all_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/all"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// outsideFiles are host files, each with contents no collector could find
// anywhere but in that file: the marker words.
var outsideFiles = map[string]struct{ contents, marker string }{
	"/etc/resolv.conf": {"nameserver 192.0.2.53\nsearch resolvmarker.example\n", "resolvmarker"},
	"/etc/hosts":       {"192.0.2.10 hostsmarker.example hostsmarker\n", "hostsmarker"},
	"/etc/crontab":     {"SHELL=/bin/sh\n17 3 * * * root /usr/bin/crontabmarker --now\n", "crontabmarker"},
	"/etc/systemd/system/escape.service": {"[Unit]\nDescription=unitmarker service\n[Service]\nExecStart=/usr/bin/unitmarker\n[Install]\nWantedBy=multi-user.target\n",
		"unitmarker"},
	"/etc/passwd":                  {"root:x:0:0:root:/root:/bin/sh\npasswdmarker:x:4242:4242:passwdmarker:/home/passwdmarker:/bin/sh\n", "passwdmarker"},
	"/etc/sysctl.d/99-escape.conf": {"net.ipv4.sysctlmarker = 1\n", "sysctlmarker"},
	"/etc/fstab":                   {"/dev/fstabmarker /srv/fstabmarker ext4 defaults 0 2\n", "fstabmarker"},
	"/var/lib/dpkg/status":         {"Package: dpkgmarker\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n\n", "dpkgmarker"},
}

// collect runs every registered collector below root, with the policy
// asking for the content of the account and hosts files, and returns the
// snapshot as JSON.
func collect(t *testing.T, root string) string {
	t.Helper()
	snap := &snapshot.Snapshot{}
	want := func(p string) snapshot.FileWant {
		return snapshot.FileWant{Path: p, SHA256: true, Reveal: true, Patterns: []string{"marker"}}
	}
	agent.Run(t.Context(), snap, agent.Options{Env: agent.Env{Root: root, Wants: snapshot.Wants{
		Files:       []string{"/etc/passwd", "/etc/hosts", "/etc/fstab"},
		FileContent: []snapshot.FileWant{want("/etc/passwd"), want("/etc/hosts"), want("/etc/resolv.conf")},
	}}})
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A root whose configuration files are absolute links to files outside it
// (an image whose /etc/passwd links to /etc/passwd, read on a machine whose
// /etc/passwd is another) yields a snapshot with none of the outside files'
// contents: each link resolves inside the root, where its target does not
// exist. The same files copied into the root do appear, so each marker is
// one a collector reports when it reads that file.
func TestLinksNeverLeaveTheRoot(t *testing.T) {
	outside := t.TempDir()
	linked, copied := map[string]string{}, map[string]string{}
	i := 0
	for p, f := range outsideFiles {
		i++
		target := filepath.Join(outside, "f"+string(rune('a'+i)))
		if err := os.WriteFile(target, []byte(f.contents), 0o644); err != nil {
			t.Fatal(err)
		}
		linked[p[1:]] = "-> " + target
		copied[p[1:]] = f.contents
	}
	// Enough of a host around them that every collector reads them.
	base := map[string]string{
		"etc/group":              "root:x:0:\n",
		"usr/bin/crontabmarker@": "#!/bin/sh\n",
		"usr/bin/unitmarker@":    "#!/bin/sh\n",
		// An enabled timer inside the root whose service is the linked
		// unit file: the timers read the service's ExecStart.
		"etc/systemd/system/escape.timer":                     "[Timer]\nOnCalendar=*-*-* 03:17:00\n[Install]\nWantedBy=timers.target\n",
		"etc/systemd/system/timers.target.wants/escape.timer": "-> /etc/systemd/system/escape.timer",
	}
	for p, c := range base {
		linked[p], copied[p] = c, c
	}

	control := t.TempDir()
	fixture.Write(t, control, copied)
	seen := collect(t, control)
	for p, f := range outsideFiles {
		if !strings.Contains(seen, f.marker) {
			t.Errorf("control: %s copied into the root, yet %q is nowhere in the snapshot: the check below would prove nothing for it", p, f.marker)
		}
	}

	root := t.TempDir()
	fixture.Write(t, root, linked)
	got := collect(t, root)
	for p, f := range outsideFiles {
		if strings.Contains(got, f.marker) {
			t.Errorf("%s links to a file outside the root, and its content (%q) is in the snapshot: the link was followed out of --root", p, f.marker)
		}
	}
	if t.Failed() {
		t.Logf("snapshot below the linked root:\n%s", got)
	}
}
