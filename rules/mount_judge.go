package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// notDisk are the file system types path = "*" leaves out: the kernel's
// pseudo file systems, memory-backed ones (sized at boot, emptied by a
// reboot), overlays (their space is the backing file system's, judged
// there) and read-only images, which are 100% full by construction: snaps
// (squashfs, or squashfuse where a container cannot mount loop devices),
// erofs, cramfs, romfs and optical media. A read-only mount of any other
// type is left out by its "ro" flag.
var notDisk = map[string]bool{
	"proc": true, "sysfs": true, "devtmpfs": true, "devpts": true, "tmpfs": true, "ramfs": true, "cgroup": true,
	"cgroup2": true, "securityfs": true, "debugfs": true, "tracefs": true, "pstore": true, "bpf": true, "mqueue": true,
	"hugetlbfs": true, "configfs": true, "fusectl": true, "autofs": true, "binfmt_misc": true, "nsfs": true,
	"efivarfs": true, "selinuxfs": true, "rpc_pipefs": true, "overlay": true,
	"squashfs": true, "fuse.squashfuse": true, "fuse.squashfuse_ll": true, "erofs": true, "cramfs": true, "romfs": true,
	"iso9660": true, "udf": true, "fuse.lxcfs": true, "fuse.gvfsd-fuse": true, "fuse.portal": true,
}

// space judges the free space; bad is true when it cannot be read, with
// the error result.
func (c *mountCheck) space(m snapshot.Mount, why, fix *[]string) (Result, bool) {
	if c.minFreePct == 0 && c.minFreeGB == 0 {
		return Result{}, false
	}
	if m.StatError != "" {
		return Errorf("the space of %s could not be read: %s", c.path, m.StatError), true
	}
	if w := lowSpace(m, c.minFreePct, c.minFreeGB); w != "" {
		*why = append(*why, w)
		*fix = append(*fix, fullHint(m))
	}
	return Result{}, false
}

// lowSpace says how a mount falls short of the free space asked, or "".
func lowSpace(m snapshot.Mount, pct, gbs int) string {
	free := 100 - m.UsedPercent()
	base := fmt.Sprintf("%s is %d%% full: %s free of %s", m.MountPoint, m.UsedPercent(), gb(m.AvailBytes), gb(m.UsedBytes+m.AvailBytes))
	switch {
	case pct > 0 && free < pct:
		return fmt.Sprintf("%s, less than %d%%", base, pct)
	case gbs > 0 && m.AvailBytes < uint64(gbs)*1e9:
		return fmt.Sprintf("%s, less than %d GB", base, gbs)
	}
	return ""
}

func fullHint(m snapshot.Mount) string {
	return fmt.Sprintf("find what grew on %s (du -xh --max-depth=2 %s | sort -h | tail) and remove, rotate or move it, or grow the file system", m.MountPoint, m.MountPoint)
}

