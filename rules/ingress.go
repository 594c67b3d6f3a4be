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
		Needs:      []string{snapshot.CollectorFirewall},
		Decode:     func(d *Decoder) Check { return decodeFlow(d, netfilter.Inbound, "from") },
	})
}
