package snapshot

import (
	"slices"
	"strings"
)

// Mounts is what the mounts collector saw: the file systems mounted now
// (live host only) and those /etc/fstab mounts at the next boot.
type Mounts struct {
	// Live is true when the mounted file systems were read (on the live
	// host, from /proc/self/mountinfo); below --root only fstab is read.
	Live   bool    `json:"live"`
	Mounts []Mount `json:"mounts"`
	// Fstab lists /etc/fstab's entries in file order; FstabError says why
	// it could not be read (a missing fstab is no error: Fstab is empty).
	Fstab      []FstabEntry `json:"fstab"`
	FstabError string       `json:"fstab_error,omitempty"`
}

// Mount is one mounted file system, as the mount point shows it: when two
// are mounted on one point, only the top one is recorded.
type Mount struct {
	MountPoint string `json:"mount_point"`
	Source     string `json:"source"`
	FSType     string `json:"fstype"`
	// Device is what a /dev source resolves to through its links
	// (/dev/mapper/vg-root is /dev/dm-0), when it differs.
	Device string `json:"device,omitempty"`
	// Options are the mount's own flags (rw, nosuid, nodev, noexec...);
	// SuperOptions the file system's (size=, errors=...).
	Options      []string `json:"options"`
	SuperOptions []string `json:"super_options"`
	// Space, from statfs: the sizes in bytes, Avail being what unprivileged
	// users may still write. Absent when StatError says why.
	TotalBytes uint64 `json:"total_bytes"`
	AvailBytes uint64 `json:"avail_bytes"`
	UsedBytes  uint64 `json:"used_bytes"`
	StatError  string `json:"stat_error,omitempty"`
}

// FstabEntry is one line of /etc/fstab.
type FstabEntry struct {
	Line       int      `json:"line"`
	Source     string   `json:"source"`
	MountPoint string   `json:"mount_point"`
	FSType     string   `json:"fstype"`
	Options    []string `json:"options"`
	// Device is what a UUID=, LABEL=, PARTUUID= or PARTLABEL= source
	// resolves to on the live host (/dev/disk/by-*), when it does.
	Device string `json:"device,omitempty"`
}

// Attach puts the mounts into the snapshot.
func (m *Mounts) Attach(s *Snapshot) { s.Mounts = m }

// At returns the file system mounted at mount point p.
func (m *Mounts) At(p string) (Mount, bool) {
	for _, mt := range m.Mounts {
		if mt.MountPoint == p {
			return mt, true
		}
	}
	return Mount{}, false
}

// FstabAt returns the last fstab entry for mount point p: the one that
// wins at boot.
func (m *Mounts) FstabAt(p string) (FstabEntry, bool) {
	for i := len(m.Fstab) - 1; i >= 0; i-- {
		if m.Fstab[i].MountPoint == p {
			return m.Fstab[i], true
		}
	}
	return FstabEntry{}, false
}

// HasOption reports whether the mount carries option o, its own or the
// file system's.
func (mt Mount) HasOption(o string) bool {
	return slices.Contains(mt.Options, o) || slices.Contains(mt.SuperOptions, o)
}

// UsedPercent is the share of the space in use, rounded up, as df prints
// it: used / (used + available to users).
func (mt Mount) UsedPercent() int {
	d := mt.UsedBytes + mt.AvailBytes
	if d == 0 {
		return 0
	}
	return int((mt.UsedBytes*100 + d - 1) / d)
}

// Objects lists each mount by mount point, with what it is and its flags
// (not its free space, which changes all the time).
func (m *Mounts) Objects() []Object {
	var out []Object
	for _, mt := range m.Mounts {
		out = append(out, Object{Area: AreaMounts, Kind: "mount", ID: mt.MountPoint, Fields: map[string]string{
			"source": mt.Source, "fstype": mt.FSType, "options": strings.Join(mt.Options, ","),
		}})
	}
	for _, e := range m.Fstab {
		out = append(out, Object{Area: AreaMounts, Kind: "fstab", ID: e.MountPoint, Fields: map[string]string{
			"source": e.Source, "fstype": e.FSType, "options": strings.Join(e.Options, ","),
		}})
	}
	return out
}
