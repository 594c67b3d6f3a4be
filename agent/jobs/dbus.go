package jobs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/parse/calendar"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// collectDBus asks the running systemd for every timer unit, loaded or
// only installed, and for the last result of the service each triggers.
// It only reads properties: no method that changes state is called.
func collectDBus(ctx context.Context, fsys rootFS, now time.Time) (*snapshot.Timers, error) {
	conn, err := connectSystemd(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	names := map[string]bool{}
	loaded, err := conn.ListUnitsByPatternsContext(ctx, nil, []string{"*.timer"})
	if err != nil {
		return nil, fmt.Errorf("list timer units: %w", err)
	}
	for _, u := range loaded {
		names[u.Name] = true
	}
	// Installed timers are read from disk: systemd's ListUnitFiles
	// works out the state of every unit file to filter them.
	for n := range readInstalledUnits(fsys).set.files {
		if strings.HasSuffix(n, ".timer") {
			names[n] = true
		}
	}
	out := &snapshot.Timers{Source: snapshot.TimersDBus, Timers: []snapshot.Timer{}, Errors: []snapshot.FileError{}}
	var boot time.Time
	if v, err := conn.GetManagerProperty("UserspaceTimestamp"); err == nil {
		if us, err := strconv.ParseUint(strings.TrimPrefix(v, "@t "), 10, 64); err == nil && us > 0 {
			boot = time.UnixMicro(int64(us))
			b := boot.UTC()
			out.BootedAt = &b
		}
	}
	props := newPropReader(conn)
	out.Timers = make([]snapshot.Timer, 0, len(names))
	for name := range names {
		out.Timers = append(out.Timers, snapshot.Timer{Unit: name})
	}
	var wg sync.WaitGroup
	for i := range out.Timers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Timers[i] = timerOverDBus(ctx, props, fsys, out.Timers[i].Unit, boot, now)
		}()
	}
	wg.Wait()
	sortTimers(out.Timers)
	return out, nil
}

// timerOverDBus reads one timer, and the service it triggers, reading
// only the properties it reports.
func timerOverDBus(ctx context.Context, props *propReader, fsys rootFS, name string, boot, now time.Time) snapshot.Timer {
	t := snapshot.Timer{Unit: name, Programs: []snapshot.Program{}, LastTriggerKnown: true}
	unit, err := props.get(ctx, name, ifaceUnit, "FragmentPath", "DropInPaths", "UnitFileState", "ActiveState", "ActiveEnterTimestamp")
	if err != nil {
		t.Error = fmt.Sprintf("read unit properties: %v", err)
		return t
	}
	timer, err := props.get(ctx, name, ifaceTimer, "Unit", "Persistent", "LastTriggerUSec", "LastTriggerUSecRealtime",
		"NextElapseUSecRealtime", "TimersCalendar", "TimersMonotonic", "AccuracyUSec", "RandomizedDelayUSec")
	if err != nil {
		t.Error = fmt.Sprintf("read timer properties: %v", err)
		return t
	}
	t.File, _ = unit["FragmentPath"].(string)
	t.DropIns, _ = unit["DropInPaths"].([]string)
	t.Enabled, _ = unit["UnitFileState"].(string)
	t.Active, _ = unit["ActiveState"].(string)
	t.Service, _ = timer["Unit"].(string)
	t.Persistent, _ = timer["Persistent"].(bool)
	t.LastTrigger = usecTime(timer["LastTriggerUSec"])
	if t.LastTrigger == nil {
		t.LastTrigger = usecTime(timer["LastTriggerUSecRealtime"])
	}
	t.NextElapse = usecTime(timer["NextElapseUSecRealtime"])

	var specs []calendar.Spec
	if cals, ok := timer["TimersCalendar"].([][]any); ok {
		for _, c := range cals {
			if len(c) >= 2 {
				expr, _ := c[1].(string)
				t.Calendar = append(t.Calendar, expr)
				if spec, err := calendar.ParseOnCalendar(expr, time.Local); err == nil {
					specs = append(specs, spec)
					t.PeriodSeconds = max(t.PeriodSeconds, int64(spec.Period(now)/time.Second))
				}
			}
		}
	}
	var active, fromBoot []time.Duration
	if mons, ok := timer["TimersMonotonic"].([][]any); ok {
		for _, m := range mons {
			if len(m) < 2 {
				continue
			}
			base, _ := m[0].(string)
			us, _ := m[1].(uint64)
			d := time.Duration(us) * time.Microsecond
			key := strings.Replace(base, "USec", "Sec", 1)
			t.Monotonic = append(t.Monotonic, key+"="+d.String())
			switch base {
			case "OnActiveUSec":
				active = append(active, d)
			case "OnBootUSec", "OnStartupUSec":
				fromBoot = append(fromBoot, d)
			case "OnUnitActiveUSec", "OnUnitInactiveUSec":
				t.PeriodSeconds = max(t.PeriodSeconds, int64(d/time.Second))
			}
		}
	}
	if t.LastTrigger == nil {
		armed := boot
		if at := usecTime(unit["ActiveEnterTimestamp"]); at != nil && t.Active == "active" {
			armed = *at
		}
		if t.Active == "active" || t.Enabled == "enabled" {
			acc, _ := timer["AccuracyUSec"].(uint64)
			rnd, _ := timer["RandomizedDelayUSec"].(uint64)
			slack := time.Duration(acc+rnd)*time.Microsecond + 15*time.Second
			t.DueSince = dueSince(armed, boot, specs, active, fromBoot, slack, now)
		}
	}

	if t.Service == "" {
		return t
	}
	svc, err := props.get(ctx, t.Service, ifaceUnit, "LoadState", "FragmentPath")
	if err == nil {
		if ls, _ := svc["LoadState"].(string); ls == "loaded" {
			t.ServiceFile, _ = svc["FragmentPath"].(string)
		}
	}
	sp, err := props.get(ctx, t.Service, ifaceService, "Result", "ExecMainStatus", "ExecMainExitTimestamp", "ExecStart")
	if err != nil {
		t.Error = fmt.Sprintf("read %s: %v", t.Service, err)
		return t
	}
	t.Result, _ = sp["Result"].(string)
	status, _ := sp["ExecMainStatus"].(int32)
	t.ExitStatus = int(status)
	t.ExitedAt = usecTime(sp["ExecMainExitTimestamp"])
	var lines []string
	if execs, ok := sp["ExecStart"].([][]any); ok {
		for _, e := range execs {
			if len(e) >= 2 {
				argv, _ := e[1].([]string)
				p, _ := e[0].(string)
				if len(argv) > 0 {
					argv = append([]string{p}, argv[1:]...)
					lines = append(lines, shellJoin(argv))
				}
			}
		}
	}
	t.Programs = execPrograms(fsys, lines)
	return t
}

// usecTime reads a timestamp property in microseconds since the epoch;
// 0 and the maximum ("infinity") are no time.
func usecTime(v any) *time.Time {
	us, ok := v.(uint64)
	if !ok || us == 0 || us == ^uint64(0) {
		return nil
	}
	t := time.UnixMicro(int64(us)).UTC()
	return &t
}

// shellJoin quotes argv for crontab.Analyze, which reads shell words.
func shellJoin(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t'\"\\$`;&|<>()*?#~") {
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			parts[i] = a
		}
	}
	return strings.Join(parts, " ")
}
