package jobs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	agent.Register(snapshot.CollectorServices, func() agent.Collector { return &ServicesCollector{} })
}

// ServicesCollector reads every systemd unit: from the running systemd
// over D-Bus on the live host (state, enablement, file, drop-ins, a
// service's restarts and last result), else (another --root, or no
// systemd) from the unit files, which tell whether units are enabled but
// not whether they run. It only reads properties: no unit is started,
// stopped, reloaded or reset.
type ServicesCollector struct {
	// Offline forces reading unit files even when systemd answers.
	Offline bool
}

// Reads declares what the collector reads from files: the unit folders.
func (*ServicesCollector) Reads() []agent.Path { return unitPaths() }

// Follows declares that the running systemd's signals tell of a unit's
// change.
func (*ServicesCollector) Follows() []agent.Source { return unitSources }

// unitSuffixes are the unit types read from files.
var unitSuffixes = []string{".service", ".socket", ".target", ".timer", ".mount", ".automount", ".path", ".swap", ".slice"}

// Collect reads the units over D-Bus when it can, else from files.
func (c *ServicesCollector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	fsys := newRootFS(env.FS())
	if fsys.live() && !c.Offline {
		s, err := servicesOverDBus(ctx, fsys)
		if err == nil {
			return s, nil
		}
		if env.SystemdRuns() {
			s := servicesOffline(fsys)
			return s, agent.Partial("systemd runs but did not answer over D-Bus (%v): units were read from unit files, without their state", err)
		}
	}
	return servicesOffline(fsys), nil
}

// servicesOffline reads the unit files below the root.
func servicesOffline(fsys rootFS) *snapshot.Services {
	out := &snapshot.Services{Source: snapshot.ServicesFiles, Units: []snapshot.Unit{}, Errors: []snapshot.FileError{}}
	units := loadUnitSet(fsys)
	var names []string
	for _, suffix := range unitSuffixes {
		names = append(names, units.names(suffix)...)
	}
	sort.Strings(names)
	for _, name := range names {
		u, err := units.load(name)
		if err != nil {
			out.Errors = append(out.Errors, snapshot.FileError{Path: units.files[name], Error: err.Error()})
		}
		if u == nil {
			continue
		}
		unit := snapshot.Unit{Name: name, FileState: units.enabled(name, u), File: u.path, DropIns: u.dropIns}
		out.Units = append(out.Units, unit)
	}
	return out
}

// servicesOverDBus asks the running systemd for its loaded units, and
// reads the unit files it would list from disk.
func servicesOverDBus(ctx context.Context, fsys rootFS) (*snapshot.Services, error) {
	conn, err := connectSystemd(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	loaded, err := conn.ListUnitsContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	// The unit files are read from disk: systemd's ListUnitFiles works
	// out every file's state afresh, about a second on a stock host.
	installed := readInstalledUnits(fsys)
	out := &snapshot.Services{Source: snapshot.ServicesDBus, Running: true, Units: []snapshot.Unit{}, Errors: []snapshot.FileError{}}
	byName := map[string]*snapshot.Unit{}
	props := newPropReader(conn)
	var wg sync.WaitGroup
	for _, l := range loaded {
		u := &snapshot.Unit{Name: l.Name, LoadState: l.LoadState, ActiveState: l.ActiveState, SubState: l.SubState}
		byName[l.Name] = u
		// Devices, scopes and transient units (a container's mounts) have
		// no file to report: properties are read only for the installed
		// ones, and for any that failed.
		if _, ok := installed.set.files[l.Name]; l.LoadState == "not-found" || !ok && l.ActiveState != "failed" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			unitOverDBus(ctx, props, u)
		}()
	}
	wg.Wait()
	for name, file := range installed.set.files {
		if u, ok := byName[name]; ok {
			if u.FileState == "" {
				u.FileState = installed.state(name)
			}
			if u.File == "" && installed.state(name) == "masked" {
				u.File = file
			}
			continue
		}
		// Installed, not loaded: inactive, as systemd would show it.
		byName[name] = &snapshot.Unit{Name: name, ActiveState: "inactive", SubState: "dead", FileState: installed.state(name), File: file}
	}
	for _, u := range byName {
		out.Units = append(out.Units, *u)
	}
	sort.Slice(out.Units, func(i, j int) bool { return out.Units[i].Name < out.Units[j].Name })
	return out, nil
}

// unitOverDBus fills in u's file, drop-ins and enablement, and a
// service's restarts and last result, or u.Error.
func unitOverDBus(ctx context.Context, props *propReader, u *snapshot.Unit) {
	up, err := props.get(ctx, u.Name, ifaceUnit, "FragmentPath", "DropInPaths", "UnitFileState")
	if err != nil {
		u.Error = fmt.Sprintf("read unit properties: %v", err)
		return
	}
	u.File, _ = up["FragmentPath"].(string)
	u.DropIns, _ = up["DropInPaths"].([]string)
	u.FileState, _ = up["UnitFileState"].(string)
	if !strings.HasSuffix(u.Name, ".service") {
		return
	}
	sp, err := props.get(ctx, u.Name, ifaceService, "NRestarts", "Result", "ExecMainStatus")
	if err != nil {
		u.Error = fmt.Sprintf("read service properties: %v", err)
		return
	}
	if n, ok := sp["NRestarts"].(uint32); ok {
		u.Restarts = &n
	}
	u.Result, _ = sp["Result"].(string)
	if st, ok := sp["ExecMainStatus"].(int32); ok {
		v := int(st)
		u.ExitStatus = &v
	}
}
