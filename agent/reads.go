package agent

import (
	"path"
	"slices"
	"strings"
)

// Path is a file or folder of the host that a collector reads, named as the
// host names it (below Env.Root): "/etc/crontab", "/etc/cron.d".
type Path struct {
	// Name is the absolute path on the host.
	Name string
	// Dir marks a folder whose entries are read; a path without it is read
	// alone (its content, or whether it exists).
	Dir bool
	// Subs, for a folder, are the name suffixes of its sub-folders whose
	// entries are read too: ".d" for systemd's drop-in folders.
	Subs []string
}

// File declares a file read alone, or a path whose existence is read.
func File(name string) Path { return Path{Name: name} }

// Folder declares a folder whose entries are read, and the suffixes of its
// sub-folders whose entries are read too.
func Folder(name string, subs ...string) Path { return Path{Name: name, Dir: true, Subs: subs} }

// Sub reports whether the entries of p's sub-folder named name are read.
func (p Path) Sub(name string) bool {
	for _, s := range p.Subs {
		if len(name) > len(s) && strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Reader is a collector that declares the host's files and folders it
// reads. Whatever watches the host for changes watches what the collectors
// declare, so the collector's reading code must take its paths from the
// same declared values. A declaration names what decides the collector's
// section (configuration, tables, databases, whether a path exists); it
// leaves out what changes as a matter of course (logs, run stamps),
// kernel interfaces (/proc, /sys) and programs looked up on a search path.
type Reader interface {
	Reads() []Path
}

// Reads returns the paths the named collector declares it reads, cleaned;
// nil when no such collector is registered or it declares nothing.
func Reads(name string) []Path {
	c, ok := New(name)
	if !ok {
		return nil
	}
	r, ok := c.(Reader)
	if !ok {
		return nil
	}
	ps := slices.Clone(r.Reads())
	for i := range ps {
		ps[i].Name = path.Clean("/" + ps[i].Name)
	}
	return ps
}
