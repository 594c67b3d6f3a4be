// Package bighost describes the state of a large host at a chosen scale, for
// benchmarks: firewall rulesets, listening sockets and connections, scheduled
// jobs and DNS names. Scale 1 is issue 10's "big host"; scale s multiplies
// every count by s. It only writes text and fixture files; loading them into
// a namespace is the caller's business.
package bighost

import (
	"fmt"
	"net/netip"
	"strings"
)

// Counts at scale 1.
const (
	IptablesRules = 20000 // iptables-nft rules, kube-proxy-like
	LegacyRules   = 2000  // iptables-legacy rules
	NftRules      = 2000  // native nftables rules, the set's lookup included
	NftElements   = 10000 // elements of the one native set
	Listeners     = 10000 // listening TCP sockets
	Conns         = 20000 // established loopback connections (two sockets each)
	CronEntries   = 1000  // lines in /etc/cron.d files
	Timers        = 300   // timer and service unit pairs
	Names         = 500   // DNS names on the test server
)

// chainRules is the number of rules in each kube-proxy-like service chain;
// with the two jumps that reach it, a service costs chainRules+2 rules.
const chainRules = 18

// IptablesNft returns an iptables-restore file of IptablesRules*scale rules
// shaped like kube-proxy's: one user chain a service, 18 source-range rules
// with conntrack matches in it, reached by a TCP and a commented UDP jump
// from INPUT or OUTPUT.
func IptablesNft(scale int) string {
	services := scale * IptablesRules / (chainRules + 2)
	var b strings.Builder
	filterTable(&b, "C", services)
	for k := range services {
		chainDir := "INPUT"
		if k%2 == 1 {
			chainDir = "OUTPUT"
		}
		fmt.Fprintf(&b, "-A %s -p tcp -m tcp --dport %d -j C%d\n", chainDir, 10000+k, k)
		fmt.Fprintf(&b, "-A %s -p udp -m udp --dport %d -m comment --comment \"svc %d\" -j C%d\n", chainDir, 10000+k, k, k)
		for j := range chainRules {
			verdict := "ACCEPT"
			if j%3 == 0 {
				verdict = "DROP"
			}
			fmt.Fprintf(&b, "-A C%d -s 10.%d.%d.0/24 -m conntrack --ctstate NEW -j %s\n", k, k/250, j, verdict)
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// IptablesServicePort is the destination port of service k's jumps in
// IptablesNft; its chain drops sources 10.(k/250).j.0/24 for j%3 == 0.
func IptablesServicePort(k int) int { return 10000 + k }

// IptablesServices is the number of services IptablesNft makes at scale.
func IptablesServices(scale int) int { return scale * IptablesRules / (chainRules + 2) }

// IptablesLegacy returns an iptables-restore file of LegacyRules*scale rules
// for the legacy backend, shaped like a hand-written allow list: chains of
// 20 per-host rules reached from INPUT, as old configuration tools leave.
func IptablesLegacy(scale int) string {
	const perChain = 19 // and the jump
	chains := scale * LegacyRules / (perChain + 1)
	var b strings.Builder
	filterTable(&b, "L", chains)
	for k := range chains {
		fmt.Fprintf(&b, "-A INPUT -p tcp -m tcp --dport %d -j L%d\n", 30000+k, k)
		for j := range perChain {
			verdict := "ACCEPT"
			if j == perChain-1 {
				verdict = "REJECT --reject-with tcp-reset"
			}
			fmt.Fprintf(&b, "-A L%d -s %s/32 -p tcp -j %s\n", k, hostAddr(198<<24|18<<16, k*perChain+j), verdict)
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// filterTable starts an iptables-restore filter table with n user chains
// named prefix0 onwards.
func filterTable(b *strings.Builder, prefix string, n int) {
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for k := range n {
		fmt.Fprintf(b, ":%s%d - [0:0]\n", prefix, k)
	}
}

// Nft returns an nft -f file: table inet bench with one set of
// NftElements*scale addresses and an input chain of NftRules*scale rules,
// the first of which drops the set's addresses.
func Nft(scale int) string {
	var n strings.Builder
	n.WriteString("table inet bench {\n\tset big {\n\t\ttype ipv4_addr\n\t\telements = { ")
	for i := range scale * NftElements {
		if i > 0 {
			n.WriteString(", ")
		}
		n.WriteString(NftSetAddr(i).String())
	}
	n.WriteString(" }\n\t}\n\tchain input {\n\t\ttype filter hook input priority filter + 5; policy accept;\n\t\tip saddr @big drop\n")
	for i := range scale*NftRules - 1 {
		fmt.Fprintf(&n, "\t\tip saddr %s tcp dport %d accept\n", hostAddr(172<<24|16<<16, i), 20000+i%40000)
	}
	n.WriteString("\t}\n}\n")
	return n.String()
}

// NftSetAddr is the i-th address of Nft's set: 192.168.0.1 onwards for the
// first 10,000 (as the firewall benchmark has always used), then in
// 100.64.0.0/10.
func NftSetAddr(i int) netip.Addr {
	if i < NftElements {
		return netip.AddrFrom4([4]byte{192, 168, byte(i / 250), byte(1 + i%250)})
	}
	return hostAddr(100<<24|64<<16, i)
}

// hostAddr is the i-th address from base that ends in 1 to 250.
func hostAddr(base uint32, i int) netip.Addr {
	v := base + uint32(i/250)<<8 + uint32(1+i%250)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