// everyMount judges the space of every local disk file system.
func (c *mountCheck) everyMount(ms *snapshot.Mounts) Result {
	r := Result{Expected: "every local disk file system has " + c.spaceText()}
	seen := map[string]bool{}
	var why, fix, unread []string
	n := 0
	var fullest snapshot.Mount
	for _, m := range ms.Mounts {
		if notDisk[m.FSType] || m.HasOption("ro") || strings.HasPrefix(m.StatError, m.FSType+" is a network") {
			continue
		}
		if m.StatError != "" {
			unread = append(unread, m.MountPoint)
			continue
		}
		key := m.FSType + " " + m.Source
		if m.TotalBytes == 0 || seen[key] {
			continue // an empty pseudo mount, or a bind mount of one already judged
		}
		seen[key] = true
		n++
		if n == 1 || m.UsedPercent() > fullest.UsedPercent() {
			fullest = m
		}
		if w := lowSpace(m, c.minFreePct, c.minFreeGB); w != "" {
			why = append(why, w)
			fix = append(fix, fullHint(m))
		}
	}
	r.Observed = fmt.Sprintf("%d local %s", n, plural(n, "file system", "file systems"))
	if n > 0 {
		r.Observed += fmt.Sprintf("; the fullest: %s, %d%% full", fullest.MountPoint, fullest.UsedPercent())
	}
	if len(unread) > 0 {
		r.Observed += fmt.Sprintf("; space not readable on %s", strings.Join(unread, ", "))
	}
	if len(why) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(why, "; "), strings.Join(fix, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, r.Observed
	return r
}

// fstabFlags are the options whose state the fstab comparison judges.
var fstabFlags = []string{"ro", "noexec", "nosuid", "nodev"}

// effectiveFlags works out which of fstabFlags an fstab option list sets,
// in order, as mount(8) does: defaults clears them, user and users imply
// noexec, nosuid and nodev, owner and group imply nosuid and nodev.
func effectiveFlags(opts []string) map[string]bool {
	on := map[string]bool{}
	for _, o := range opts {
		switch o {
		case "defaults":
			clear(on)
		case "ro", "noexec", "nosuid", "nodev":
			on[o] = true
		case "rw":
			delete(on, "ro")
		case "exec":
			delete(on, "noexec")
		case "suid":
			delete(on, "nosuid")
		case "dev":
			delete(on, "nodev")
		case "user", "users":
			on["noexec"], on["nosuid"], on["nodev"] = true, true, true
		case "owner", "group":
			on["nosuid"], on["nodev"] = true, true
		}
	}
	return on
}

// fstabLacks lists the options of want that the fstab entry does not set.
func fstabLacks(e snapshot.FstabEntry, want []string) []string {
	on := effectiveFlags(e.Options)
	var out []string
	for _, o := range want {
		if slices.Contains(fstabFlags, o) && !on[o] {
			out = append(out, o)
		}
	}
	return out
}

// judgeFstab compares the mount with the fstab line that mounts it at boot.
func (c *mountCheck) judgeFstab(ms *snapshot.Mounts, m snapshot.Mount, why, fix *[]string) {
	if ms.FstabError != "" {
		*why = append(*why, "/etc/fstab could not be read: "+ms.FstabError)
		*fix = append(*fix, "make /etc/fstab a readable regular file")
		return
	}
	e, ok := ms.FstabAt(c.path)
	if !ok {
		*why = append(*why, fmt.Sprintf("/etc/fstab has no line for %s: the next boot mounts it only if something else does (a systemd .mount unit)", c.path))
		*fix = append(*fix, fmt.Sprintf("add a line for %s to /etc/fstab (%s %s %s %s 0 2), or set fstab = false if a mount unit mounts it", c.path, m.Source, c.path, m.FSType, strings.Join(m.Options, ",")))
		return
	}
	if e.FSType != "auto" && e.FSType != m.FSType {
		*why = append(*why, fmt.Sprintf("line %d of /etc/fstab mounts %s as %s, but %s is mounted now", e.Line, c.path, e.FSType, m.FSType))
		*fix = append(*fix, fmt.Sprintf("make line %d of /etc/fstab and the mount agree on the type", e.Line))
	}
	if sameSource(e, m) == "differs" {
		*why = append(*why, fmt.Sprintf("line %d of /etc/fstab mounts %s there, but %s is mounted now", e.Line, e.Source, m.Source))
		*fix = append(*fix, fmt.Sprintf("make line %d of /etc/fstab name the device mounted now, or mount the one it names", e.Line))
	}
	on := effectiveFlags(e.Options)
	var boot, now []string
	for _, o := range fstabFlags {
		has := slices.Contains(m.Options, o)
		switch {
		case on[o] && !has:
			boot = append(boot, o)
		case !on[o] && has:
			now = append(now, o)
		}
	}
	if len(now) > 0 {
		*why = append(*why, fmt.Sprintf("%s is mounted %s now, but line %d of /etc/fstab does not say so: the next boot drops it", c.path, strings.Join(now, ","), e.Line))
		*fix = append(*fix, fmt.Sprintf("add %s to line %d of /etc/fstab", strings.Join(now, ","), e.Line))
	}
	if len(boot) > 0 {
		*why = append(*why, fmt.Sprintf("line %d of /etc/fstab mounts %s %s, but it is mounted without that now", e.Line, c.path, strings.Join(boot, ",")))
		*fix = append(*fix, fmt.Sprintf("mount -o remount,%s %s", strings.Join(boot, ","), c.path))
	}
}

// sameSource compares fstab's source with the mounted one: "same",
// "differs", or "unknown" when a UUID= or LABEL= source could not be
// resolved here or the kernel names the root device /dev/root.
func sameSource(e snapshot.FstabEntry, m snapshot.Mount) string {
	names := []string{m.Source}
	if m.Device != "" {
		names = append(names, m.Device)
	}
	for _, s := range []string{e.Source, e.Device} {
		if s != "" && slices.Contains(names, s) {
			return "same"
		}
	}
	if (strings.Contains(e.Source, "=") && e.Device == "") || m.Source == "/dev/root" {
		return "unknown"
	}
	return "differs"
}
