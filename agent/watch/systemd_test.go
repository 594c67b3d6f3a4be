package watch

import (
	"context"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

// TestSystemd boots a Debian root with systemd as PID 1 in a container,
// follows its system bus from outside, and starts, stops, fails and
// enables units in it: each change is an event naming services and timers.
// A broken bus connection is reported and opened again.
func TestSystemd(t *testing.T) {
	e := dockertest.Start(t)
	root := debroot.Copy(t, debroot.Cached(t, "systemd", "systemd-sysv", "dbus", "cron"))
	fixture.Write(t, root, map[string]string{
		"etc/systemd/system/hdw.service":      "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n",
		"etc/systemd/system/hdw-fail.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n",
	})
	const image = "hostdrift-test/watch-systemd:latest"
	e.Import(t, root, image)
	b := e.BootSystemd(t, image, "--network", "none")
	pid := e.Docker(t, "inspect", "-f", "{{.State.Pid}}", b.ID)
	// Through a proxy the test can cut, to break the connection.
	p := newSocketProxy(t, "/proc/"+pid+"/root/run/dbus/system_bus_socket")
	ch := startSource(t, Options{SystemBus: "unix:path=" + p.path}, newSystemd)

	b.Exec("systemctl", "start", "hdw.service")
	ev, _ := waitEvent(t, ch, "hdw started", about("services", "unit hdw.service: ", "ActiveState=active"))
	if ev.Source != "systemd" || !about("timers")(ev) {
		t.Errorf("event %+v: want source systemd, collectors services and timers", ev)
	}
	waitEvent(t, ch, "the start job's result", about("services", "unit hdw.service: job done"))
	b.Exec("systemctl", "stop", "hdw.service")
	waitEvent(t, ch, "hdw stopped", about("services", "unit hdw.service: ", "ActiveState=inactive"))
	b.Exec("systemctl", "start", "hdw-fail.service")
	waitEvent(t, ch, "hdw-fail failed", about("services", "unit hdw-fail.service: ", "Result=exit-code"))
	p.cut()
	waitEvent(t, ch, "the bus connection broke", about("services", "broke"))
	waitEvent(t, ch, "the bus connection is back", about("services", "is back"))
	b.Exec("systemctl", "enable", "hdw.service")
	waitEvent(t, ch, "hdw enabled", about("services", "unit files changed"))
	waitEvent(t, ch, "the reload enable makes", about("services", "systemd reloaded"))
}

// TestSystemdAbsent: no bus, or another root, is a clear error.
func TestSystemdAbsent(t *testing.T) {
	opts := Options{SystemBus: "unix:path=" + t.TempDir() + "/none"}
	if _, err := newSystemd(context.Background(), &opts); err == nil || !strings.Contains(err.Error(), "no D-Bus system bus at") {
		t.Errorf("no bus: %v", err)
	}
	opts = Options{Env: agent.Env{Root: t.TempDir()}}
	if _, err := newSystemd(context.Background(), &opts); err == nil || !strings.Contains(err.Error(), "not the audited host's") {
		t.Errorf("another root: %v", err)
	}
	opts.Collectors = []string{"cron"}
	if s, err := newSystemd(context.Background(), &opts); s.Source != nil || err != nil {
		t.Errorf("services and timers not asked for: %v, %v", s, err)
	}
}

func TestUnitFromPath(t *testing.T) {
	for p, want := range map[string]string{
		"/org/freedesktop/systemd1/unit/backup_2dd_2eservice": "backup-d.service",
		"/org/freedesktop/systemd1/unit/ok_2etimer":           "ok.timer",
		"/org/freedesktop/systemd1/unit/a_5fb_2eservice":      "a_b.service",
		"/org/freedesktop/systemd1/unit/trail_2":              "trail_2",
		"/org/freedesktop/systemd1":                           "",
	} {
		if got := unitFromPath(p); got != want {
			t.Errorf("unitFromPath(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestUnitChange: a unit first seen at rest (loaded by a query) is no
// event; a change from what was seen is.
func TestUnitChange(t *testing.T) {
	s := &systemdSource{last: map[string]string{}}
	v := func(kv ...string) map[string]dbus.Variant {
		m := map[string]dbus.Variant{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = dbus.MakeVariant(kv[i+1])
		}
		return m
	}
	if d, ok := s.unitChange("a.service", v("ActiveState", "inactive", "SubState", "dead")); ok {
		t.Errorf("a unit loaded at rest: %q", d)
	}
	if d, ok := s.unitChange("a.service", v("ActiveState", "inactive", "SubState", "dead")); ok {
		t.Errorf("nothing changed: %q", d)
	}
	if d, ok := s.unitChange("a.service", v("ActiveState", "failed", "SubState", "failed")); !ok || d != "unit a.service: ActiveState=failed SubState=failed" {
		t.Errorf("failed: %q, %v", d, ok)
	}
	if d, ok := s.unitChange("b.service", v("ActiveState", "active")); !ok || !strings.Contains(d, "ActiveState=active") {
		t.Errorf("first seen active: %q, %v", d, ok)
	}
}
