package rules

import (
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "mount",
		Summary: "a file system is mounted at a path with a type and options, has space left, and /etc/fstab mounts it the same way at boot",
		Attributes: []hcl.AttributeSchema{
			{Name: "path", Required: true},
			{Name: "fstype"},
			{Name: "options"},
			{Name: "min_free_percent"},
			{Name: "min_free_gb"},
			{Name: "fstab"},
		},
		AttributeDocs: map[string]string{
			"path":             "the mount point; \"*\" for every local disk file system (not tmpfs, pseudo, network, read-only or overlay mounts), with the space attributes only",
			"fstype":           "the file system type (\"ext4\", \"xfs\", \"tmpfs\")",
			"options":          "mount options it must carry, one or a list (\"noexec\", \"nodev\", \"nosuid\", \"ro\")",
			"min_free_percent": "at least this share of the space left for users, as df counts it",
			"min_free_gb":      "at least this many GB (10^9 bytes) left for users",
			"fstab":            "true: /etc/fstab mounts the same source, type and ro/noexec/nosuid/nodev options there at the next boot (default false)",
		},
		Needs:  []string{snapshot.CollectorMounts},
		Decode: decodeMount,
	})
}

// mountCheck: something is mounted at path as the attributes say.
type mountCheck struct {
	path       string
	fstype     string
	options    []string
	minFreePct int
	minFreeGB  int
	fstab      bool
}

func decodeMount(d *Decoder) Check {
	c := &mountCheck{path: d.String("path", ""), fstype: d.String("fstype", ""), options: d.Strings("options"),
		minFreePct: d.Int("min_free_percent", 0, 0, 100), minFreeGB: d.Int("min_free_gb", 0, 0, 1<<30), fstab: d.Bool("fstab", false)}
	if c.path != "" && c.path != "*" && !path.IsAbs(c.path) {
		d.Errorf("path", "Invalid path", "%q is not an absolute path (or \"*\" for every local file system).", c.path)
	}
	c.path = cleanMountPoint(c.path)
	if c.path == "*" && (c.fstype != "" || len(c.options) > 0 || c.fstab) {
		d.Errorf("path", "Too broad", "path = \"*\" judges only space (min_free_percent, min_free_gb); name a mount point for fstype, options or fstab.")
	}
	return c
}

func cleanMountPoint(p string) string {
	if p == "" || p == "*" {
		return p
	}
	return path.Clean(p)
}

func (c *mountCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Mounts == nil {
		return Errorf("the snapshot holds no mounts section")
	}
	if !s.Mounts.Live {
		return Skipf("the mounted file systems are read only on the live host; below --root only /etc/fstab is")
	}
	if c.path == "*" {
		return c.everyMount(s.Mounts)
	}
	r := Result{Expected: c.expected()}
	m, ok := s.Mounts.At(c.path)
	if !ok {
		r.Status, r.Observed = finding.Fail, "not mounted"
		r.Explanation = c.path + " is not a mount point"
		if under, ok := containing(s.Mounts, c.path); ok {
			r.Explanation += fmt.Sprintf(": it is part of %s (%s %s)", under.MountPoint, under.FSType, under.Source)
		}
		if e, ok := s.Mounts.FstabAt(c.path); ok {
			r.Remediation = fmt.Sprintf("mount %s (line %d of /etc/fstab mounts %s there), and find out why it was not mounted", c.path, e.Line, e.Source)
		} else {
			r.Remediation = fmt.Sprintf("/etc/fstab has no line for %s: add one and mount it", c.path)
		}
		return r
	}
	r.Observed = mountText(m)
	var why, fix []string
	if c.fstype != "" && m.FSType != c.fstype {
		why = append(why, fmt.Sprintf("%s is %s, not %s", c.path, m.FSType, c.fstype))
		fix = append(fix, fmt.Sprintf("find out what mounted %s %s over %s", m.FSType, m.Source, c.path))
	}
	var missing []string
	for _, o := range c.options {
		if !m.HasOption(o) {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		why = append(why, fmt.Sprintf("%s is mounted without %s (options %s)", c.path, strings.Join(missing, ", "), strings.Join(m.Options, ",")))
		f := fmt.Sprintf("mount -o remount,%s %s", strings.Join(missing, ","), c.path)
		if e, ok := s.Mounts.FstabAt(c.path); ok {
			if lack := fstabLacks(e, missing); len(lack) > 0 {
				f += fmt.Sprintf(", and add %s to line %d of /etc/fstab so the next boot keeps it", strings.Join(lack, ","), e.Line)
			}
		}
		fix = append(fix, f)
	}
	if res, bad := c.space(m, &why, &fix); bad {
		return res
	}
	if c.fstab {
		c.judgeFstab(s.Mounts, m, &why, &fix)
	}
	if len(why) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(why, "; "), strings.Join(fix, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, c.path+": "+r.Observed
	return r
}

func (c *mountCheck) expected() string {
	parts := []string{c.path + " is mounted"}
	if c.fstype != "" {
		parts[0] += " as " + c.fstype
	}
	if len(c.options) > 0 {
		parts = append(parts, "with "+strings.Join(c.options, ","))
	}
	if s := c.spaceText(); s != "" {
		parts = append(parts, s)
	}
	if c.fstab {
		parts = append(parts, "as /etc/fstab says")
	}
	return strings.Join(parts, ", ")
}

func (c *mountCheck) spaceText() string {
	var s []string
	if c.minFreePct > 0 {
		s = append(s, fmt.Sprintf("%d%%", c.minFreePct))
	}
	if c.minFreeGB > 0 {
		s = append(s, fmt.Sprintf("%d GB", c.minFreeGB))
	}
	if len(s) == 0 {
		return ""
	}
	return "at least " + strings.Join(s, " and ") + " free"
}

// mountText describes a mount: "ext4 /dev/sda2, rw,nosuid,relatime, 41% full (12.1 GB free of 20.5 GB)".
func mountText(m snapshot.Mount) string {
	s := fmt.Sprintf("%s %s, %s", m.FSType, m.Source, strings.Join(m.Options, ","))
	if m.StatError == "" && m.UsedBytes+m.AvailBytes > 0 {
		s += fmt.Sprintf(", %d%% full (%s free of %s)", m.UsedPercent(), gb(m.AvailBytes), gb(m.UsedBytes+m.AvailBytes))
	}
	return s
}

func gb(b uint64) string { return fmt.Sprintf("%.1f GB", float64(b)/1e9) }

// containing returns the mount that holds path p: the longest mount point
// above it.
func containing(ms *snapshot.Mounts, p string) (snapshot.Mount, bool) {
	var best snapshot.Mount
	found := false
	for _, m := range ms.Mounts {
		mp := m.MountPoint
		if mp == "/" || p == mp || strings.HasPrefix(p, mp+"/") {
			if !found || len(mp) > len(best.MountPoint) {
				best, found = m, true
			}
		}
	}
	return best, found
}
