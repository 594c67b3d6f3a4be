package snapshot

import "testing"

// Units without a file of their own and glob-set sysctls are not baseline
// objects: they come and go with containers and sessions.
func TestHostAreaObjectsLeaveOutNoise(t *testing.T) {
	s := &Services{Units: []Unit{
		{Name: "nginx.service", FileState: "enabled", File: "/lib/systemd/system/nginx.service", ActiveState: "failed"},
		{Name: "apt-daily.service", FileState: "static", File: "/lib/systemd/system/apt-daily.service", ActiveState: "activating"},
		{Name: "docker-abc.scope", ActiveState: "active"},
		{Name: "var-lib-docker-overlay2-x-merged.mount", FileState: "transient", File: "/run/systemd/transient/x.mount"},
		{Name: "var.mount", FileState: "generated", File: "/run/systemd/generator/var.mount"},
	}}
	objs := s.Objects()
	if len(objs) != 2 || objs[0].Fields["failed"] != "true" || objs[1].Fields["failed"] != "" || objs[1].Fields["active_state"] != "" {
		t.Errorf("unit objects: %+v", objs)
	}
	sy := &Sysctl{Params: []SysctlParam{{Key: "vm.swappiness", Value: "60"}, {Key: "net.ipv4.conf.veth1.rp_filter", Glob: "net.ipv4.conf.*.rp_filter"}}}
	if o := sy.Objects(); len(o) != 1 || o[0].ID != "vm.swappiness" {
		t.Errorf("sysctl objects: %+v", o)
	}
}
