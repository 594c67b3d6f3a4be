package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "interface",
		Summary: "a network interface exists (or not), is up, holds addresses and has an MTU",
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true},
			{Name: "exists"},
			{Name: "up"},
			{Name: "addresses"},
			{Name: "mtu"},
		},
		AttributeDocs: map[string]string{
			"name":      "the interface's name (\"eth0\", \"wg0\")",
			"exists":    "false: no interface of that name may exist (default true)",
			"up":        "true (the default): it is administratively up and its link is not down; false: it is down",
			"addresses": "addresses it must hold, one or a list, each an address or address/prefix (\"192.0.2.10/24\")",
			"mtu":       "its MTU in bytes",
		},
		Needs:  []string{snapshot.CollectorHost},
		Decode: decodeInterface,
	})
}

// interfaceCheck: the named interface is as the attributes say.
type interfaceCheck struct {
	name   string
	absent bool
	up     bool
	addrs  []netip.Prefix
	// bare[i]: addrs[i] was given without a prefix length, which is then
	// not compared.
	bare []bool
	mtu  int
}

func decodeInterface(d *Decoder) Check {
	c := &interfaceCheck{name: d.String("name", ""), absent: !d.Bool("exists", true), up: d.Bool("up", true), mtu: d.Int("mtu", 0, 68, 1<<20)}
	for _, s := range d.Strings("addresses") {
		if p, err := netip.ParsePrefix(s); err == nil {
			c.addrs, c.bare = append(c.addrs, p), append(c.bare, false)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			d.Errorf("addresses", "Invalid address", "%q is neither an address nor address/prefix.", s)
			continue
		}
		c.addrs, c.bare = append(c.addrs, netip.PrefixFrom(a.Unmap(), a.BitLen())), append(c.bare, true)
	}
	if c.absent && (d.Has("up") || d.Has("addresses") || d.Has("mtu")) {
		d.Errorf("exists", "Contradictory interface check", "exists = false says %s must not exist; up, addresses and mtu describe it existing. Keep one.", c.name)
	}
	return c
}

func (c *interfaceCheck) expected() string {
	if c.absent {
		return "no interface " + c.name
	}
	parts := []string{c.name + " exists"}
	if c.up {
		parts = append(parts, "up")
	} else {
		parts = append(parts, "down")
	}
	if len(c.addrs) > 0 {
		parts = append(parts, "holding "+c.addrText())
	}
	if c.mtu > 0 {
		parts = append(parts, fmt.Sprintf("MTU %d", c.mtu))
	}
	return strings.Join(parts, ", ")
}

func (c *interfaceCheck) addrText() string {
	var s []string
	for i, p := range c.addrs {
		if c.bare[i] {
			s = append(s, p.Addr().String())
		} else {
			s = append(s, p.String())
		}
	}
	return strings.Join(s, ", ")
}

func (c *interfaceCheck) Evaluate(s *snapshot.Snapshot) Result {
	r := Result{Expected: c.expected()}
	var ifc *snapshot.Interface
	for i := range s.Host.Interfaces {
		if s.Host.Interfaces[i].Name == c.name {
			ifc = &s.Host.Interfaces[i]
		}
	}
	switch {
	case ifc == nil && c.absent:
		r.Status, r.Observed, r.Explanation = finding.Pass, "absent", "there is no interface "+c.name
		return r
	case ifc == nil:
		r.Status, r.Observed = finding.Fail, "absent"
		r.Explanation = fmt.Sprintf("there is no interface %s (the host has %s)", c.name, ifNames(s.Host.Interfaces))
		r.Remediation = "bring up the configuration that creates " + c.name + " (its netplan, ifupdown, systemd-networkd or VPN unit), or fix the name if it was renamed"
		return r
	case c.absent:
		r.Status, r.Observed = finding.Fail, ifText(*ifc)
		r.Explanation = fmt.Sprintf("interface %s exists (%s), and the policy says it must not", c.name, r.Observed)
		r.Remediation = "remove " + c.name + " and the configuration that creates it"
		return r
	}
	r.Observed = ifText(*ifc)
	var why, fix []string
	down := !ifc.Up || ifc.OperState == "down" || ifc.OperState == "lower-layer-down"
	switch {
	case c.up && !ifc.Up:
		why = append(why, c.name+" is administratively down")
		fix = append(fix, "ip link set "+c.name+" up, and make its network configuration bring it up at boot")
	case c.up && down:
		why = append(why, fmt.Sprintf("%s is up but its link is %s: no carrier", c.name, ifc.OperState))
		fix = append(fix, "check what "+c.name+" connects to: the cable or switch port, the peer of a veth or the VPN's other end")
	case !c.up && !down:
		why = append(why, c.name+" is up, and the policy says it must be down")
		fix = append(fix, "ip link set "+c.name+" down, and remove what brings it up at boot")
	}
	var missing []string
	for i, p := range c.addrs {
		if !holds(*ifc, p, c.bare[i]) {
			missing = append(missing, c.addrs[i].String())
			if c.bare[i] {
				missing[len(missing)-1] = p.Addr().String()
			}
		}
	}
	if len(missing) > 0 {
		why = append(why, fmt.Sprintf("%s does not hold %s", c.name, strings.Join(missing, ", ")))
		fix = append(fix, "check "+c.name+"'s address configuration (static, DHCP lease, or what assigns it)")
	}
	if c.mtu > 0 && ifc.MTU != c.mtu {
		why = append(why, fmt.Sprintf("%s has MTU %d, not %d", c.name, ifc.MTU, c.mtu))
		fix = append(fix, fmt.Sprintf("ip link set %s mtu %d, and set the MTU in its network configuration so it stays", c.name, c.mtu))
	}
	if len(why) > 0 {
		r.Status, r.Explanation, r.Remediation = finding.Fail, strings.Join(why, "; "), strings.Join(fix, "; ")
		return r
	}
	r.Status, r.Explanation = finding.Pass, c.name+": "+r.Observed
	return r
}

// holds reports whether the interface holds the address (and, unless
// bare, with that prefix length).
func holds(ifc snapshot.Interface, p netip.Prefix, bare bool) bool {
	for _, a := range ifc.Addresses {
		if a.IP == p.Addr() && (bare || a.PrefixLen == p.Bits()) {
			return true
		}
	}
	return false
}

// ifText describes an interface: "up (state up), MTU 1500, 192.0.2.10/24".
func ifText(ifc snapshot.Interface) string {
	state := "down"
	if ifc.Up {
		state = "up"
	}
	if ifc.OperState != "" {
		state += " (link " + ifc.OperState + ")"
	}
	s := fmt.Sprintf("%s, MTU %d", state, ifc.MTU)
	var as []string
	for _, a := range ifc.Addresses {
		as = append(as, fmt.Sprintf("%s/%d", a.IP, a.PrefixLen))
	}
	if len(as) > 0 {
		s += ", " + strings.Join(as, " ")
	} else {
		s += ", no addresses"
	}
	return s
}

func ifNames(ifs []snapshot.Interface) string {
	var n []string
	for _, i := range ifs {
		n = append(n, i.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}
