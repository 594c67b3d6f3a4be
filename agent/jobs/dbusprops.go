package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// connectSystemd connects to the running systemd: over its private
// socket when hostdrift runs as root, which spares every call a trip
// through the bus daemon (half the cost of a property read), else over
// the system bus.
func connectSystemd(ctx context.Context) (*sd.Conn, error) {
	conn, err := sd.NewSystemdConnectionContext(ctx)
	if err == nil {
		return conn, nil
	}
	conn, err2 := sd.NewSystemConnectionContext(ctx)
	if err2 != nil {
		return nil, fmt.Errorf("systemd's private socket: %v; system bus: %v", err, err2)
	}
	return conn, nil
}

// maxInFlight bounds the property reads waiting on systemd at once. The
// calls share one connection, which pipelines them: systemd answers one
// after another, but no read waits for the previous one's round trip.
const maxInFlight = 16

// Interfaces of the unit objects whose properties are read, as suffixes
// of org.freedesktop.systemd1.
const (
	ifaceUnit    = "Unit"
	ifaceService = "Service"
	ifaceTimer   = "Timer"
)

// propReader reads named properties of systemd units with
// org.freedesktop.DBus.Properties.Get, one call per property, a bounded
// number of them in flight at once. GetAll would make systemd compute and
// marshal every property of the interface (about 150 on Unit, 100 on
// Service) to use three; the few Gets needed, in flight together, cost
// systemd and the bus less work and fewer bytes.
type propReader struct {
	conn *sd.Conn
	sem  chan struct{}
}

// newPropReader reads over conn, which its calls share.
func newPropReader(conn *sd.Conn) *propReader {
	return &propReader{conn: conn, sem: make(chan struct{}, maxInFlight)}
}

// get reads the named properties of one interface of a unit, all at
// once. A property this systemd does not have is left out of the map, as
// GetAll would have left it out; any other failure is returned, the
// first one met.
func (r *propReader) get(ctx context.Context, unit, iface string, names ...string) (map[string]any, error) {
	vals := make([]any, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case r.sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-r.sem }()
			p, err := r.conn.GetUnitTypePropertyContext(ctx, unit, iface, name)
			if err != nil {
				errs[i] = err
				return
			}
			vals[i] = p.Value.Value()
		}()
	}
	wg.Wait()
	out := make(map[string]any, len(names))
	for i, name := range names {
		if errs[i] != nil {
			if unknownProperty(errs[i]) {
				continue
			}
			return nil, errs[i]
		}
		out[name] = vals[i]
	}
	return out, nil
}

// unknownProperty tells whether systemd answered that the interface has
// no such property (an older systemd).
func unknownProperty(err error) bool {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.DBus.Error.UnknownProperty"
	}
	var dp *dbus.Error
	return errors.As(err, &dp) && dp.Name == "org.freedesktop.DBus.Error.UnknownProperty"
}
