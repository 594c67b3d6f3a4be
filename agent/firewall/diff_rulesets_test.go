package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// commonPorts are what every ruleset's probes aim at; receivers listen on all
// of them in every namespace. Client source ports are 40000 and up.
var commonPorts = []uint16{22, 25, 53, 80, 123, 443, 587, 993, 2222, 3306, 5000, 5005, 5432, 8080, 8443, 9000, 9050, 12345, 23456, 31000}

// restore loads iptables-save text with the given restore tool in the namespace.
func restore(t *testing.T, ns *nstest.NS, tool, text string) {
	t.Helper()
	cmd := ns.Command(tool)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s\ninput:\n%s", tool, err, out, text)
	}
}

func nftLoad(t *testing.T, ns *nstest.NS, text string) {
	t.Helper()
	cmd := ns.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s\ninput:\n%s", err, out, text)
	}
}

// The UFW rulesets are written by Debian's ufw itself (nstest.UFWBackend),
// through iptables-nft and through iptables-legacy, IPv6 chains included
// (IPV6=yes): ufw6-before-* with "-m rt --rt-type 0 -j DROP" from
// /usr/share/ufw/before6.rules, and `limit` as ufw writes it (-m recent
// --set, then --update --seconds 30 --hitcount 6 -j ufw-user-limit).
func ufwRuleset(name, backend string, commands ...string) ruleset {
	return ruleset{
		name:    name + " " + backend,
		ports:   commonPorts,
		v6:      true,
		history: true,
		load: func(t *testing.T, tp *topo) {
			tp.host.UFWBackend(t, backend, commands...)
			for _, tool := range []string{"iptables-" + backend + "-save", "ip6tables-" + backend + "-save"} {
				if out := tp.host.Run(t, tool); !strings.Contains(out, "-A ufw") {
					t.Fatalf("ufw wrote no rules through %s:\n%s", tool, out)
				}
			}
		},
	}
}

func ufwDenyOutgoing(backend string) ruleset {
	return ufwRuleset("ufw deny outgoing", backend,
		"default deny incoming", "default deny outgoing",
		"allow out 53", "allow out 443/tcp", "allow out 993/tcp",
		"allow 22/tcp", "limit 2222/tcp",
		"allow out to 10.200.0.2 port 5432 proto tcp",
		"allow in from 10.200.0.128/26 to any port 3306 proto tcp",
		"reject out 25/tcp", "allow 5000:5010/udp")
}

func ufwAllowList(backend string) ruleset {
	return ufwRuleset("ufw allow list", backend,
		"default deny incoming", "default allow outgoing",
		"allow 80,443/tcp", "allow from 10.200.0.0/24 to any port 22",
		"deny out 587/tcp", "reject 8080", "allow 5000:5010/udp",
		"allow in on vh to any port 9000 proto tcp", "limit 2222/tcp",
		"deny out to 10.200.0.2 port 12345", "allow from fd00:201::/120 to any port 8443 proto tcp")
}

