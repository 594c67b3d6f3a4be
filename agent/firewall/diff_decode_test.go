package firewall

import (
	"testing"

	"github.com/hostdrift/hostdrift/internal/netfilter"
)

// Rulesets on what the kernel decides from the first packet and the
// decoders once left undecided or misread (issue 27): conntrack's original
// tuple under DNAT, masks that are not prefixes, sets of meta protocol and
// nfproto, merged icmp loads.

// conntrackTuple forwards DNATed ports by the connection's original tuple,
// as hand-written NAT gateways do, and accepts by masks that are not
// prefixes (even last octets of 10/8).
const conntrackTuple = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.200.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
-A PREROUTING -d 10.200.0.1/32 -p udp -m udp --dport 5005 -j DNAT --to-destination 172.17.0.2:53
-A PREROUTING -d 10.200.0.1/32 -p tcp -m tcp --dport 9000 -j DNAT --to-destination 172.17.0.2:443
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -s 10.0.0.0/255.0.0.1 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p udp -m conntrack --ctorigsrc 10.200.0.128/25 -j ACCEPT
-A INPUT -p tcp -m conntrack --ctorigsrcport 40000:40300 --ctorigdstport 80 -j ACCEPT
-A INPUT -m conntrack ! --ctproto tcp --ctorigdstport 123 -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -d 172.17.0.2/32 -p tcp -m conntrack --ctorigdst 10.200.0.1 --ctorigdstport 8080 --ctproto tcp -j ACCEPT
-A FORWARD -m conntrack --ctproto udp --ctorigdstport 5005 -j ACCEPT
-A FORWARD -m conntrack ! --ctorigdst 10.200.0.1 -p tcp -m tcp --dport 443 -j ACCEPT
-A OUTPUT -m conntrack --ctorigdst 10.201.0.0/16 --ctproto udp -j DROP
-A OUTPUT -d 10.0.0.0/255.0.0.1 -p tcp -m tcp --dport 5432 -j REJECT
COMMIT
`

func conntrackTupleRuleset(backend string) ruleset {
	host := hostAddr
	return ruleset{
		name:    "conntrack tuple iptables-" + backend,
		ports:   []uint16{22, 53, 80, 123, 443, 5005, 5432, 8080, 9000},
		forward: true,
		extraTargets: []target{
			{netfilter.Inbound, "tcp", host, 8080}, {netfilter.Inbound, "udp", host, 5005}, {netfilter.Inbound, "tcp", host, 9000},
		},
		load: func(t *testing.T, tp *topo) {
			restore(t, tp.host, "iptables-"+backend+"-restore", conntrackTuple)
		},
	}
}

// nftFirstFields holds the set and field forms the nft decoder once read
// wrongly: sets keyed by meta protocol, nfproto and tcp flags, a mask that
// is not a prefix, merged loads.
const nftFirstFields = `table inet fields {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		tcp flags { syn | ack, fin } drop
		meta nfproto { ipv6 } tcp dport 22 accept
		meta protocol { ip } udp dport 53 accept
		ip saddr & 255.0.0.1 == 10.0.0.0 tcp dport 80 accept
		ip6 saddr & ffff:ffff:ffff:ffff::1 == fd00:201:: tcp dport 80 accept
		ip saddr 10.201.0.0/16 tcp sport 40000-40300 tcp dport 443 accept
		tcp sport 40000 tcp dport 8080 accept
		meta l4proto . th dport { tcp . 5432, udp . 123 } accept
	}
	chain output {
		type filter hook output priority filter; policy accept;
		meta protocol { ip6 } udp dport 5005 drop
		tcp flags { syn } tcp dport 9000 drop
	}
}
`

var nftFirstFieldsRuleset = ruleset{
	name:  "nft fields and sets",
	ports: []uint16{22, 53, 80, 123, 443, 5005, 5432, 8080, 9000},
	v6:    true,
	load: func(t *testing.T, tp *topo) {
		nftLoad(t, tp.host, nftFirstFields)
	},
}
