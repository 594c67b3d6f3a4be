package snapshot

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Host holds the facts policies can refer to as host.*.
type Host struct {
	Hostname   string      `json:"hostname"`
	FQDN       string      `json:"fqdn"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one network interface and the addresses it holds.
type Interface struct {
	Name     string `json:"name"`
	Index    int    `json:"index"`
	Up       bool   `json:"up"`
	Loopback bool   `json:"loopback"`
	// MTU is the link's maximum transmission unit; OperState its
	// operational state as the kernel reports it (up, down,
	// lower-layer-down, dormant, unknown: a dummy or loopback link that
	// tracks no carrier).
	MTU       int       `json:"mtu,omitempty"`
	OperState string    `json:"oper_state,omitempty"`
	Addresses []Address `json:"addresses"`
}

// Address is one address held by an interface.
type Address struct {
	IP        netip.Addr `json:"ip"`
	PrefixLen int        `json:"prefix_len"`
	Family    Family     `json:"family"`
	Scope     string     `json:"scope"` // host | link | global | site
}

// Family is an address family.
type Family string

// Address families.
const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

// FamilyOf returns the family of an address.
func FamilyOf(a netip.Addr) Family {
	if a.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// Attach puts the host facts into the snapshot.
func (h *Host) Attach(s *Snapshot) { s.Host = *h }

// UnicastAddresses lists every address of the host that another machine could
// use to reach it: global and site scope, loopback and link-local excluded.
func (h *Host) UnicastAddresses() []AddressOn {
	var out []AddressOn
	for _, ifc := range h.Interfaces {
		for _, a := range ifc.Addresses {
			if a.IP.IsLoopback() || a.IP.IsLinkLocalUnicast() || a.IP.IsMulticast() || a.IP.IsUnspecified() {
				continue
			}
			out = append(out, AddressOn{IP: a.IP, Interface: ifc.Name})
		}
	}
	return out
}

// AddressOn is an address together with the interface that holds it.
type AddressOn struct {
	IP        netip.Addr
	Interface string
}

// Objects lists each interface by name with its state, MTU and addresses,
// for diffs. Docker's links are left out: its veth ends (vethXXXX) are
// renamed at every container start, and its network bridges (br- and the
// network id's first 12 hex digits) come and go with the networks, which the
// docker area compares.
func (h *Host) Objects() []Object {
	var out []Object
	for _, ifc := range h.Interfaces {
		if strings.HasPrefix(ifc.Name, "veth") || dockerBridge(ifc.Name) {
			continue
		}
		var addrs []string
		for _, a := range ifc.Addresses {
			addrs = append(addrs, fmt.Sprintf("%s/%d", a.IP, a.PrefixLen))
		}
		slices.Sort(addrs)
		out = append(out, Object{Area: AreaInterfaces, Kind: "interface", ID: ifc.Name, Fields: map[string]string{
			"up": strconv.FormatBool(ifc.Up), "mtu": strconv.Itoa(ifc.MTU), "addresses": strings.Join(addrs, " "),
		}})
	}
	return out
}

// dockerBridge reports whether name is a Docker network's bridge: br-
// followed by 12 hex digits.
func dockerBridge(name string) bool {
	id, ok := strings.CutPrefix(name, "br-")
	if !ok || len(id) != 12 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