const plainIptables = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -p udp -m udp --dport 123 -j MARK --set-xmark 0x1/0x1
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:svc - [0:0]
:out-check - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT
-A INPUT -p udp -m udp --dport 5000:5010 -j ACCEPT
-A INPUT -s 10.200.0.0/24 -p tcp -m tcp --dport 3306 -j svc
-A INPUT -p tcp -m tcp --dport 8080 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m addrtype --dst-type LOCAL -m udp --dport 53 -j ACCEPT
-A INPUT -m limit --limit 5/min -j LOG --log-prefix "drop: "
-A INPUT -p tcp -m tcp ! --dport 1:1024 -m comment --comment "high ports" -j ACCEPT
-A svc ! -s 10.200.0.128/26 -j RETURN
-A svc -j ACCEPT
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with icmp-port-unreachable
-A OUTPUT -g out-check
-A OUTPUT -j DROP
-A out-check -p tcp -m tcp --dport 587 -j DROP
-A out-check -p udp -m udp ! --dport 53 -m mark --mark 0x1/0x1 -j DROP
-A out-check -p udp -m multiport --dports 9000:9100,12345 -j DROP
COMMIT
`

var plainIptablesNft = ruleset{
	name:  "iptables-nft plain",
	ports: commonPorts,
	load: func(t *testing.T, tp *topo) {
		restore(t, tp.host, "iptables-nft-restore", plainIptables)
	},
}

const plainNft = `table inet hd {
	set in_ports {
		type inet_service
		flags interval
		elements = { 22, 80, 443, 5000-5010 }
	}
	set trusted {
		type ipv4_addr
		flags interval
		elements = { 10.200.0.0/24, 192.0.2.0/24 }
	}
	map out_v {
		type inet_service : verdict
		elements = { 25 : drop, 587 : jump smtp, 993 : accept, 9050 : goto smtp }
	}
	set svc {
		type ipv4_addr . inet_proto . inet_service
		elements = { 10.200.0.1 . tcp . 3306, 10.200.0.1 . udp . 123 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state vmap { established : accept, related : accept, invalid : drop }
		iifname "lo" accept
		tcp dport @in_ports accept
		udp dport @in_ports accept
		ip saddr @trusted ip daddr . meta l4proto . th dport @svc accept
		ip saddr @trusted udp dport { 53, 8080 } accept
		tcp dport 8080 reject with tcp reset
		meta l4proto tcp th dport >= 20000 th dport <= 30000 counter accept
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		meta l4proto { tcp, udp } th dport vmap @out_v
		meta l4proto udp th dport 9000-9100 drop
		ip daddr 10.200.0.0/30 tcp dport != { 80, 443, 2222, 3306, 5432, 8080 } tcp dport < 10000 drop
	}
	chain smtp {
		ip daddr 192.0.2.0/24 accept
		drop
	}
}
table ip early {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		tcp dport 31000 drop
	}
}
`

var plainNftables = ruleset{
	name:  "nft named and anonymous sets",
	ports: commonPorts,
	v6:    true,
	load: func(t *testing.T, tp *topo) {
		nftLoad(t, tp.host, plainNft)
	},
}

// firewalldNft is hand-written in firewalld's nftables shape. It stays next
// to the real firewalld (TestDifferentialFirewalld) for the paths that one
// does not take: a DNAT forward and a zone on the container bridge, probed
// through the host.
const firewalldNft = `table inet firewalld {
	set trusted_src {
		type ipv4_addr
		flags interval
		elements = { 10.200.0.128/26 }
	}
	chain filter_PREROUTING {
		type filter hook prerouting priority filter + 10; policy accept;
		icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept
		meta nfproto ipv6 fib saddr . mark . iif oif missing drop
	}
	chain nat_PREROUTING {
		type nat hook prerouting priority dstnat + 10; policy accept;
		jump nat_PREROUTING_ZONES
	}
	chain nat_PREROUTING_ZONES {
		iifname "docker0" goto nat_PRE_internal
		goto nat_PRE_public
	}
	chain nat_PRE_public {
		jump nat_PRE_public_allow
	}
	chain nat_PRE_public_allow {
		meta nfproto ipv4 tcp dport 8443 dnat ip to 172.17.0.2:80
	}
	chain nat_PRE_internal {
	}
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state { established, related } accept
		ct status dnat accept
		iifname "lo" accept
		ct state invalid drop
		jump filter_INPUT_ZONES
		reject with icmpx admin-prohibited
	}
	chain filter_FORWARD {
		type filter hook forward priority filter + 10; policy accept;
		ct state { established, related } accept
		ct status dnat accept
		iifname "lo" accept
		ct state invalid drop
		jump filter_FORWARD_ZONES
		reject with icmpx admin-prohibited
	}
	chain filter_OUTPUT {
		type filter hook output priority filter + 10; policy accept;
		ct state { established, related } accept
		oifname "lo" accept
		jump filter_OUTPUT_POLICIES
	}
	chain filter_OUTPUT_POLICIES {
		oifname "vh" jump filter_OUT_policy_egress
		return
	}
	chain filter_OUT_policy_egress {
		tcp dport { 25, 587 } reject with icmpx admin-prohibited
		udp dport 9000-9100 drop
	}
	chain filter_INPUT_ZONES {
		iifname "docker0" goto filter_IN_internal
		iifname "vh" goto filter_IN_public
		goto filter_IN_public
	}
	chain filter_IN_public {
		jump filter_IN_public_pre
		jump filter_IN_public_log
		jump filter_IN_public_deny
		jump filter_IN_public_allow
		jump filter_IN_public_post
		meta l4proto { icmp, ipv6-icmp } accept
	}
	chain filter_IN_public_pre {
	}
	chain filter_IN_public_log {
	}
	chain filter_IN_public_deny {
		ip saddr 192.0.2.0/24 drop
	}
	chain filter_IN_public_allow {
		tcp dport 22 ct state { new, untracked } accept
		ip6 daddr fe80::/64 udp dport 546 ct state { new, untracked } accept
		tcp dport { 80, 443 } ct state { new, untracked } accept
		ip saddr @trusted_src tcp dport 3306 ct state { new, untracked } accept
		udp dport 5000-5010 ct state { new, untracked } accept
	}
	chain filter_IN_public_post {
	}
	chain filter_IN_internal {
		udp dport 53 accept
		tcp dport 22 accept
	}
	chain filter_FORWARD_ZONES {
		iifname "docker0" goto filter_FWD_internal
		goto filter_FWD_public
	}
	chain filter_FWD_public {
	}
	chain filter_FWD_internal {
		accept
	}
}
`

var firewalldRuleset = ruleset{
	name:    "firewalld nft",
	ports:   commonPorts,
	v6:      true,
	forward: true,
	load: func(t *testing.T, tp *topo) {
		nftLoad(t, tp.host, firewalldNft)
	},
}

const legacyRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 3306 -j DROP
-A INPUT -p udp -m multiport --dports 5000:5002,9000 -j REJECT
-A OUTPUT -p udp -m udp --dport 123 -j DROP
COMMIT
`

