package listeners

import "testing"

func TestParseCgroup(t *testing.T) {
	const id = "3f5e1c0b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
	tests := []struct {
		name, content, unit, container string
	}{
		{"v2 service", "0::/system.slice/nginx.service\n", "nginx.service", ""},
		{"v2 session scope", "0::/user.slice/user-0.slice/session-3.scope\n", "session-3.scope", ""},
		{"user manager itself", "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", "user@1000.service", ""},
		{"user service", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service\n", "syncthing.service", ""},
		{"delegated subtree", "0::/system.slice/containerd.service/some/sub\n", "containerd.service", ""},
		{"pid 1", "0::/init.scope\n", "init.scope", ""},
		{"root cgroup", "0::/\n", "", ""},
		{"docker systemd driver", "0::/system.slice/docker-" + id + ".scope\n", "docker-" + id + ".scope", id},
		{"docker cgroupfs v2", "0::/docker/" + id + "\n", "", id},
		{"kubernetes containerd", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-" + id + ".scope\n", "cri-containerd-" + id + ".scope", id},
		{"kubernetes cgroupfs", "0::/kubepods/besteffort/pod1234-5678/" + id + "\n", "", id},
		{"kubernetes colon form", "0::/kubepods-besteffort-pod1234.slice:cri-containerd:" + id + "\n", "", id},
		{"crio", "0::/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope\n", "crio-" + id + ".scope", id},
		{"crio conmon is not the container", "0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-" + id + ".scope\n", "crio-conmon-" + id + ".scope", ""},
		{"podman nested", "0::/machine.slice/libpod-" + id + ".scope/container\n", "libpod-" + id + ".scope", id},
		{"short id is not a container", "0::/system.slice/docker-abc123.scope\n", "docker-abc123.scope", ""},
		{
			"v1 with name=systemd",
			"12:pids:/system.slice/sshd.service\n11:memory:/system.slice/sshd.service\n1:name=systemd:/system.slice/sshd.service\n",
			"sshd.service", "",
		},
		{
			"v1 docker",
			"11:memory:/docker/" + id + "\n2:cpu,cpuacct:/docker/" + id + "\n1:name=systemd:/docker/" + id + "\n",
			"", id,
		},
		{
			"hybrid prefers unified line",
			"1:name=systemd:/system.slice/cron.service\n0::/system.slice/cron.service\n",
			"cron.service", "",
		},
		{
			"hybrid with empty unified falls back to systemd",
			"1:name=systemd:/system.slice/cron.service\n0::/\n",
			"cron.service", "",
		},
		{"garbage", "nonsense\n\n:\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit, container := parseCgroup(tt.content)
			if unit != tt.unit || container != tt.container {
				t.Errorf("parseCgroup(%q) = %q, %q; want %q, %q", tt.content, unit, container, tt.unit, tt.container)
			}
		})
	}
}
