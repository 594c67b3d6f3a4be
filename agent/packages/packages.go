// Package packages reads the package database: dpkg's status file, below
// --root. No package manager is run (apt and dpkg take locks; reading the
// file they write takes none). rpm's database is not read: its current
// format is an SQLite file, and a host without dpkg is skipped.
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
)

func init() {
	agent.Register(snapshot.CollectorPackages, func() agent.Collector { return collector{} })
}

// StatusFile is dpkg's record of every package it knows.
const StatusFile = "/var/lib/dpkg/status"

type collector struct{}

// Reads declares what the collector reads: dpkg's status file.
func (collector) Reads() []agent.Path { return []agent.Path{agent.File(StatusFile)} }

// Collect reads dpkg's status file; a host without one is skipped.
func (collector) Collect(_ context.Context, env *agent.Env) (snapshot.Section, error) {
	b, err := env.FS().ReadFile(StatusFile, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// An empty section, not a skip: a baseline compares it, and the
		// package checks say they do not apply.
		return &snapshot.Packages{Packages: []snapshot.Package{}, Errors: []string{},
			Absent: fmt.Sprintf("no dpkg database (%s): not a Debian-family host; rpm databases are not read", StatusFile)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the dpkg database: %w", err)
	}
	pkgs, errs := ParseStatus(strings.NewReader(string(b)))
	out := &snapshot.Packages{Source: "dpkg", Packages: pkgs, Errors: errs}
	if len(errs) > 0 {
		return out, agent.Partial("%d stanza(s) of %s could not be read: %s", len(errs), StatusFile, errs[0])
	}
	return out, nil
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
