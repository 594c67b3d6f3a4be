package policygen

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// The mounts fstab names are proposed with their flags (one whose fstab
// line disagrees is written commented out), Docker's and loopback links
// are not proposed, and a public address gets a PTR check.
func TestProposeBreadth(t *testing.T) {
	s := &snapshot.Snapshot{
		Collectors: []snapshot.CollectorStatus{{Name: "host", Status: snapshot.StatusOK}, {Name: "mounts", Status: snapshot.StatusOK}},
		Host: snapshot.Host{Interfaces: []snapshot.Interface{
			{Name: "lo", Up: true, Loopback: true, MTU: 65536},
			{Name: "eth0", Up: true, MTU: 1500, OperState: "up", Addresses: []snapshot.Address{{IP: netip.MustParseAddr("198.51.100.7"), PrefixLen: 24}, {IP: netip.MustParseAddr("10.0.0.5"), PrefixLen: 8}}},
			{Name: "br-0123456789ab", Up: true, MTU: 1500},
			{Name: "veth1234", Up: true, MTU: 1500},
		}},
		Mounts: &snapshot.Mounts{Live: true,
			Mounts: []snapshot.Mount{
				{MountPoint: "/", Source: "/dev/sda1", FSType: "ext4", Options: []string{"rw", "relatime"}, TotalBytes: 10e9, UsedBytes: 1e9, AvailBytes: 9e9},
				{MountPoint: "/tmp", Source: "tmpfs", FSType: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "noexec"}},
				{MountPoint: "/var/lib/docker/overlay2/x/merged", Source: "overlay", FSType: "overlay", Options: []string{"rw"}},
			},
			Fstab: []snapshot.FstabEntry{
				{Line: 1, Source: "/dev/sda1", MountPoint: "/", FSType: "ext4", Options: []string{"defaults"}},
				{Line: 2, Source: "tmpfs", MountPoint: "/tmp", FSType: "tmpfs", Options: []string{"nosuid"}},
			}},
	}
	cands := Propose(s, []string{snapshot.AreaMounts, snapshot.AreaInterfaces})
	var b strings.Builder
	if err := Write(&b, Header{Host: "h", Version: "test"}, Settle(cands, s)); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"mount \"space\" {\n  path             = \"*\"\n  min_free_percent = 5\n}",
		"mount \"root\" {\n  path   = \"/\"\n  fstype = \"ext4\"\n  fstab  = true\n}",
		"# Not true on this host now, so left out: fail: /tmp is mounted noexec,nodev now, but line 2 of /etc/fstab does not say so",
		"interface \"if-eth0\" {\n  name = \"eth0\"\n  mtu  = 1500\n}",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("policy lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"overlay2", "br-0123456789ab", "veth1234", "\"lo\""} {
		if strings.Contains(text, never) {
			t.Errorf("policy proposes %s:\n%s", never, text)
		}
	}
	if _, diags := rules.Load([]rules.Source{{Name: "init.hcl", Text: []byte(text)}}); diags.HasErrors() {
		t.Fatal(diags)
	}
	ptr := proposePTR(s)
	if len(ptr) != 1 || ptr[0].Name != "ptr-198.51.100.7" {
		t.Errorf("PTR proposals: %+v", ptr)
	}
}
