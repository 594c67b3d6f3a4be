package snapshot

// Packages is what the host's package database says is on the host: every
// package dpkg knows, installed or with its configuration left behind, or
// every package in rpm's database.
type Packages struct {
	// Source is the package manager whose database was read: "dpkg" or
	// "rpm" (the two values below).
	Source string `json:"source"`
	// Database is the file read: /var/lib/dpkg/status, or rpm's database
	// (/var/lib/rpm/rpmdb.sqlite, Packages.db or Packages, or the same
	// below /usr/lib/sysimage/rpm).
	Database string `json:"database,omitempty"`
	// Format is the database's format: "status" (dpkg), "sqlite", "ndb" or
	// "bdb" (Berkeley DB).
	Format string `json:"format,omitempty"`
	// Authority, on a host with both a dpkg and an rpm database, says why
	// the one read is the host's (the other only a tool's); empty with one.
	Authority string `json:"authority,omitempty"`
	// Absent says why there is no package database to read (neither dpkg's
	// nor rpm's); Packages is then empty, and package checks do not apply.
	Absent   string    `json:"absent,omitempty"`
	Packages []Package `json:"packages"`
	// Errors are stanzas that could not be read.
	Errors []string `json:"errors"`
}

// The package managers whose databases are read.
const (
	SourceDpkg = "dpkg"
	SourceRPM  = "rpm"
)

// Package is one package's record.
type Package struct {
	Name string `json:"name"`
	// Arch is the architecture ("amd64", "x86_64", "all", "noarch"); rpm's
	// packages without one (gpg-pubkey) have "(none)", as rpm prints it.
	Arch string `json:"arch"`
	// Version is dpkg's [epoch:]upstream[-revision], or rpm's
	// [epoch:]version-release.
	Version string `json:"version"`
	// Want is dpkg's selection: install, hold, deinstall, purge, unknown;
	// "install" for every package in rpm's database.
	Want string `json:"want"`
	// State is dpkg's: installed, config-files, half-installed, unpacked...;
	// "installed" for every package in rpm's database.
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
// A name and architecture installed more than once (rpm's kernels, its
// gpg-pubkey entries) is told apart by version: "kernel:x86_64 5.14.0-427".
func (p *Packages) Objects() []Object {
	seen := map[string]int{}
	for _, pk := range p.Packages {
		seen[pk.Name+":"+pk.Arch]++
	}
	out := make([]Object, 0, len(p.Packages))
	for _, pk := range p.Packages {
		id := pk.Name + ":" + pk.Arch
		if seen[id] > 1 {
			id += " " + pk.Version
		}
		out = append(out, Object{Area: AreaPackages, Kind: "package", ID: id,
			Fields: map[string]string{"version": pk.Version, "state": pk.State, "want": pk.Want}})
	}
	return out
}
