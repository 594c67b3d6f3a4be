package bighost

import (
	"fmt"
	"net/netip"
	"strings"
)

// Zone is the DNS test server's domain.
const Zone = "example.test"

// Name is the i-th DNS name: h0.example.test onwards.
func Name(i int) string { return fmt.Sprintf("h%d.%s", i, Zone) }

// NameAddr is the address the zone gives Name(i), in 10.200.0.0/16 and on.
func NameAddr(i int) netip.Addr { return hostAddr(10<<24|200<<16, i) }

// HostsZone returns Names*scale names in hosts format, for nstest.Dnsmasq.
func HostsZone(scale int) string {
	var b strings.Builder
	for i := range scale * Names {
		fmt.Fprintf(&b, "%s %s\n", NameAddr(i), Name(i))
	}
	return b.String()
}
