package jobs

import (
	"bufio"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// etcUnitDir is the administrator's unit folder; `systemctl enable` makes
// its links in its wants folders.
const etcUnitDir = "/etc/systemd/system"

// unitDirs are where systemd finds system units, highest priority first.
var unitDirs = []string{etcUnitDir, "/run/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// dropInSuffix ends the name of a unit's drop-in folder (NAME.d).
const dropInSuffix = ".d"

// wantsSuffixes end the names of the folders of etcUnitDir whose links
// enable units.
var wantsSuffixes = []string{".wants", ".requires"}

// unitSources are the news after which units are read again: the running
// systemd's signals.
var unitSources = []agent.Source{agent.Systemd}

// unitPaths are the folders reading unit files reads: every unit folder
// and its drop-in folders, and the wants folders of etcUnitDir.
func unitPaths() []agent.Path {
	ps := make([]agent.Path, 0, len(unitDirs))
	for _, d := range unitDirs {
		subs := []string{dropInSuffix}
		if d == etcUnitDir {
			subs = append(subs, wantsSuffixes...)
		}
		ps = append(ps, agent.Folder(d, subs...))
	}
	return ps
}

// unitFile is a unit's settings after its drop-ins: section → key → values
// in order (an empty assignment clears the list, as systemd does).
type unitFile struct {
	path    string
	dropIns []string
	masked  bool
	values  map[string]map[string][]string
	// skipped are drop-ins that are not regular files (a FIFO, a folder
	// named NAME.conf), which systemd cannot read either.
	skipped []error
}

func (u *unitFile) get(section, key string) []string {
	if u == nil {
		return nil
	}
	return u.values[section][key]
}

func (u *unitFile) last(section, key string) string {
	v := u.get(section, key)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// parseUnit reads unit file syntax into u: [Section] headers, Key=Value
// lines, comments (# ;), and lines continued with a backslash.
func parseUnit(r io.Reader, u *unitFile) error {
	if u.values == nil {
		u.values = map[string]map[string][]string{}
	}
	sc := bufio.NewScanner(r)
	// A small first buffer: it grows for a long line, and a host has
	// hundreds of these files (64 KiB each was 80 MB on the big host).
	sc.Buffer(make([]byte, 0, 4096), 1024*1024)
	section := ""
	var pending string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if u.values[section] == nil {
				u.values[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "" {
			delete(u.values[section], k)
			continue
		}
		u.values[section][k] = append(u.values[section][k], v)
	}
	return sc.Err()
}

// units finds system unit files below the root by name pattern (a suffix
// such as ".timer"), the first folder in unitDirs winning.
type unitSet struct {
	fsys  rootFS
	files map[string]string // name → host path
	// dropInDirs are the NAME.d folders that exist.
	dropInDirs map[string]bool
	// wanted holds the units linked from a .wants or .requires folder
	// of /etc/systemd/system, read on first use.
	wanted map[string]bool
}

func loadUnitSet(fsys rootFS) *unitSet {
	s := &unitSet{fsys: fsys, files: map[string]string{}, dropInDirs: map[string]bool{}}
	for _, dir := range unitDirs {
		entries, err := fsys.readDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				if strings.HasSuffix(e.Name(), dropInSuffix) {
					s.dropInDirs[path.Join(dir, e.Name())] = true
				}
				continue
			}
			if _, seen := s.files[e.Name()]; !seen {
				s.files[e.Name()] = path.Join(dir, e.Name())
			}
		}
	}
	return s
}

// names lists the units whose name ends in suffix, sorted.
func (s *unitSet) names(suffix string) []string {
	var out []string
	for n := range s.files {
		if strings.HasSuffix(n, suffix) && !strings.Contains(n, "@.") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// load reads a unit and its drop-ins; nil when there is no such unit.
func (s *unitSet) load(name string) (*unitFile, error) {
	p, ok := s.files[name]
	if !ok {
		return nil, nil
	}
	u := &unitFile{path: p, values: map[string]map[string][]string{}}
	if target, err := s.fsys.Readlink(p); err == nil && target == "/dev/null" {
		u.masked = true
		return u, nil
	}
	b, err := s.fsys.readFile(p)
	if err != nil {
		return u, err
	}
	if err := parseUnit(strings.NewReader(string(b)), u); err != nil {
		return u, err
	}
	// Drop-ins: NAME.d/*.conf of every folder, ordered by file name; a name
	// in a higher-priority folder hides the same name below it.
	dropIns := map[string]string{}
	for _, dir := range unitDirs {
		if !s.dropInDirs[path.Join(dir, name+dropInSuffix)] {
			continue
		}
		entries, err := s.fsys.readDir(path.Join(dir, name+dropInSuffix))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".conf") {
				if _, seen := dropIns[e.Name()]; !seen {
					dropIns[e.Name()] = path.Join(dir, name+dropInSuffix, e.Name())
				}
			}
		}
	}
	keys := make([]string, 0, len(dropIns))
	for k := range dropIns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, err := s.fsys.readFile(dropIns[k])
		if hostfs.IsNotRegular(err) {
			u.skipped = append(u.skipped, err)
			continue
		}
		if err != nil {
			return u, err
		}
		if err := parseUnit(strings.NewReader(string(b)), u); err != nil {
			return u, err
		}
		u.dropIns = append(u.dropIns, dropIns[k])
	}
	return u, nil
}

// enabled tells the unit file state offline: masked, enabled (linked
// from a .wants or .requires folder under /etc), static (no [Install]
// section) or disabled.
func (s *unitSet) enabled(name string, u *unitFile) string {
	if u.masked {
		return "masked"
	}
	if s.wanted == nil {
		s.wanted = map[string]bool{}
		entries, _ := s.fsys.readDir(etcUnitDir)
		for _, e := range entries {
			wants := slices.ContainsFunc(wantsSuffixes, func(suffix string) bool { return strings.HasSuffix(e.Name(), suffix) })
			if !e.IsDir() || !wants {
				continue
			}
			links, _ := s.fsys.readDir(path.Join(etcUnitDir, e.Name()))
			for _, l := range links {
				s.wanted[l.Name()] = true
			}
		}
	}
	if s.wanted[name] {
		return "enabled"
	}
	if len(u.values["Install"]) == 0 {
		return "static"
	}
	return "disabled"
}

// liveUnitDirs are the folders the running systemd finds system units in
// (its lookup paths), highest priority first: unitDirs with the control,
// transient, attached and generator folders it adds at run time. What a
// unit file's name is depends on which of them holds it first.
var liveUnitDirs = []string{
	"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
	"/run/systemd/generator.early", etcUnitDir, "/etc/systemd/system.attached",
	"/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
	"/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
	"/run/systemd/generator.late",
}

// liveUnitSuffixes are the unit types that have unit files.
var liveUnitSuffixes = append([]string{".scope"}, unitSuffixes...)

// installedUnits are the unit files systemd's ListUnitFiles would list,
// by name, each with the state it would give (read on first ask).
type installedUnits struct {
	set    *unitSet
	linked map[string]string
}

// readInstalledUnits lists the unit files of the running systemd's
// lookup paths by name, templates and files of no unit type left out. It
// reads folders only, which is cheaper than systemd's ListUnitFiles by
// two orders of magnitude: that works out every file's state.
func readInstalledUnits(fsys rootFS) *installedUnits {
	set := &unitSet{fsys: fsys, files: map[string]string{}, dropInDirs: map[string]bool{}}
	for _, dir := range liveUnitDirs {
		entries, err := fsys.readDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() {
				if strings.HasSuffix(name, dropInSuffix) {
					set.dropInDirs[path.Join(dir, name)] = true
				}
				continue
			}
			if strings.Contains(name, "@.") || !slices.ContainsFunc(liveUnitSuffixes, func(s string) bool { return strings.HasSuffix(name, s) }) {
				continue
			}
			if _, seen := set.files[name]; !seen {
				set.files[name] = path.Join(dir, name)
			}
		}
	}
	return &installedUnits{set: set}
}

