package jobs

import (
	"context"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// TestServicesOffline reads unit files below --root: enabled through a
// .wants link, masked through /dev/null, static, disabled, a drop-in, and
// an /etc copy that overrides the packaged unit.
func TestServicesOffline(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"lib/systemd/system/web.service":                         "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"etc/systemd/system/web.service":                         "[Service]\nExecStart=/bin/false\n[Install]\nWantedBy=multi-user.target\n",
		"etc/systemd/system/web.service.d/limits.conf":           "[Service]\nLimitNOFILE=65536\n",
		"etc/systemd/system/multi-user.target.wants/web.service": "-> /etc/systemd/system/web.service",
		"lib/systemd/system/telnet.service":                      "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"etc/systemd/system/telnet.service":                      "-> /dev/null",
		"lib/systemd/system/helper.service":                      "[Service]\nExecStart=/bin/true\n",
		"lib/systemd/system/spare.service":                       "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"lib/systemd/system/getty@.service":                      "[Service]\nExecStart=/bin/true\n",
	})
	sec, err := (&ServicesCollector{}).Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	s := sec.(*snapshot.Services)
	if s.Source != snapshot.ServicesFiles || s.Running {
		t.Errorf("source %s running %v", s.Source, s.Running)
	}
	got := map[string]snapshot.Unit{}
	for _, u := range s.Units {
		got[u.Name] = u
	}
	for name, want := range map[string]string{
		"web.service":    "enabled /etc/systemd/system/web.service 1",
		"telnet.service": "masked /etc/systemd/system/telnet.service 0",
		"helper.service": "static /lib/systemd/system/helper.service 0",
		"spare.service":  "disabled /lib/systemd/system/spare.service 0",
	} {
		u := got[name]
		if g := u.FileState + " " + u.File + " " + string(rune('0'+len(u.DropIns))); g != want {
			t.Errorf("%s: %q, want %q", name, g, want)
		}
	}
	if _, ok := got["getty@.service"]; ok {
		t.Error("a template is not a unit")
	}
}

// TestInstalledUnits derives, from files, the unit file states systemd's
// ListUnitFiles gives on the live host: masked through /dev/null or an
// empty file, an alias (which enables the unit it names), a unit linked from outside the lookup paths,
// enabled from /etc and from /run, generated, disabled, indirect (only
// Also=) and static; templates and files that are not units are left out,
// and the first folder of the lookup paths wins.
func TestInstalledUnits(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"lib/systemd/system/web.service":                            "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"etc/systemd/system/multi-user.target.wants/web.service":    "-> /lib/systemd/system/web.service",
		"lib/systemd/system/late.service":                           "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"run/systemd/system/multi-user.target.wants/late.service":   "-> /lib/systemd/system/late.service",
		"lib/systemd/system/telnet.service":                         "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
		"etc/systemd/system/telnet.service":                         "-> /dev/null",
		"lib/systemd/system/hwclock.service":                        "",
		"run/systemd/system/cups.service":                           "-> /dev/null",
		"etc/systemd/system/sshd.service":                           "-> /lib/systemd/system/ssh.service",
		"lib/systemd/system/ssh.service":                            "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n",
		"opt/app/app.service":                                       "[Service]\nExecStart=/bin/true\n",
		"etc/systemd/system/app.service":                            "-> /opt/app/app.service",
		"run/systemd/generator/-.mount":                             "[Mount]\nWhat=/dev/sda1\nWhere=/\n",
		"lib/systemd/system/spare.service":                          "[Service]\nExecStart=/bin/true\n[Install]\nRequiredBy=multi-user.target\n",
		"lib/systemd/system/pair.socket":                            "[Socket]\nListenStream=1\n[Install]\nAlso=pair.service\n",
		"lib/systemd/system/helper.service":                         "[Service]\nExecStart=/bin/true\n",
		"lib/systemd/system/getty@.service":                         "[Service]\nExecStart=/bin/true\n",
		"lib/systemd/system/README":                                 "not a unit\n",
		"lib/systemd/system/multi-user.target.wants/helper.service": "-> ../helper.service",
	})
	iu := readInstalledUnits(newRootFS((&agent.Env{Root: root}).FS()))
	want := map[string]string{
		"web.service":     "enabled /lib/systemd/system/web.service",
		"late.service":    "enabled-runtime /lib/systemd/system/late.service",
		"telnet.service":  "masked /etc/systemd/system/telnet.service",
		"hwclock.service": "masked /lib/systemd/system/hwclock.service",
		"cups.service":    "masked-runtime /run/systemd/system/cups.service",
		"sshd.service":    "alias /etc/systemd/system/sshd.service",
		"ssh.service":     "enabled /lib/systemd/system/ssh.service",
		"app.service":     "linked /etc/systemd/system/app.service",
		"-.mount":         "generated /run/systemd/generator/-.mount",
		"spare.service":   "disabled /lib/systemd/system/spare.service",
		"pair.socket":     "indirect /lib/systemd/system/pair.socket",
		"helper.service":  "static /lib/systemd/system/helper.service",
	}
	for name, p := range iu.set.files {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s (%s) listed: not a unit file systemd lists", name, p)
			continue
		}
		if got := iu.state(name) + " " + p; got != w {
			t.Errorf("%s: %q, want %q", name, got, w)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("%s not listed", name)
	}
}