const legacyNftRules = `table inet native {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport { 8080, 8443 } drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
		tcp dport 587 drop
		udp dport 53 accept
	}
}
`

var legacyAndNft = ruleset{
	name:  "legacy and nft at once",
	ports: commonPorts,
	v6:    true,
	load: func(t *testing.T, tp *topo) {
		restore(t, tp.host, "iptables-legacy-restore", legacyRules)
		restore(t, tp.host, "iptables-nft-restore", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -m tcp --dport 993 -j REJECT\nCOMMIT\n")
		nftLoad(t, tp.host, legacyNftRules)
	},
}

// kubeRuleset builds kube-proxy-shaped iptables rules: services with
// endpoints picked at random (statistic), services without endpoints,
// node ports, masquerade marks. Pod addresses live in the container namespace.
func kubeRuleset() ruleset {
	const services = 160
	var nat, filter strings.Builder
	var pods []netip.Addr
	for i := 0; i < 40; i++ {
		pods = append(pods, netip.AddrFrom4([4]byte{10, 244, 0, byte(10 + i)}))
	}
	svcPorts := []uint16{80, 443, 8080, 9000, 53}
	var targets []target
	nat.WriteString("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n")
	var chains, rules strings.Builder
	rules.WriteString(`-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
`)
	var filterSvc strings.Builder
	for i := 0; i < services; i++ {
		ip := netip.AddrFrom4([4]byte{10, 96, byte(i / 200), byte(1 + i%200)})
		port := svcPorts[i%len(svcPorts)]
		proto := "tcp"
		if port == 53 {
			proto = "udp"
		}
		name := fmt.Sprintf("default/svc-%d:p", i)
		svc := fmt.Sprintf("KUBE-SVC-%016X", i)
		if i%10 == 9 {
			// no endpoints: rejected in the filter table
			fmt.Fprintf(&filterSvc, "-A KUBE-SERVICES -d %s/32 -p %s -m comment --comment \"%s has no endpoints\" -m %s --dport %d -j REJECT --reject-with icmp-port-unreachable\n", ip, proto, name, proto, port)
			targets = append(targets, target{dir: netfilter.Forward, proto: proto, dst: ip, port: port}, target{dir: netfilter.Outbound, proto: proto, dst: ip, port: port})
			continue
		}
		targets = append(targets, target{dir: netfilter.Forward, proto: proto, dst: ip, port: port}, target{dir: netfilter.Outbound, proto: proto, dst: ip, port: port})
		fmt.Fprintf(&chains, ":%s - [0:0]\n", svc)
		fmt.Fprintf(&rules, "-A KUBE-SERVICES -d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %d -j %s\n", ip, proto, name, proto, port, svc)
		fmt.Fprintf(&rules, "-A %s ! -s 10.244.0.0/16 -d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %d -j KUBE-MARK-MASQ\n", svc, ip, proto, name, proto, port)
		n := 1 + i%3
		// Every fourth service pins a client to its endpoint
		// (sessionAffinity: ClientIP): kube-proxy checks a recent list per
		// endpoint before picking one at random, and the endpoint's DNAT
		// rule records the client.
		affinity := i%4 == 1
		if affinity {
			for e := 0; e < n; e++ {
				sep := fmt.Sprintf("KUBE-SEP-%012X%04X", i, e)
				fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s\" -m recent --rcheck --seconds 10800 --reap --name %s --mask 255.255.255.255 --rsource -j %s\n", svc, name, sep, sep)
			}
		}
		for e := 0; e < n; e++ {
			pod := pods[(i*3+e)%len(pods)]
			sep := fmt.Sprintf("KUBE-SEP-%012X%04X", i, e)
			fmt.Fprintf(&chains, ":%s - [0:0]\n", sep)
			target := svcPorts[(i+e)%4] // endpoints listen on tcp ports of the pool
			if proto == "udp" {
				target = 53
			}
			if e < n-1 {
				fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s:%d\" -m statistic --mode random --probability %.11f -j %s\n", svc, name, pod, target, 1/float64(n-e), sep)
			} else {
				fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s:%d\" -j %s\n", svc, name, pod, target, sep)
			}
			fmt.Fprintf(&rules, "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", sep, pod, name)
			record := ""
			if affinity {
				record = fmt.Sprintf(" -m recent --set --name %s --mask 255.255.255.255 --rsource", sep)
			}
			fmt.Fprintf(&rules, "-A %s -p %s -m comment --comment \"%s\"%s -m %s -j DNAT --to-destination %s:%d\n", sep, proto, name, record, proto, pod, target)
		}
		if i == 0 {
			fmt.Fprintf(&rules, "-A KUBE-NODEPORTS -p tcp -m comment --comment \"%s\" -m tcp --dport 31000 -j %s\n", name, svc)
		}
	}
	rules.WriteString("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n")
	nat.WriteString(chains.String())
	nat.WriteString(rules.String())
	nat.WriteString("COMMIT\n")
	filter.WriteString(`*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A INPUT -p tcp -m tcp --dport 3306 -j DROP
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
`)
	filter.WriteString(filterSvc.String())
	filter.WriteString("COMMIT\n")
	text := nat.String() + filter.String()
	return ruleset{
		name:         "kube-proxy iptables",
		ports:        commonPorts,
		pods:         pods,
		extraTargets: targets,
		load: func(t *testing.T, tp *topo) {
			restore(t, tp.host, "iptables-nft-restore", text)
			if n := strings.Count(text, "\n-A "); n < 1000 {
				t.Fatalf("kube-proxy ruleset has %d rules, want 1000+", n)
			}
		},
	}
}

