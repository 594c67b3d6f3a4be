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
