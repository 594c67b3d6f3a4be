// Package host collects the host's identity and addresses: the facts that
// policies refer to as host.*.
package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() { agent.Register(snapshot.CollectorHost, func() agent.Collector { return collector{} }) }

type collector struct{}

// Paths the collector reads.
const (
	hostsPath      = "/etc/hosts"
	resolvConfPath = "/etc/resolv.conf"
	// hostnamePath is not read: the hostname is the kernel's, which tells
	// no one when it changes; but hostnamectl and the tools that set it
	// write this file too, so a change to it is when to read again.
	hostnamePath = "/etc/hostname"
)

// Follows declares the news after which the interfaces are read again:
// their links, addresses and routes changed.
func (collector) Follows() []agent.Source { return []agent.Source{agent.RTNetlink} }

// Reads declares what the collector reads: /etc/hosts and resolv.conf for
// the FQDN, and /etc/hostname, which changes with the hostname.
func (collector) Reads() []agent.Path {
	return []agent.Path{agent.File(hostsPath), agent.File(resolvConfPath), agent.File(hostnamePath)}
}

// Collect reads the hostname, the FQDN as /etc/hosts or resolv.conf give it
// (no network query is made), and every interface address over netlink.
func (collector) Collect(ctx context.Context, env *agent.Env) (snapshot.Section, error) {
	h := &snapshot.Host{}
	name, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("read the hostname: %w", err)
	}
	h.Hostname = name
	var skipped []string
	h.FQDN, skipped = fqdn(name, env)
	ifaces, err := interfaces(env.NetNS)
	if err != nil {
		return nil, err
	}
	h.Interfaces = ifaces
	if len(skipped) > 0 {
		return h, agent.Partial("the FQDN was told without %s", strings.Join(skipped, " and "))
	}
	return h, nil
}

// fqdn finds the host's fully qualified name the way `hostname -f` does,
// without asking DNS: a dotted hostname is one; else the first dotted alias of
// the hostname in /etc/hosts; else hostname plus resolv.conf's domain. It
// also returns the files it could not read, and why (a FIFO, a folder...).
func fqdn(name string, env *agent.Env) (string, []string) {
	if strings.Contains(name, ".") {
		return name, nil
	}
	var skipped []string
	if b, err := env.FS().ReadFile(hostsPath, 0); err == nil {
		if n := fqdnFromHosts(bytes.NewReader(b), name); n != "" {
			return n, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		skipped = append(skipped, err.Error())
	}
	if b, err := env.FS().ReadFile(resolvConfPath, 0); err == nil {
		if d := domainFromResolvConf(bytes.NewReader(b)); d != "" {
			return name + "." + d, skipped
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		skipped = append(skipped, err.Error())
	}
	return name, skipped
}

func fqdnFromHosts(r io.Reader, name string) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		names := fields[1:]
		has := false
		for _, n := range names {
			if n == name || strings.HasPrefix(n, name+".") {
				has = true
			}
		}
		if !has {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(n, name+".") {
				return n
			}
		}
	}
	return ""
}

// domainFromResolvConf is the domain resolv.conf gives the host: its
// domain line, else the first of its search list. Names are written
// without the root's dot: "." itself, which systemd-resolved's stub file
// holds as "search ." on a host with no search domain (so that glibc adds
// none), is the root, no domain.
func domainFromResolvConf(r io.Reader) string {
	sc := bufio.NewScanner(r)
	domain, set := "", false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "domain" || (f[0] == "search" && !set)) {
			domain, set = strings.TrimSuffix(f[1], "."), true
		}
	}
	return domain
}

// interfaces lists every interface and its addresses, in the given network
// namespace or the caller's.
func interfaces(nsPath string) ([]snapshot.Interface, error) {
	h := &netlink.Handle{}
	if nsPath != "" {
		ns, err := netns.GetFromPath(nsPath)
		if err != nil {
			return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
		h, err = netlink.NewHandleAt(ns)
		if err != nil {
			return nil, fmt.Errorf("netlink in %s: %w", nsPath, err)
		}
		defer h.Close()
	}
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces over netlink: %w", err)
	}
	byIndex := map[int]*snapshot.Interface{}
	var out []snapshot.Interface
	for _, l := range links {
		a := l.Attrs()
		out = append(out, snapshot.Interface{
			Name:      a.Name,
			Index:     a.Index,
			Up:        a.Flags&(1<<0) != 0, // net.FlagUp
			Loopback:  a.EncapType == "loopback",
			MTU:       a.MTU,
			OperState: a.OperState.String(),
			Addresses: []snapshot.Address{},
		})
	}
	for i := range out {
		byIndex[out[i].Index] = &out[i]
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses over netlink: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := a.Mask.Size()
		ifc := byIndex[a.LinkIndex]
		if ifc == nil {
			continue
		}
		ifc.Addresses = append(ifc.Addresses, snapshot.Address{
			IP: ip, PrefixLen: ones, Family: snapshot.FamilyOf(ip), Scope: scopeName(a.Scope),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

func scopeName(s int) string {
	switch s {
	case unix.RT_SCOPE_UNIVERSE:
		return "global"
	case unix.RT_SCOPE_SITE:
		return "site"
	case unix.RT_SCOPE_LINK:
		return "link"
	case unix.RT_SCOPE_HOST:
		return "host"
	default:
		return fmt.Sprintf("%d", s)
	}
}
