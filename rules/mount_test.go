package rules_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// mountSnapshot: / on an LVM volume that fstab names by UUID, /home mounted
// by a "user" line, /srv mounted without an fstab line, /data 97% full,
// /boot where fstab says xfs, read-only images full by construction (a
// snap by loop device and by squashfuse, an erofs image, a file system
// whose superblock is read-only) and an NFS mount.
func mountSnapshot() *snapshot.Snapshot {
	return &snapshot.Snapshot{Schema: snapshot.Schema,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorMounts, Status: snapshot.StatusOK}},
		Mounts: &snapshot.Mounts{Live: true,
			Mounts: []snapshot.Mount{
				{MountPoint: "/", Source: "/dev/mapper/vg-root", Device: "/dev/dm-0", FSType: "ext4", Options: []string{"rw", "relatime"}, TotalBytes: 20e9, UsedBytes: 8e9, AvailBytes: 11e9},
				{MountPoint: "/home", Source: "/dev/sdb1", FSType: "ext4", Options: []string{"rw", "nosuid", "nodev", "noexec"}, TotalBytes: 10e9, UsedBytes: 1e9, AvailBytes: 9e9},
				{MountPoint: "/srv", Source: "/dev/sdc1", FSType: "xfs", Options: []string{"rw"}, TotalBytes: 10e9, UsedBytes: 1e9, AvailBytes: 9e9},
				{MountPoint: "/data", Source: "/dev/sdd1", FSType: "ext4", Options: []string{"rw", "nodev"}, TotalBytes: 100e9, UsedBytes: 97e9, AvailBytes: 3e9},
				{MountPoint: "/boot", Source: "/dev/sda1", FSType: "ext4", Options: []string{"rw"}, TotalBytes: 1e9, UsedBytes: 1e8, AvailBytes: 9e8},
				{MountPoint: "/run", Source: "tmpfs", FSType: "tmpfs", Options: []string{"rw"}, TotalBytes: 1e8, UsedBytes: 1e8},
				{MountPoint: "/snap/core/1", Source: "/dev/loop0", FSType: "squashfs", Options: []string{"ro"}, TotalBytes: 1e8, UsedBytes: 1e8},
				{MountPoint: "/snap/lxd/2", Source: "squashfuse", FSType: "fuse.squashfuse", Options: []string{"rw", "nodev"}, TotalBytes: 1e8, UsedBytes: 1e8},
				{MountPoint: "/usr/lib/app", Source: "/dev/loop1", FSType: "erofs", Options: []string{"rw"}, TotalBytes: 1e8, UsedBytes: 1e8},
				{MountPoint: "/mnt/media", Source: "/dev/sde1", FSType: "ext4", Options: []string{"rw"}, SuperOptions: []string{"ro"}, TotalBytes: 1e8, UsedBytes: 1e8},
				{MountPoint: "/mnt/nfs", Source: "srv:/x", FSType: "nfs4", Options: []string{"rw"}, StatError: "nfs4 is a network file system: its space is not read"},
			},
			Fstab: []snapshot.FstabEntry{
				{Line: 3, Source: "UUID=abcd", Device: "/dev/dm-0", MountPoint: "/", FSType: "ext4", Options: []string{"errors=remount-ro"}},
				{Line: 4, Source: "/dev/sdb1", MountPoint: "/home", FSType: "auto", Options: []string{"user"}},
				{Line: 5, Source: "/dev/sdd1", MountPoint: "/data", FSType: "ext4", Options: []string{"defaults", "noexec"}},
				{Line: 6, Source: "/dev/sda1", MountPoint: "/boot", FSType: "xfs", Options: []string{"defaults"}},
			}}}
}

func TestMountFstab(t *testing.T) {
	s := mountSnapshot()
	for _, c := range []struct {
		name, src string
		status    finding.Status
		want      string
	}{
		{"uuid resolves to the mapper device", `mount "root" {
  path  = "/"
  fstab = true
}`, finding.Pass, ""},
		{"user implies noexec,nosuid,nodev", `mount "home" {
  path    = "/home/"
  options = ["noexec", "nodev"]
  fstab   = true
}`, finding.Pass, ""},
		{"no fstab line", `mount "srv" {
  path  = "/srv"
  fstab = true
}`, finding.Fail, "/etc/fstab has no line for /srv"},
		{"fstab noexec not applied", `mount "data" {
  path  = "/data"
  fstab = true
}`, finding.Fail, "/data is mounted nodev now, but line 5 of /etc/fstab does not say so: the next boot drops it; line 5 of /etc/fstab mounts /data noexec, but it is mounted without that now"},
		{"type differs", `mount "boot" {
  path  = "/boot"
  fstab = true
}`, finding.Fail, "line 6 of /etc/fstab mounts /boot as xfs, but ext4 is mounted now"},
		{"every disk", `mount "space" {
  path             = "*"
  min_free_percent = 5
}`, finding.Fail, "/data is 97% full: 3.0 GB free of 100.0 GB, less than 5%"},
		{"gb", `mount "root" {
  path        = "/"
  min_free_gb = 12
}`, finding.Fail, "/ is 43% full: 11.0 GB free of 19.0 GB, less than 12 GB"},
		{"nfs space is not read", `mount "nfs" {
  path             = "/mnt/nfs"
  min_free_percent = 5
}`, finding.Error, "network file system"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := one(t, c.src, s)
			if f.Status != c.status || !strings.Contains(f.Explanation, c.want) {
				t.Errorf("%s, want %s with %q:\n%s", f.Status, c.status, c.want, f.Explanation)
			}
		})
	}
	f := one(t, `mount "space" {
  path             = "*"
  min_free_percent = 5
}`, s)
	if strings.Contains(f.Explanation, "/run") || strings.Contains(f.Explanation, "/snap") || strings.Contains(f.Explanation, "/usr/lib/app") || strings.Contains(f.Explanation, "/mnt/media") {
		t.Errorf("tmpfs or a read-only image judged: %s", f.Explanation)
	}
}

func TestMountDecodeErrors(t *testing.T) {
	for _, src := range []string{
		`mount "x" {
  path = "var"
}`,
		`mount "x" {
  path   = "*"
  fstype = "ext4"
}`,
		`mount "x" {
  path             = "/"
  min_free_percent = 101
}`,
	} {
		p, diags := loadOnly(src)
		if !diags.HasErrors() {
			if _, diags = p.Compile(&snapshot.Host{}, nil); !diags.HasErrors() {
				t.Errorf("accepted:\n%s", src)
			}
		}
	}
}

func loadOnly(src string) (*rules.Policy, hcl.Diagnostics) {
	return rules.Load([]rules.Source{{Name: "test.hcl", Text: []byte(src)}})
}
