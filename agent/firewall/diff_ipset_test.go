package firewall

import "testing"

// ipsetDiffCommands are the sets the ipset ruleset matches: hosts, networks
// with an exception, (address, port) pairs, interfaces, ports, a set with
// timeouts that a rule fills, IPv6 networks, triples and a list of sets.
var ipsetDiffCommands = [][]string{
	{"create", "hosts", "hash:ip"}, {"add", "hosts", "10.200.0.130"}, {"add", "hosts", "10.201.0.3"},
	{"create", "nets", "hash:net"}, {"add", "nets", "10.201.0.0/17"}, {"add", "nets", "10.201.0.0/30", "nomatch"},
	{"create", "svc", "hash:ip,port"}, {"add", "svc", "10.200.0.1,tcp:8080"}, {"add", "svc", "10.200.0.1,udp:9000"},
	{"create", "ifnets", "hash:net,iface"}, {"add", "ifnets", "10.200.0.128/26,vh"}, {"add", "ifnets", "10.201.0.0/24,vw+"},
	{"create", "ports", "bitmap:port", "range", "1-10000"}, {"add", "ports", "993"}, {"add", "ports", "3306"},
	{"create", "banned", "hash:ip", "timeout", "600"}, {"add", "banned", "10.201.0.9"},
	{"create", "nets6", "hash:net", "family", "inet6"}, {"add", "nets6", "fd00:201::/121"},
	{"create", "pairs", "hash:ip,port,ip"}, {"add", "pairs", "10.200.0.1,tcp:5432,10.200.0.131"},
	{"create", "ctrs", "hash:ip"}, {"add", "ctrs", "172.17.0.2"},
	{"create", "either", "list:set"}, {"add", "either", "hosts"}, {"add", "either", "nets"},
}

// Replies leave by the ESTABLISHED rule first: the rules that reject
// traffic to the sets' peers are about the first packet, not the answer.
const ipsetRules4 = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m set --match-set either src -j DROP
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -m set --match-set svc dst,dst -j ACCEPT
-A INPUT -m set --match-set ports dst -j ACCEPT
-A INPUT -p udp -m set ! --match-set ifnets src,src -j DROP
-A INPUT -m set --match-set banned src -j DROP
-A INPUT -p udp -m udp --dport 123 -j SET --add-set banned src
-A INPUT -m set --match-set pairs dst,dst,src -j ACCEPT
-A INPUT -p udp -m udp --dport 5000:5010 -j ACCEPT
-A INPUT -m set --match-set nets src,dst -p tcp -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 -j ACCEPT
-A FORWARD -o docker0 -m set --match-set either src -j DROP
-A FORWARD -o docker0 -p tcp -m set --match-set ctrs dst -m multiport --dports 80,443 -j ACCEPT
-A FORWARD -o docker0 -m set --match-set ports dst -j ACCEPT
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -m set --match-set nets dst -p tcp -j REJECT --reject-with tcp-reset
-A OUTPUT -m set --match-set hosts dst -p udp -j DROP
COMMIT
`

const ipsetRules6 = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m set --match-set nets6 src -j REJECT --reject-with tcp-reset
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -m set --match-set ports dst -j ACCEPT
-A INPUT -p udp -m set ! --match-set nets6 src -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 -j ACCEPT
-A FORWARD -o docker0 -m set --match-set nets6 src -j DROP
-A FORWARD -o docker0 -m set --match-set ports dst -j ACCEPT
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -p tcp -m set --match-set nets6 dst -j REJECT --reject-with tcp-reset
COMMIT
`

// ipsetRuleset matches ipsets from iptables rules of the backend.
func ipsetRuleset(backend string) ruleset {
	return ruleset{
		name:    "ipset iptables-" + backend,
		ports:   commonPorts,
		forward: true,
		v6:      true,
		history: true, // the banned set with timeouts
		load: func(t *testing.T, tp *topo) {
			for _, c := range ipsetDiffCommands {
				tp.host.Run(t, "ipset", c...)
			}
			restore(t, tp.host, "iptables-"+backend+"-restore", ipsetRules4)
			restore(t, tp.host, "ip6tables-"+backend+"-restore", ipsetRules6)
		},
	}
}
