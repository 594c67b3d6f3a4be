package snapshot

// Packages is what the package database says is on the host: every
// package dpkg knows, installed or with its configuration left behind.
type Packages struct {
	// Source is the database read: "dpkg" (/var/lib/dpkg/status).
	Source string `json:"source"`
	// Absent says why there is no package database to read (not a
	// Debian-family host); Packages is then empty, and package checks do
	// not apply.
	Absent   string    `json:"absent,omitempty"`
	Packages []Package `json:"packages"`
	// Errors are stanzas that could not be read.
	Errors []string `json:"errors"`
}

// Package is one package's record.
type Package struct {
	Name    string `json:"name"`
	Arch    string `json:"arch"`
	Version string `json:"version"`
	// Want is the selection: install, hold, deinstall, purge, unknown.
	Want string `json:"want"`
	// State is dpkg's: installed, config-files, half-installed, unpacked...
	State string `json:"state"`
}

// Installed reports whether the package is fully installed.
func (p Package) Installed() bool { return p.State == "installed" }

// Held reports whether the package is on hold (apt-mark hold).
func (p Package) Held() bool { return p.Want == "hold" }

// Attach puts the packages into the snapshot.
func (p *Packages) Attach(s *Snapshot) { s.Packages = p }

// Named returns every record of the package name (one per architecture).
func (p *Packages) Named(name string) []Package {
	var out []Package
	for _, pk := range p.Packages {
		if pk.Name == name {
			out = append(out, pk)
		}
	}
	return out
}

// Objects lists each package by name and architecture, with its version
// and state, so a diff shows "package openssl:amd64 version 3.0.15 → 3.0.16".
func (p *Packages) Objects() []Object {
	out := make([]Object, 0, len(p.Packages))
	for _, pk := range p.Packages {
		out = append(out, Object{Area: AreaPackages, Kind: "package", ID: pk.Name + ":" + pk.Arch,
			Fields: map[string]string{"version": pk.Version, "state": pk.State, "want": pk.Want}})
	}
	return out
}
