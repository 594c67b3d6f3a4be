package docker

import (
	"fmt"
	"path"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// dockerUnits are the systemd units that start dockerd: the service, and
// the socket that starts it on the first connection.
var dockerUnits = []string{"docker.service", "docker.socket"}

// Paths of systemd the collector reads.
const (
	// etcUnitDir holds the links `systemctl enable` makes, in its
	// wantsSuffix folders, and those `systemctl mask` makes.
	etcUnitDir  = "/etc/systemd/system"
	wantsSuffix = ".wants"
	// systemdDir exists while systemd runs.
	systemdDir = agent.SystemdDir
)

// enabledUnits lists which of dockerUnits are enabled below the root, read
// from the symlinks `systemctl enable` makes in /etc/systemd/system/*.wants
// (nothing is run). A unit masked in /etc/systemd/system (a link to
// /dev/null) is not enabled, whatever its wants links say.
func enabledUnits(env *agent.Env) []string {
	host := env.FS()
	wants, _ := host.Glob(path.Join(etcUnitDir, "*"+wantsSuffix))
	var out []string
	for _, u := range dockerUnits {
		if target, err := host.Readlink(path.Join(etcUnitDir, u)); err == nil && target == "/dev/null" {
			continue
		}
		for _, w := range wants {
			if _, err := host.Lstat(path.Join(w, u)); err == nil {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// notRunning judges an installed dockerd whose socket does not answer
// (why: "does not exist", or accepts no connections). With neither unit
// enabled, Docker is installed but not in use: an absent engine, not a
// fault. With one enabled where systemd runs, systemd was asked to run it
// and it does not: an error naming the unit. Where systemd is not the init
// (a container, another init), enabled units start nothing, so Docker is
// not in use either, and the reason says so.
func notRunning(env *agent.Env, daemon, socket, why string) (snapshot.Section, error) {
	enabled := enabledUnits(env)
	if len(enabled) > 0 && !env.SystemdRuns() {
		return &snapshot.Docker{Installed: daemon, Absent: fmt.Sprintf("Docker is installed but not in use: %s enabled, but systemd is not running here (no /run/systemd/system), so nothing starts it (dockerd at %s; %s %s)",
			strings.Join(enabled, " and "), daemon, socket, why)}, nil
	}
	if len(enabled) == 0 {
		return &snapshot.Docker{Installed: daemon, Absent: fmt.Sprintf("Docker is installed but not in use: %s are disabled and not running (dockerd at %s; %s %s)",
			strings.Join(dockerUnits, " and "), daemon, socket, why)}, nil
	}
	verb := "is"
	if len(enabled) > 1 {
		verb = "are"
	}
	return nil, fmt.Errorf("%s %s enabled but not running (the socket %s %s): start it (systemctl start docker) and read why it stopped (journalctl -u docker)",
		strings.Join(enabled, " and "), verb, socket, why)
}
