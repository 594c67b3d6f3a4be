package rules_test

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func servicesSnapshot(t *testing.T, source string) *snapshot.Snapshot {
	zero, three := uint32(0), uint32(3)
	st := 1
	return saved(t, &snapshot.Snapshot{
		Schema: snapshot.Schema, TakenAt: jobsNow,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorServices, Status: snapshot.StatusOK}},
		Services: &snapshot.Services{Source: source, Running: source == snapshot.ServicesDBus, Errors: []snapshot.FileError{}, Units: []snapshot.Unit{
			{Name: "nginx.service", LoadState: "loaded", ActiveState: "active", SubState: "running", FileState: "enabled", File: "/lib/systemd/system/nginx.service", Restarts: &zero, Result: "success"},
			{Name: "app.service", LoadState: "loaded", ActiveState: "failed", SubState: "failed", FileState: "enabled", File: "/etc/systemd/system/app.service",
				DropIns: []string{"/etc/systemd/system/app.service.d/override.conf"}, Restarts: &three, Result: "exit-code", ExitStatus: &st},
			{Name: "telnet.service", LoadState: "masked", ActiveState: "inactive", SubState: "dead", FileState: "masked", File: "/etc/systemd/system/telnet.service"},
			{Name: "ghost.service", LoadState: "not-found", ActiveState: "inactive"},
			{Name: "var.mount", LoadState: "loaded", ActiveState: "active", SubState: "mounted", FileState: "generated", File: "/run/systemd/generator/var.mount"},
		}},
	})
}

func TestServiceChecks(t *testing.T) {
	runKindCases(t, servicesSnapshot(t, snapshot.ServicesDBus), []kindCase{
		{"active enabled", `service "web" {
  unit    = "nginx"
  active  = true
  enabled = true
  failed  = false
}`, finding.Pass, []string{"nginx.service: active (running), enabled, /lib/systemd/system/nginx.service"}},
		{"failed", `service "app" {
  unit         = "app.service"
  active       = true
  max_restarts = 2
  drop_ins     = false
}`, finding.Fail, []string{"app.service (failed (failed), enabled, /etc/systemd/system/app.service, drop-ins /etc/systemd/system/app.service.d/override.conf, result exit-code (status 1), restarted 3 time(s)): it is not active (failed); systemd restarted it 3 time(s), more than 2", "drop-ins override its unit file", "systemctl start app.service"}},
		{"no failed units", `service "no-failed" {
  unit   = "*"
  failed = false
}`, finding.Fail, []string{"1 of 4 unit(s) matching *:", "app.service (failed", "it is failed", "journalctl -b -u app.service"}},
		{"no failed mounts", `service "mounts" {
  unit   = "*.mount"
  failed = false
}`, finding.Pass, []string{"all 1 unit(s) matching *.mount: not failed"}},
		{"masked", `service "telnet" {
  unit    = "telnet"
  enabled = true
}`, finding.Fail, []string{"it is masked", "systemctl unmask telnet.service"}},
		{"masked not enabled", `service "telnet" {
  unit    = "telnet"
  enabled = false
  active  = false
}`, finding.Pass, nil},
		{"absent", `service "x" { unit = "ghost" }`, finding.Fail, []string{"no unit ghost.service (5 units read from the running systemd)"}},
		{"must be absent", `service "x" {
  unit   = "ghost"
  exists = false
}`, finding.Pass, nil},
		{"file", `service "web" {
  unit = "app"
  file = "/lib/systemd/system/app.service"
}`, finding.Fail, []string{"it is loaded from /etc/systemd/system/app.service, not /lib/systemd/system/app.service"}},
		{"glob none", `service "php" {
  unit   = "php*-fpm.service"
  exists = true
}`, finding.Fail, []string{"no unit matches php*-fpm.service"}},
	})
	runKindCases(t, servicesSnapshot(t, snapshot.ServicesFiles), []kindCase{
		{"offline runtime", `service "no-failed" {
  unit   = "*"
  failed = false
}`, finding.Skip, []string{"systemd is not running here"}},
		{"offline enabled", `service "web" {
  unit    = "nginx"
  enabled = true
}`, finding.Pass, nil},
	})
}
