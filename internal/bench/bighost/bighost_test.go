package bighost

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	if ConnCount(4) != 4*Conns || ConnCount(16) != Conns {
		t.Errorf("connections at 4x and 16x: %d and %d, want %d and %d", ConnCount(4), ConnCount(16), 4*Conns, Conns)
	}
	for _, scale := range []int{1, 4, 16} {
		if got := strings.Count(IptablesNft(scale), "\n-A "); got != scale*IptablesRules {
			t.Errorf("scale %d: iptables-nft rules = %d, want %d", scale, got, scale*IptablesRules)
		}
		if got := strings.Count(IptablesLegacy(scale), "\n-A "); got != scale*LegacyRules {
			t.Errorf("scale %d: legacy rules = %d, want %d", scale, got, scale*LegacyRules)
		}
		nft := Nft(scale)
		if got := strings.Count(nft, "\n\t\tip saddr "); got != scale*NftRules {
			t.Errorf("scale %d: nft rules = %d, want %d", scale, got, scale*NftRules)
		}
		if got := strings.Count(nft, ", ") + 1; got != scale*NftElements {
			t.Errorf("scale %d: set elements = %d, want %d", scale, got, scale*NftElements)
		}
		if got := strings.Count(HostsZone(scale), "\n"); got != scale*Names {
			t.Errorf("scale %d: names = %d, want %d", scale, got, scale*Names)
		}
		listeners, conns := 0, 0
		for _, specs := range SocketSpecs(scale) {
			for _, s := range specs {
				f := strings.Split(s, ":")
				n, err := strconv.Atoi(f[3])
				if err != nil {
					t.Fatalf("spec %q: %v", s, err)
				}
				switch f[0] {
				case "serve":
					listeners += n
				case "conns":
					conns += n
				}
			}
		}
		if last := ConnPort + ConnListeners(scale) - 1; last >= 32768 {
			t.Errorf("scale %d: connection listeners reach port %d, inside the ephemeral range their clients use", scale, last)
		}
		if listeners != scale*Listeners || conns != ConnCount(scale) {
			t.Errorf("scale %d: %d listeners and %d connections, want %d and %d", scale, listeners, conns, scale*Listeners, ConnCount(scale))
		}
	}
}

func TestNftSetAddrUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := range 16 * NftElements {
		a := NftSetAddr(i).String()
		if seen[a] {
			t.Fatalf("address %s twice (element %d)", a, i)
		}
		seen[a] = true
	}
}

func TestWriteRoot(t *testing.T) {
	dir := t.TempDir()
	for _, write := range []func(string) error{WriteBase, func(d string) error { return WriteCron(d, 1) }, func(d string) error { return WriteTimers(d, 1) }} {
		if err := write(dir); err != nil {
			t.Fatal(err)
		}
	}
	entries := 0
	files, _ := filepath.Glob(filepath.Join(dir, "etc/cron.d/*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line != "" && line[0] >= '0' && line[0] <= '9' {
				entries++
			}
		}
	}
	if entries != CronEntries {
		t.Errorf("cron.d entries = %d, want %d", entries, CronEntries)
	}
	timers, _ := filepath.Glob(filepath.Join(dir, "etc/systemd/system/*.timer"))
	services, _ := filepath.Glob(filepath.Join(dir, "etc/systemd/system/*.service"))
	stamps, _ := filepath.Glob(filepath.Join(dir, "var/lib/systemd/timers/stamp-*"))
	wants, _ := filepath.Glob(filepath.Join(dir, "etc/systemd/system/timers.target.wants/*"))
	if len(timers) != Timers || len(services) != Timers || len(stamps) != Timers || len(wants) != Timers {
		t.Errorf("timers %d, services %d, stamps %d, enabled %d; want %d of each", len(timers), len(services), len(stamps), len(wants), Timers)
	}
}
