package dns

// systemd-resolved: when resolv.conf names its stub, the answers the host's
// programs get come from resolved's upstream servers (or its cache). The
// collector names them, from resolved's D-Bus properties on the live host,
// else from the list resolved writes to /run/systemd/resolve/resolv.conf.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// resolvedUpstreamPath is the resolv.conf systemd-resolved writes with its
// upstream servers, global and per link, for programs that bypass its stub.
const resolvedUpstreamPath = "/run/systemd/resolve/resolv.conf"

// Sources of the upstream list, as the snapshot records them.
const sourceDBus = "dbus"

// D-Bus names of systemd-resolved.
const (
	resolve1Name  = "org.freedesktop.resolve1"
	resolve1Path  = dbus.ObjectPath("/org/freedesktop/resolve1")
	managerIface  = "org.freedesktop.resolve1.Manager"
	linkIface     = "org.freedesktop.resolve1.Link"
	propertiesGet = "org.freedesktop.DBus.Properties.Get"
)

// scope is one of resolved's DNS scopes: the global one (link 0) or a
// link's, with its servers (address:port) and the one in use ("" before
// resolved has picked one).
type scope struct {
	link    int
	servers []string
	current string
}

// busReader reads resolved's scopes; the collector's default reads them
// over the system bus.
type busReader func(ctx context.Context) ([]scope, error)

// usesStub reports whether resolv.conf names resolved's stub.
func usesStub(nameservers []netip.Addr) bool {
	return slices.ContainsFunc(nameservers, func(a netip.Addr) bool {
		return a == snapshot.ResolvedStub || a == snapshot.ResolvedProxyStub
	})
}

// upstreams reads what resolved forwards to: over D-Bus when the collector
// reads the live host and a bus answers, else from the file resolved
// writes, below env's root. The scopes are nil when they were read from
// the file, which does not say which server is in use.
func (c *collector) upstreams(ctx context.Context, env *agent.Env) (*snapshot.Resolved, []scope) {
	var busErr error
	if env.FS().Root() == "/" && c.bus != nil {
		scopes, err := c.bus(ctx)
		if err == nil {
			return &snapshot.Resolved{Source: sourceDBus, Servers: serversOf(scopes, env.NetNS == "")}, scopes
		}
		busErr = err
	}
	r := &snapshot.Resolved{Source: resolvedUpstreamPath, Servers: []snapshot.ResolvedServer{}}
	b, err := env.FS().ReadFile(resolvedUpstreamPath, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Error = fmt.Sprintf("%s does not exist: systemd-resolved is not running, or this is an image whose /run is empty", env.FS().Real(resolvedUpstreamPath))
	case err != nil:
		r.Error = err.Error()
	default:
		addrs, err := parseUpstreams(bytes.NewReader(b))
		if err != nil {
			r.Error = fmt.Sprintf("read %s: %v", env.FS().Real(resolvedUpstreamPath), err)
		}
		for _, a := range addrs {
			r.Servers = append(r.Servers, snapshot.ResolvedServer{Address: netip.AddrPortFrom(a, uint16(c.port)).String()})
		}
	}
	if busErr != nil {
		r.Error = joinReasons(fmt.Sprintf("systemd-resolved's D-Bus properties could not be read (%v), so its upstreams are read from %s, which does not say which one is in use", busErr, resolvedUpstreamPath), r.Error)
	}
	return r, nil
}

