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

// Source is news, other than a change to the files it reads, after which a
// collector's reading may be stale. agent/watch follows each source and
// names the collectors that declare it.
type Source string

// The sources a collector may follow.
const (
	// NFTables: a transaction committed to nf_tables in Env.NetNS.
	NFTables Source = "nftables"
	// RTNetlink: a link, address or route of Env.NetNS changed.
	RTNetlink Source = "rtnetlink"
	// Systemd: the running systemd says a unit's state or file changed.
	Systemd Source = "systemd"
	// Docker: the Docker engine says a container or network changed.
	Docker Source = "docker"
	// Mounts: the kernel's mount table changed.
	Mounts Source = "mounts"
)

// Follower is a collector that declares the sources, besides its files,
// after which it must read again.
type Follower interface {
	Follows() []Source
}

// Following lists the registered collectors that declare they follow src,
// sorted.
func Following(src Source) []string {
	var out []string
	for _, name := range Names() {
		c, ok := New(name)
		if !ok {
			continue
		}
		if f, ok := c.(Follower); ok && slices.Contains(f.Follows(), src) {
			out = append(out, name)
		}
	}
	return out
}

// Depender is a collector whose reading holds only with the state of the
// host other collectors read: a probe connects through the firewall, so
// one made before the ruleset changed says nothing about the new one. A
// collector that reads another's section (Register's after) depends on it
// as well.
type Depender interface {
	DependsOn() []string
}

// dependsOn lists the collectors the named one declares it depends on.
func dependsOn(name string) []string {
	c, ok := New(name)
	if !ok {
		return nil
	}
	if d, ok := c.(Depender); ok {
		return d.DependsOn()
	}
	return nil
}
