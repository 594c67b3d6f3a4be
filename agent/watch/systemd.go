package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/hostdrift/hostdrift/agent"
)

// DefaultSystemBus is the system bus socket, when DBUS_SYSTEM_BUS_ADDRESS
// does not name another.
const DefaultSystemBus = "/run/dbus/system_bus_socket"

// systemdState bounds the unit states the source remembers; past it, it
// forgets them all and starts again.
const systemdState = 8192

// unitProps are the properties whose change the source reports: what a
// service or timer check judges.
var unitProps = []string{"ActiveState", "SubState", "Result", "NRestarts"}

// systemdSource follows systemd's D-Bus signals: unit state changes, job
// results, unit files changed, reloads.
type systemdSource struct {
	conn *dbus.Conn
	bus  string
	// last is each unit property's last value seen ("unit|prop").
	last map[string]string
	// collectors are those that follow agent.Systemd.
	collectors []string
}

func (s *systemdSource) Name() string { return "systemd" }

// systemBus is the address of the bus to watch, and the socket to check.
func systemBus(opts *Options) (addr, socket string) {
	if opts.SystemBus != "" {
		return opts.SystemBus, strings.TrimPrefix(opts.SystemBus, "unix:path=")
	}
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a, strings.TrimPrefix(a, "unix:path=")
	}
	return "unix:path=" + DefaultSystemBus, DefaultSystemBus
}

func newSystemd(ctx context.Context, opts *Options) (source, error) {
	cols := agent.Following(agent.Systemd)
	if !wanted(opts, cols...) {
		return source{}, nil
	}
	const blind = "the services and timers areas are read again only when their unit files change or another event asks"
	if opts.SystemBus == "" {
		if root := opts.Env.FS().Root(); root != "/" {
			return source{}, fmt.Errorf("systemd: the root is %s, not /: the systemd running here is not the audited host's; %s", root, blind)
		}
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			return source{}, fmt.Errorf("systemd: PID 1 is not systemd (no /run/systemd/system): %s", blind)
		}
	}
	addr, socket := systemBus(opts)
	if _, err := os.Stat(socket); err != nil && !strings.Contains(socket, "=") {
		return source{}, fmt.Errorf("systemd: no D-Bus system bus at %s: %s; install and start dbus to have them followed", socket, blind)
	}
	s := &systemdSource{bus: addr, last: map[string]string{}, collectors: cols}
	if err := s.connect(ctx); err != nil {
		return source{}, fmt.Errorf("systemd: %w: %s", err, blind)
	}
	return source{Source: s, collectors: cols}, nil
}

// subscribe asks the bus for systemd's signals, and systemd to send them
// (Subscribe only asks for signals: it changes nothing on the host).
func (s *systemdSource) subscribe(ctx context.Context) error {
	if err := s.conn.AddMatchSignalContext(ctx, dbus.WithMatchSender("org.freedesktop.systemd1"),
		dbus.WithMatchInterface("org.freedesktop.DBus.Properties"), dbus.WithMatchMember("PropertiesChanged"),
		dbus.WithMatchPathNamespace("/org/freedesktop/systemd1/unit")); err != nil {
		return fmt.Errorf("match unit property changes: %w", err)
	}
	if err := s.conn.AddMatchSignalContext(ctx, dbus.WithMatchSender("org.freedesktop.systemd1"),
		dbus.WithMatchInterface("org.freedesktop.systemd1.Manager")); err != nil {
		return fmt.Errorf("match systemd's manager signals: %w", err)
	}
	obj := s.conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	if call := obj.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.Subscribe", 0); call.Err != nil {
		return fmt.Errorf("subscribe to systemd's signals: %w", call.Err)
	}
	return nil
}

// Run turns systemd's signals into events until ctx ends. When the bus
// connection breaks (dbus restarted), it says so in an event, connects
// again with a growing pause, and says when it is back: changes made
// meanwhile are unknown.
func (s *systemdSource) Run(ctx context.Context, out chan<- Event) error {
	backoff := reconnectFirst
	for {
		err := s.follow(ctx, out)
		if ctx.Err() != nil {
			return nil
		}
		if !emit(ctx, out, Event{Source: "systemd", Collectors: s.collectors,
			Detail: fmt.Sprintf("the system bus connection %s broke (%v): reconnecting", s.bus, err)}) {
			return nil
		}
		for {
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, reconnectMax)
			if err := s.connect(ctx); err == nil {
				break
			}
		}
		backoff = reconnectFirst
		if !emit(ctx, out, Event{Source: "systemd", Collectors: s.collectors,
			Detail: "the system bus connection " + s.bus + " is back: changes made meanwhile are unknown"}) {
			s.conn.Close()
			return nil
		}
	}
}