// dockerNft is the shape of Docker's nftables backend (Engine 28+): per-bridge
// chains reached through interface-keyed verdict maps. It stays hand-written:
// the engine the tests run (Debian's docker.io, 20.10) has no nftables
// backend. Docker's iptables rules are the real engine's, in
// TestDifferentialDockerUFW.
const dockerNft = `table ip docker-bridges {
	map filter-forward-in-jumps {
		type ifname : verdict
		elements = { "docker0" : jump filter-forward-in__docker0 }
	}
	map filter-forward-out-jumps {
		type ifname : verdict
		elements = { "docker0" : jump filter-forward-out__docker0 }
	}
	map nat-postrouting-out-jumps {
		type ifname : verdict
		elements = { "docker0" : jump nat-postrouting-out__docker0 }
	}
	chain filter-FORWARD {
		type filter hook forward priority filter; policy accept;
		oifname vmap @filter-forward-in-jumps
		iifname vmap @filter-forward-out-jumps
	}
	chain nat-OUTPUT {
		type nat hook output priority -100; policy accept;
		ip daddr != 127.0.0.0/8 fib daddr type local counter jump nat-prerouting-and-output
	}
	chain nat-POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		iifname vmap @nat-postrouting-out-jumps
	}
	chain nat-PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local counter jump nat-prerouting-and-output
	}
	chain nat-prerouting-and-output {
		iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.2:80 comment "DNAT"
		iifname != "docker0" udp dport 5353 counter dnat to 172.17.0.2:53 comment "DNAT"
	}
	chain raw-PREROUTING {
		type filter hook prerouting priority raw; policy accept;
		ip daddr 172.17.0.2 iifname != "docker0" tcp dport != 443 counter drop comment "DROP DIRECT ACCESS"
	}
	chain filter-forward-in__docker0 {
		ct state established,related counter accept
		ip daddr 172.17.0.2 tcp dport 80 counter accept
		ip daddr 172.17.0.2 udp dport 53 counter accept
		ip daddr 172.17.0.2 tcp dport 443 counter accept
		counter drop comment "default drop"
	}
	chain filter-forward-out__docker0 {
		ct state established,related counter accept
		counter accept comment "OUTGOING"
	}
	chain nat-postrouting-out__docker0 {
		oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade comment "MASQUERADE"
	}
}
`

var dockerNftRuleset = ruleset{
	name:    "docker nftables",
	ports:   append([]uint16{5353}, commonPorts...),
	forward: true,
	load: func(t *testing.T, tp *topo) {
		nftLoad(t, tp.host, dockerNft)
	},
}
