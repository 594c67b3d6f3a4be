package packages

import (
	"context"
	"fmt"
	"sort"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/rpmdb"
	"github.com/hostdrift/hostdrift/internal/parse/rpmversion"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/rpmstore"
)

// The package managers' programs, whose presence says which database is
// the host's where there are both.
var (
	dpkgBinaries = []string{"/usr/bin/dpkg", "/bin/dpkg"}
	rpmBinaries  = []string{"/usr/bin/rpm", "/bin/rpm"}
)

// rpmPaths are the rpm files the collector reads or looks for.
func rpmPaths() []agent.Path {
	var out []agent.Path
	for _, p := range rpmstore.Paths() {
		out = append(out, agent.File(p))
	}
	for _, b := range append(append([]string{}, dpkgBinaries...), rpmBinaries...) {
		out = append(out, agent.File(b))
	}
	return out
}

// anyExists returns the first of paths that exists on the host.
func anyExists(fsys *hostfs.FS, paths []string) string {
	for _, p := range paths {
		if fsys.Exists(p) {
			return p
		}
	}
	return ""
}

// readRPM reads every package in the rpm database db. A header that cannot
// be read is an error of its own; a database that cannot be read is one
// error for all.
func readRPM(ctx context.Context, fsys *hostfs.FS, db rpmstore.DB) ([]snapshot.Package, []string, error) {
	blobs, err := db.Headers(ctx, fsys)
	if err != nil {
		return nil, nil, fmt.Errorf("read rpm's %s database %s: %w", db.Format, db.Path, err)
	}
	pkgs := []snapshot.Package{}
	errs := []string{}
	for i, b := range blobs {
		h, err := rpmdb.ParseHeader(b)
		if err != nil {
			errs = append(errs, fmt.Sprintf("package %d of %s: %v", i+1, db.Path, err))
			continue
		}
		arch := h.Arch
		if arch == "" {
			arch = "(none)"
		}
		pkgs = append(pkgs, snapshot.Package{Name: h.Name, Arch: arch, Version: h.EVR(), Want: "install", State: "installed"})
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		va, errA := rpmversion.Parse(a.Version)
		vb, errB := rpmversion.Parse(b.Version)
		if errA != nil || errB != nil {
			return a.Version < b.Version
		}
		return rpmversion.Compare(va, vb) < 0
	})
	return pkgs, errs, nil
}