// state is the unit file state of the installed unit name.
func (iu *installedUnits) state(name string) string {
	if iu.linked == nil {
		iu.linked = linkedUnits(iu.set.fsys)
	}
	return iu.set.fileState(name, iu.set.files[name], iu.linked)
}

// linkedUnits are the units linked from a wants, requires or upholds
// folder of /etc/systemd/system (enabled) or /run/systemd/system
// (enabled-runtime), by name.
func linkedUnits(fsys rootFS) map[string]string {
	linked := map[string]string{}
	for _, dir := range []string{"/run/systemd/system", etcUnitDir} {
		state := runtimeState(dir, "enabled")
		entries, _ := fsys.readDir(dir)
		for _, e := range entries {
			wants := slices.ContainsFunc([]string{".wants", ".requires", ".upholds"}, func(s string) bool { return strings.HasSuffix(e.Name(), s) })
			if !e.IsDir() || !wants {
				continue
			}
			links, _ := fsys.readDir(path.Join(dir, e.Name()))
			for _, l := range links {
				linked[l.Name()] = state
			}
		}
	}
	return linked
}

// fileState is the unit file state of the unit file p named name, as
// systemd's unit_file_lookup_state gives it: masked (a link to /dev/null
// or an empty file), alias (a link to a unit of another name), linked
// (from outside the lookup paths), generated, transient, enabled or
// enabled-runtime (linked from a wants, requires or upholds folder of
// /etc/systemd/system or /run/systemd/system, or by one of its Alias=
// names there), else disabled, indirect or static after its [Install]
// section. masked and linked are -runtime below /run.
func (s *unitSet) fileState(name, p string, linked map[string]string) string {
	if target, err := s.fsys.Readlink(p); err == nil {
		switch {
		case target == "/dev/null":
			return runtimeState(p, "masked")
		case path.Base(target) != name:
			return "alias"
		case path.IsAbs(target) && !slices.Contains(liveUnitDirs, path.Dir(target)):
			return runtimeState(p, "linked")
		}
	} else if fi, err := s.fsys.stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return runtimeState(p, "masked")
	}
	switch {
	case strings.HasPrefix(p, "/run/systemd/generator"):
		return "generated"
	case strings.HasPrefix(p, "/run/systemd/transient/"):
		return "transient"
	}
	if state, ok := linked[name]; ok {
		return state
	}
	u, _ := s.load(name)
	// An Alias= of the unit linked to it in a config folder is what
	// systemctl enable made too.
	for _, alias := range u.get("Install", "Alias") {
		for _, a := range strings.Fields(alias) {
			ap := s.files[a]
			if target, err := s.fsys.Readlink(ap); err == nil && path.Base(target) == name &&
				(path.Dir(ap) == etcUnitDir || path.Dir(ap) == "/run/systemd/system") {
				return runtimeState(ap, "enabled")
			}
		}
	}
	for _, k := range []string{"WantedBy", "RequiredBy", "UpheldBy", "Alias"} {
		if len(u.get("Install", k)) > 0 {
			return "disabled"
		}
	}
	if len(u.get("Install", "Also")) > 0 {
		return "indirect"
	}
	return "static"
}

// runtimeState is state, or its -runtime form for a file below /run,
// which goes at the next boot.
func runtimeState(p, state string) string {
	if strings.HasPrefix(p, "/run/") {
		return state + "-runtime"
	}
	return state
}
