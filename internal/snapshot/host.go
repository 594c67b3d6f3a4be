package snapshot

import "net/netip"

// Host holds the facts policies can refer to as host.*.
type Host struct {
	Hostname   string      `json:"hostname"`
	FQDN       string      `json:"fqdn"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one network interface and the addresses it holds.
type Interface struct {
	Name      string    `json:"name"`
	Index     int       `json:"index"`
	Up        bool      `json:"up"`
	Loopback  bool      `json:"loopback"`
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