func joinReasons(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// parseUpstreams reads the resolv.conf systemd-resolved writes with its
// upstreams: every valid nameserver line, in order, once each. Unlike the
// C library, it keeps more than three: resolved uses them all.
func parseUpstreams(r io.Reader) ([]netip.Addr, error) {
	var out []netip.Addr
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// serversOf lists the scopes' servers, global first, naming each link when
// named is set (the collector reads the host's own network namespace).
func serversOf(scopes []scope, named bool) []snapshot.ResolvedServer {
	out := []snapshot.ResolvedServer{}
	for _, s := range scopes {
		name := ""
		if s.link != 0 && named {
			if ifc, err := net.InterfaceByIndex(s.link); err == nil {
				name = ifc.Name
			}
		}
		for _, srv := range s.servers {
			out = append(out, snapshot.ResolvedServer{Address: srv, LinkIndex: s.link, Link: name})
		}
	}
	return out
}

// markCurrent marks, in r, the servers resolved was using both before and
// after the queries, and returns the upstreams an answer from the stub
// came from: the server in use of every scope that has servers when each
// one's is known and did not change, else every server. A scope without a
// server in use before the queries took the one it has after for the
// first of them.
func markCurrent(r *snapshot.Resolved, before, after []scope) []string {
	was := map[int]string{}
	for _, s := range before {
		was[s.link] = s.current
	}
	known := true
	var in []string
	for _, s := range after {
		if len(s.servers) == 0 {
			continue
		}
		w, seen := was[s.link]
		if s.current == "" || (seen && w != "" && w != s.current) {
			known = false
			continue
		}
		in = append(in, s.current)
		for i := range r.Servers {
			if r.Servers[i].LinkIndex == s.link && r.Servers[i].Address == s.current {
				r.Servers[i].Current = true
			}
		}
	}
	if known && len(in) > 0 {
		return in
	}
	return allServers(r)
}

// allServers lists r's servers once each.
func allServers(r *snapshot.Resolved) []string {
	var out []string
	for _, s := range r.Servers {
		if !slices.Contains(out, s.Address) {
			out = append(out, s.Address)
		}
	}
	return out
}

// readBus reads resolved's scopes over the system bus, with property reads
// only, and never starts resolved: a bus-activated service that is not
// running stays stopped, and the read fails.
func readBus(ctx context.Context) ([]scope, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	defer conn.Close()
	get := func(path dbus.ObjectPath, iface, prop string, dst any) error {
		var v dbus.Variant
		call := conn.Object(resolve1Name, path).CallWithContext(ctx, propertiesGet, dbus.FlagNoAutoStart, iface, prop)
		if err := call.Store(&v); err != nil {
			return fmt.Errorf("%s %s: %w", iface, prop, err)
		}
		if err := dbus.Store([]any{v.Value()}, dst); err != nil {
			return fmt.Errorf("%s %s: %w", iface, prop, err)
		}
		return nil
	}
	var all []struct {
		Link   int32
		Family int32
		Addr   []byte
		Port   uint16
		Name   string
	}
	if err := get(resolve1Path, managerIface, "DNSEx", &all); err != nil {
		return nil, err
	}
	var cur struct {
		Link   int32
		Family int32
		Addr   []byte
		Port   uint16
		Name   string
	}
	if err := get(resolve1Path, managerIface, "CurrentDNSServerEx", &cur); err != nil {
		return nil, err
	}
	scopes := []scope{{link: 0, current: serverAddr(cur.Addr, cur.Port)}}
	at := map[int]int{0: 0}
	for _, s := range all {
		i, ok := at[int(s.Link)]
		if !ok {
			i = len(scopes)
			at[int(s.Link)] = i
			scopes = append(scopes, scope{link: int(s.Link)})
		}
		if a := serverAddr(s.Addr, s.Port); a != "" {
			scopes[i].servers = append(scopes[i].servers, a)
		}
	}
	if g := scopes[0].current; g != "" && !slices.Contains(scopes[0].servers, g) {
		// A fallback server (FallbackDNS=), used when none is configured.
		scopes[0].servers = append(scopes[0].servers, g)
	}
	for i := range scopes[1:] {
		s := &scopes[i+1]
		var lc struct {
			Family int32
			Addr   []byte
			Port   uint16
			Name   string
		}
		if err := get(linkPath(s.link), linkIface, "CurrentDNSServerEx", &lc); err != nil {
			return nil, err
		}
		s.current = serverAddr(lc.Addr, lc.Port)
	}
	return scopes, nil
}

// serverAddr renders resolved's address bytes and port (0 for the
// default) as address:port; "" for no server.
func serverAddr(b []byte, port uint16) string {
	a, ok := netip.AddrFromSlice(b)
	if !ok || !a.IsValid() || a.IsUnspecified() {
		return ""
	}
	if port == 0 {
		port = 53
	}
	return netip.AddrPortFrom(a, port).String()
}

// linkPath is the object path of a link's scope: systemd escapes the
// index as a bus label, every character of it as _XX, the first because a
// label must not start with a digit.
func linkPath(index int) dbus.ObjectPath {
	var b strings.Builder
	for i, r := range strconv.Itoa(index) {
		if i == 0 || r == '-' {
			fmt.Fprintf(&b, "_%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return dbus.ObjectPath("/org/freedesktop/resolve1/link/" + b.String())
}
