package listeners

import (
	"strings"
)

// parseCgroup reads /proc/PID/cgroup and returns the systemd unit the process
// runs in and, for a container, its ID. The unit comes from the cgroup v2 line
// ("0::/system.slice/nginx.service") or, on cgroup v1, from name=systemd; the
// container ID from any line.
func parseCgroup(content string) (unit, containerID string) {
	var unified, systemd string
	for line := range strings.SplitSeq(content, "\n") {
		hier, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		controllers, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case hier == "0" && controllers == "":
			unified = path
		case controllers == "name=systemd":
			systemd = path
		}
		if containerID == "" {
			containerID = containerOf(path)
		}
	}
	path := unified
	if path == "" || path == "/" {
		path = systemd
	}
	return unitOf(path), containerID
}

// unitOf returns the innermost service or scope of a cgroup path: the unit for
// /system.slice/nginx.service, the session scope for
// /user.slice/user-0.slice/session-3.scope, the user's service under a user
// manager, and the manager itself (user@UID.service) for its own init.scope.
func unitOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if !strings.HasSuffix(p, ".service") && !strings.HasSuffix(p, ".scope") {
			continue
		}
		if p == "init.scope" && i > 0 && strings.HasPrefix(parts[i-1], "user@") && strings.HasSuffix(parts[i-1], ".service") {
			return parts[i-1]
		}
		return p
	}
	return ""
}

// containerRuntimes are the prefixes of the systemd scopes container runtimes
// create, as in docker-<ID>.scope.
var containerRuntimes = []string{"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-"}

// containerOf returns the container ID in a cgroup path: docker-<ID>.scope,
// cri-containerd-<ID>.scope, crio-<ID>.scope, libpod-<ID>.scope (systemd
// driver) or a bare <ID> directory as in /docker/<ID> and /kubepods/.../<ID>
// (cgroupfs driver). IDs are 64 hex digits.
func containerOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if j := strings.LastIndexByte(p, ':'); j >= 0 {
			p = p[j+1:] // kubepods-...slice:cri-containerd:<ID>
		}
		if isContainerID(p) {
			return p
		}
		if name, ok := strings.CutSuffix(p, ".scope"); ok {
			for _, rt := range containerRuntimes {
				if id, ok := strings.CutPrefix(name, rt); ok && isContainerID(id) {
					return id
				}
			}
		}
	}
	return ""
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