// connect opens the bus and subscribes to systemd's signals.
func (s *systemdSource) connect(ctx context.Context) error {
	conn, err := dbus.Connect(s.bus, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("connect to the system bus %s: %w", s.bus, err)
	}
	s.conn = conn
	if err := s.subscribe(ctx); err != nil {
		conn.Close()
		return err
	}
	return nil
}

// follow turns the signals of one connection into events until it breaks
// or ctx ends, and closes it.
func (s *systemdSource) follow(ctx context.Context, out chan<- Event) error {
	ch := make(chan *dbus.Signal, 64)
	s.conn.Signal(ch)
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	defer s.conn.Close()
	for {
		sig, ok := <-ch
		if !ok {
			return errors.New("connection closed")
		}
		if d, ok := s.detail(sig); ok {
			if !emit(ctx, out, Event{Source: "systemd", Collectors: s.collectors, Detail: d}) {
				return ctx.Err()
			}
		}
	}
}

// detail says what one signal changed, or false when it changed nothing a
// check judges.
func (s *systemdSource) detail(sig *dbus.Signal) (string, bool) {
	switch sig.Name {
	case "org.freedesktop.DBus.Properties.PropertiesChanged":
		unit := unitFromPath(string(sig.Path))
		if !relevantUnit(unit) || len(sig.Body) < 2 {
			return "", false
		}
		changed, _ := sig.Body[1].(map[string]dbus.Variant)
		return s.unitChange(unit, changed)
	case "org.freedesktop.systemd1.Manager.JobRemoved":
		if len(sig.Body) < 4 {
			return "", false
		}
		unit, _ := sig.Body[2].(string)
		result, _ := sig.Body[3].(string)
		if !relevantUnit(unit) {
			return "", false
		}
		return "unit " + unit + ": job " + result, true
	case "org.freedesktop.systemd1.Manager.UnitFilesChanged":
		return "unit files changed (enabled, disabled, linked or masked)", true
	case "org.freedesktop.systemd1.Manager.Reloading":
		if len(sig.Body) > 0 {
			if active, _ := sig.Body[0].(bool); !active {
				return "systemd reloaded its configuration", true
			}
		}
	}
	return "", false
}

// unitChange compares a unit's changed properties with those last seen.
// A unit seen for the first time idle (inactive, dead, success) is one
// being loaded, often by a collector's own query: no event.
func (s *systemdSource) unitChange(unit string, changed map[string]dbus.Variant) (string, bool) {
	if len(s.last) > systemdState {
		clear(s.last)
	}
	var parts []string
	for _, p := range unitProps {
		v, ok := changed[p]
		if !ok {
			continue
		}
		val := fmt.Sprint(v.Value())
		key := unit + "|" + p
		old, known := s.last[key]
		s.last[key] = val
		switch {
		case known && old == val:
		case !known && idle(p, val):
		default:
			parts = append(parts, p+"="+val)
		}
	}
	if len(parts) == 0 {
		return "", false
	}
	return "unit " + unit + ": " + strings.Join(parts, " "), true
}

// idle reports whether a property's value is that of a unit at rest.
func idle(prop, val string) bool {
	switch prop {
	case "ActiveState":
		return val == "inactive"
	case "SubState":
		return val == "dead"
	case "Result":
		return val == "success"
	case "NRestarts":
		return val == "0"
	}
	return false
}

// relevantUnit reports whether a unit is one the services and timers
// collectors read.
func relevantUnit(unit string) bool {
	return strings.HasSuffix(unit, ".service") || strings.HasSuffix(unit, ".timer")
}

// unitFromPath returns the unit name of a systemd unit object path:
// /org/freedesktop/systemd1/unit/backup_2dd_2eservice is backup-d.service.
func unitFromPath(p string) string {
	esc, ok := strings.CutPrefix(p, "/org/freedesktop/systemd1/unit/")
	if !ok {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(esc); i++ {
		if esc[i] == '_' && i+2 < len(esc) {
			if n, err := strconv.ParseUint(esc[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(esc[i])
	}
	return b.String()
}
