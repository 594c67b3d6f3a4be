package dockertest

import (
	"os"
	"strings"
	"testing"
)

// TestEngine starts an engine, runs a busybox container on a labelled
// network, and checks that cleanup leaves nothing behind.
func TestEngine(t *testing.T) {
	var dir string
	t.Run("run", func(t *testing.T) {
		e := Start(t)
		dir = e.dir
		img := e.Busybox(t)
		e.Docker(t, "network", "create", "--label", Label, "--subnet", "10.98.0.0/24", "hdt-net")
		e.Docker(t, "run", "-d", "--name", "hdt-c", "--label", Label, "--network", "hdt-net", img, "sleep", "600")
		if got := e.Docker(t, "inspect", "-f", "{{.State.Running}} {{(index .NetworkSettings.Networks \"hdt-net\").IPAddress}}", "hdt-c"); !strings.HasPrefix(got, "true 10.98.0.") {
			t.Fatalf("container state and address = %q, want running on 10.98.0.0/24", got)
		}
		// dockerd's chains are in the test's namespace, not the machine's.
		if out := e.NS.Run(t, "iptables-save", "-t", "nat"); !strings.Contains(out, "10.98.0.0/24") {
			t.Errorf("the namespace's nat table has no MASQUERADE for the test network:\n%s", out)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("engine folder %s still there after cleanup (stat: %v)", dir, err)
	}
	if ms := mountsBelow(dir); len(ms) > 0 {
		t.Errorf("mounts left below %s: %v", dir, ms)
	}
}
