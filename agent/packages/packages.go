// Package packages reads the host's package database, below --root:
// dpkg's status file, or rpm's database (SQLite, NDB or Berkeley DB). No
// package manager is run (apt, dpkg and rpm take locks; reading the files
// they write takes none). A host with both databases reads the one of its
// package manager, the other being a tool's.
package packages

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/rpmstore"
)

func init() {
	agent.Register(snapshot.CollectorPackages, func() agent.Collector { return collector{} })
}

// StatusFile is dpkg's record of every package it knows.
const StatusFile = "/var/lib/dpkg/status"

type collector struct{}

// Reads declares what the collector reads: dpkg's status file, rpm's
// database files, and the package managers' programs.
func (collector) Reads() []agent.Path {
	return append([]agent.Path{agent.File(StatusFile)}, rpmPaths()...)
}

// Collect reads the host's package database; a host without one has an
// empty section that says so.
func (collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	fsys := env.FS()
	var dpkg *snapshot.Packages
	b, err := fsys.ReadFile(StatusFile, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read the dpkg database: %w", err)
	default:
		pkgs, errs := ParseStatus(strings.NewReader(string(b)))
		dpkg = &snapshot.Packages{Source: snapshot.SourceDpkg, Database: StatusFile, Format: "status", Packages: pkgs, Errors: errs}
	}
	db, err := rpmstore.Find(fsys)
	if err != nil {
		return nil, err
	}
	switch {
	case dpkg == nil && db == nil:
		// An empty section, not a skip: a baseline compares it, and the
		// package checks say they do not apply.
		return &snapshot.Packages{Packages: []snapshot.Package{}, Errors: []string{},
			Absent: fmt.Sprintf("no package database: neither dpkg's (%s) nor rpm's (rpmdb.sqlite, Packages.db or Packages in %s)", StatusFile, strings.Join(rpmstore.Dirs, " or "))}, nil
	case db == nil:
		return finish(dpkg)
	}
	if dpkg != nil {
		// A Debian host with the rpm tool: its packages are dpkg's.
		for _, p := range dpkg.Named("rpm") {
			if p.Installed() {
				dpkg.Authority = fmt.Sprintf("dpkg's database is the host's: rpm is one of its packages (rpm %s), a tool whose database %s is not the host's", p.Version, db.Path)
				return finish(dpkg)
			}
		}
	}
	pkgs, errs, err := readRPM(ctx, fsys, *db)
	if err != nil {
		return nil, err
	}
	rpm := &snapshot.Packages{Source: snapshot.SourceRPM, Database: db.Path, Format: db.Format, Packages: pkgs, Errors: errs}
	if dpkg == nil {
		return finish(rpm)
	}
	for _, p := range rpm.Named("dpkg") {
		rpm.Authority = fmt.Sprintf("rpm's database is the host's: dpkg is one of its packages (dpkg %s), a tool whose database %s is not the host's", p.Version, StatusFile)
		return finish(rpm)
	}
	dpkgBin, rpmBin := anyExists(fsys, dpkgBinaries), anyExists(fsys, rpmBinaries)
	switch {
	case dpkgBin != "" && rpmBin == "":
		dpkg.Authority = fmt.Sprintf("both dpkg's and rpm's (%s) databases; dpkg's is the host's: %s is installed, no rpm program is", db.Path, dpkgBin)
		return finish(dpkg)
	case rpmBin != "" && dpkgBin == "":
		rpm.Authority = fmt.Sprintf("both dpkg's (%s) and rpm's databases; rpm's is the host's: %s is installed, no dpkg program is", StatusFile, rpmBin)
		return finish(rpm)
	}
	which := "neither package manager is installed"
	if dpkgBin != "" {
		which = "both package managers are installed (" + dpkgBin + ", " + rpmBin + ")"
	}
	return nil, fmt.Errorf("both dpkg's (%s) and rpm's (%s) databases, and %s: cannot tell which is the host's; remove the stale one, or audit with a policy without package checks", StatusFile, db.Path, which)
}

// finish returns the section, partial when some records could not be read.
func finish(p *snapshot.Packages) (snapshot.Section, error) {
	if len(p.Errors) > 0 {
		return p, agent.Partial("%d record(s) of %s could not be read: %s", len(p.Errors), p.Database, p.Errors[0])
	}
	return p, nil
}

// ParseStatus reads dpkg status stanzas (deb822: "Field: value" lines,
// continuation lines starting with a blank, stanzas separated by empty
// lines) into packages sorted by name and architecture. A stanza without
// Package or with a malformed Status is reported, not guessed at.
func ParseStatus(r io.Reader) ([]snapshot.Package, []string) {
	pkgs := []snapshot.Package{}
	errs := []string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	st := map[string]string{}
	line, start := 0, 1
	flush := func() {
		if len(st) == 0 {
			return
		}
		defer func() { st = map[string]string{} }()
		p := snapshot.Package{Name: st["package"], Arch: st["architecture"], Version: st["version"]}
		if p.Name == "" {
			errs = append(errs, fmt.Sprintf("line %d: a stanza without Package", start))
			return
		}
		f := strings.Fields(st["status"])
		if len(f) != 3 {
			errs = append(errs, fmt.Sprintf("line %d: package %s: Status %q is not \"WANT FLAG STATE\"", start, p.Name, st["status"]))
			return
		}
		p.Want, p.State = f[0], f[2]
		pkgs = append(pkgs, p)
	}
	last := ""
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			flush()
			start = line + 1
			last = ""
			continue
		}
		if text[0] == ' ' || text[0] == '\t' {
			continue // a continuation: no field this reader uses has one
		}
		k, v, ok := strings.Cut(text, ":")
		if !ok {
			errs = append(errs, fmt.Sprintf("line %d: %q is not \"Field: value\"", line, text))
			continue
		}
		last = strings.ToLower(strings.TrimSpace(k))
		st[last] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("line %d: %v", line+1, err))
	}
	flush()
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
	return pkgs, errs
}
