package rules

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// ingress is egress's flow check in the other direction (egress.go): a
// first packet from the peer range to a port of this host.
func init() {
	Register(&Kind{
		Name:       "ingress",
		Summary:    "the local firewall lets a connection to a port of this host in, from anywhere or from an address range, or keeps it out",
		Attributes: []hcl.AttributeSchema{{Name: "protocol"}, {Name: "port"}, {Name: "from"}, {Name: "expect"}},
		AttributeDocs: map[string]string{
			"protocol": "tcp (default), udp or icmp (no port)",
			"port":     "the port of this host",
			"from":     "the source: an address, a CIDR or a list of them (default: anywhere, 0.0.0.0/0)",
			"expect":   "allow (default) or deny",
		},
		Needs:  []string{snapshot.CollectorFirewall},
		Decode: func(d *Decoder) Check { return decodeFlow(d, netfilter.Inbound, "from") },
	})
}
